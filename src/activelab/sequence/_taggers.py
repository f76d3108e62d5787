"""Taggers: the model adapters of sequence labelling, and the contract they fulfil.

A *tagger* maps a sentence (a list of tokens) to one tag per token. Strategies read
from it and never fit it; the loop (:func:`activelab.sequence.simulate`) fits it once
per round. Any model — a CRF, a BiLSTM-CRF, a fine-tuned token encoder — plugs in by
subclassing :class:`Tagger` and providing the capabilities it can, listed in
:attr:`Tagger.capabilities`:

=====================  ===============================================================
capability             method and what it returns
=====================  ===============================================================
``marginals``          ``marginals(X)`` → Ragged ``(n_tokens, L)``: per-token label
                       probabilities :math:`P(y_t = j \\mid x)`, rows summing to 1
``viterbi``            ``viterbi(X)`` → ``(paths, log_proba)``: the most likely tag path
                       (Ragged ``(n_tokens,)`` of label indices) and its log-probability
                       ``(n_sentences,)``
``nbest``              ``nbest(X, n)`` → ``(paths, log_proba)``: the ``n`` most likely
                       paths, Ragged ``(n_tokens, n)``, and their log-probabilities
                       ``(n_sentences, n)``, non-increasing, ``-inf`` where a sentence
                       has fewer paths
``sequence_entropy``   ``sequence_entropy(X)`` → ``(n_sentences,)``: the exact entropy of
                       the distribution over whole paths (optional)
``sample_paths``       ``sample_paths(X)`` → Ragged ``(n_tokens, m)``: ``m`` tag paths
                       drawn from the posterior over models (committee members' or MC
                       dropout passes' Viterbi paths)
``sample_marginals``   ``sample_marginals(X)`` → Ragged ``(n_tokens, m, L)``: the same
                       ``m`` models' per-token marginals
``embed``              ``embed(X)`` → ``(n_sentences, d)``: sentence embeddings for
                       density and diversity
``complete``           ``complete(X, partial)`` → tags: fills the unlabelled (None)
                       tokens of partly labelled sentences with the model's best tags
                       given the labelled ones (constrained Viterbi for a CRF)
``partial_labels``     ``fit`` accepts None for unlabelled tokens and marginalises them
                       (:func:`activelab.sequence.partial_label_nll` for a CRF head);
                       taggers without it get model-filled sentences from the loop
=====================  ===============================================================

Every tagger also has ``fit(X, y)`` (``X``: list of token lists, ``y``: list of tag
lists), ``predict(X)`` (tag lists) and ``labels_`` (the tag set, index order of every
array above). Label indices, not strings, travel between tagger and strategy, so a pool
of 100,000 sentences is a few numpy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._extras import require
from activelab._validation import RandomStateLike, check_random_state
from activelab.models import ModelAdapter
from activelab.sequence import _crf
from activelab.sequence._features import WordFeatures
from activelab.sequence._ragged import Ragged
from activelab.sequence._schemes import as_tag_lists, decode_labels, encode_labels

__all__ = ["CAPABILITIES", "CRFTagger", "Tagger", "TaggerCommittee", "check_sentences"]

#: What each tagger capability is, and which tagger provides it (for TypeErrors).
CAPABILITIES: dict[str, str] = {
    "marginals": "al.sequence.CRFTagger (per-token marginals by forward-backward)",
    "viterbi": "al.sequence.CRFTagger (the Viterbi path and its probability)",
    "nbest": "al.sequence.CRFTagger (exact N-best paths by list Viterbi)",
    "sequence_entropy": "al.sequence.CRFTagger (exact entropy over paths)",
    "sample_paths": (
        "a committee of taggers: al.sequence.TaggerCommittee(al.sequence.CRFTagger(), "
        "n_members=5) (bootstrap-trained CRFs), or a torch tagger with MC dropout: "
        "al.sequence.BiLSTMCRFTagger() or al.sequence.MiniLMTagger()"
    ),
    "sample_marginals": (
        "a committee of taggers: al.sequence.TaggerCommittee(al.sequence.CRFTagger(), "
        "n_members=5), or al.sequence.BiLSTMCRFTagger() / al.sequence.MiniLMTagger()"
    ),
    "embed": "al.sequence.CRFTagger (hashed token-feature sentence embeddings)",
    "complete": "al.sequence.CRFTagger (constrained Viterbi)",
}


def check_sentences(X: Any, who: str = "tagger") -> list[list[str]]:
    """``X`` as a list of sentences, each a list of token strings, or a clear error.

    Parameters
    ----------
    X : sequence of sequences of str
    who : str
        The caller, for messages.

    Returns
    -------
    list of list of str
    """
    if isinstance(X, str) or not isinstance(X, Sequence | np.ndarray):
        raise TypeError(
            f"{who} takes a list of sentences, each a list of tokens; got {type(X).__name__}."
        )
    if len(X) and isinstance(X[0], str):
        raise TypeError(
            f"{who} takes a list of sentences, each a list of tokens; got a flat list of "
            "strings — wrap one sentence in a list: [tokens]."
        )
    out = []
    for i, sentence in enumerate(X):
        if type(sentence) is list and all(type(token) is str for token in sentence):
            out.append(sentence)  # already right: no copy
            continue
        if isinstance(sentence, str) or not isinstance(sentence, Sequence | np.ndarray):
            raise TypeError(
                f"{who}: sentence {i} must be a list of token strings; got "
                f"{type(sentence).__name__} (split texts into tokens first)."
            )
        out.append([str(token) for token in sentence])
    return out


class Tagger(ModelAdapter):
    """Base of taggers: a model that labels every token of a sentence.

    Subclasses implement :meth:`fit` and the capability methods they support, and list
    them in :attr:`capabilities` (see the module docstring for the contract). Strategies
    call :meth:`require` before reading, so a missing capability is a TypeError that
    names the tagger that provides it.
    """

    #: Sequence-labelling capabilities this tagger provides (override per subclass).
    _capabilities: frozenset[str] = frozenset()

    @property
    def capabilities(self) -> frozenset[str]:
        """The outputs this tagger can give (``"marginals"``, ``"viterbi"``, …)."""
        return self._capabilities

    def require(self, capability: str, who: str) -> None:
        """Raise a TypeError naming ``capability`` and its provider if this tagger lacks it.

        Parameters
        ----------
        capability : str
        who : str
        """
        if capability in self.capabilities:
            return
        raise TypeError(
            f"{who} needs {capability!r}, which {self.describe()} does not provide. It "
            f"comes from {CAPABILITIES.get(capability, 'a tagger that has it')}."
        )

    @property
    def classes_(self) -> list[str]:
        """Alias of ``labels_``."""
        return self.labels_

    def predict(self, X: Any) -> list[list[str]]:
        """The Viterbi tags of each sentence.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        list of list of str
        """
        paths, _ = self.viterbi(X)
        return decode_labels(paths, self.labels_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Taggers give per-token marginals, not one row per input: use :meth:`marginals`."""
        raise TypeError(
            f"{self.describe()} is a tagger: it has no predict_proba (one row per item). Use "
            "the sequence strategies (al.sequence.strategies) or tagger.marginals(X)."
        )

    def marginals(self, X: Any) -> Ragged:  # pragma: no cover - abstract
        """Per-token label probabilities, Ragged ``(n_tokens, L)``."""
        self.require("marginals", "marginals")
        raise NotImplementedError

    def viterbi(self, X: Any) -> tuple[Ragged, np.ndarray]:  # pragma: no cover - abstract
        """The most likely path of each sentence and its log-probability."""
        self.require("viterbi", "viterbi")
        raise NotImplementedError

    def nbest(self, X: Any, n: int) -> tuple[Ragged, np.ndarray]:  # pragma: no cover
        """The ``n`` most likely paths and their log-probabilities."""
        self.require("nbest", "nbest")
        raise NotImplementedError

    def sequence_entropy(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Exact entropy over whole paths, per sentence."""
        self.require("sequence_entropy", "sequence_entropy")
        raise NotImplementedError

    def sample_paths(self, X: Any) -> Ragged:  # pragma: no cover - abstract
        """Posterior samples of tag paths, Ragged ``(n_tokens, m)``."""
        self.require("sample_paths", "sample_paths")
        raise NotImplementedError

    def sample_marginals(self, X: Any) -> Ragged:  # pragma: no cover - abstract
        """Posterior samples of per-token marginals, Ragged ``(n_tokens, m, L)``."""
        self.require("sample_marginals", "sample_marginals")
        raise NotImplementedError

    def complete(self, X: Any, partial: Any) -> list[list[str]]:  # pragma: no cover
        """Fill the unlabelled (None) tokens of partly labelled sentences."""
        self.require("complete", "complete")
        raise NotImplementedError

    def embed(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Sentence embeddings ``(n_sentences, d)``."""
        self.require("embed", "embed")
        raise NotImplementedError


def _partial_indices(
    partial: Any, labels: Sequence[str], X: list[list[str]], unknown: str = "error"
) -> Ragged:
    """Partly labelled tags (None for unlabelled) as label indices with -1.

    ``unknown="free"`` maps a tag the model has never seen to -1 (no constraint) instead
    of raising.
    """
    index = {label: i for i, label in enumerate(labels)}
    if len(partial) != len(X):
        raise ValueError(f"{len(partial)} tag lists for {len(X)} sentences.")
    blocks = []
    for i, (words, tags) in enumerate(zip(X, partial, strict=True)):
        if len(words) != len(tags):
            raise ValueError(f"sentence {i} has {len(words)} tokens but {len(tags)} tags.")
        codes = [-1 if t is None else index.get(t, -2) for t in tags]
        if unknown == "error" and -2 in codes:
            tag = tags[codes.index(-2)]
            raise ValueError(
                f"tag {tag!r} of sentence {i} is not among the model's labels {list(labels)}."
            )
        blocks.append(np.maximum(np.array(codes, dtype=np.int64), -1))
    return Ragged.from_list(blocks)


class _LinearChainTagger(Tagger):
    """The linear-chain methods every CRF-headed tagger shares, read from its scores.

    A subclass provides ``emissions(X)`` (Ragged ``(n_tokens, L)`` of per-token label
    scores), ``transitions_`` (``(L, L)`` label-to-label scores; zeros for a softmax
    head), ``labels_`` and ``_fitted_attribute`` (set by ``fit``); from them, this base
    computes marginals, path probabilities, N-best paths, exact entropy, constrained
    decoding and the partial-label loss with :mod:`activelab.sequence._crf`. A subclass
    may override any method with a faster route to the same numbers (the torch taggers
    run ``marginals`` and ``viterbi`` on their device).

    References
    ----------
    Lafferty, McCallum & Pereira (2001), "Conditional random fields", ICML. Tsuboi,
    Kashima, Mori, Oda & Matsumoto (2008), "Training conditional random fields using
    incomplete annotations", COLING (the partial-label loss).
    """

    #: Attribute that exists once the tagger is fitted.
    _fitted_attribute = "transitions_"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first.")

    def emissions(self, X: Any) -> Ragged:  # pragma: no cover - abstract
        """Emission scores of every token, Ragged ``(n_tokens, L)``."""
        raise NotImplementedError

    def marginals(self, X: Any) -> Ragged:
        """Per-token marginals by forward-backward, Ragged ``(n_tokens, L)``.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged
        """
        _, marginals, _ = _crf.forward_backward(self.emissions(X), self.transitions_)
        return marginals

    def log_partition(self, X: Any) -> np.ndarray:
        """:math:`\\log Z(x)` of each sentence.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        numpy.ndarray of shape (n_sentences,)
        """
        log_z, _, _ = _crf.forward_backward(self.emissions(X), self.transitions_)
        return log_z

    def viterbi(self, X: Any) -> tuple[Ragged, np.ndarray]:
        """The most likely path of each sentence and its log-probability.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        paths : Ragged of int64
        log_proba : numpy.ndarray of shape (n_sentences,)
        """
        emissions = self.emissions(X)
        log_z, _, _ = _crf.forward_backward(emissions, self.transitions_)
        paths, scores = _crf.viterbi(emissions, self.transitions_)
        return paths, np.minimum(scores - log_z, 0.0)

    def _viterbi_paths(self, X: Any) -> Ragged:
        """The Viterbi paths alone (no partition function)."""
        paths, _ = _crf.viterbi(self.emissions(X), self.transitions_)
        return paths

    def nbest(self, X: Any, n: int = 5) -> tuple[Ragged, np.ndarray]:
        """The ``n`` most likely paths of each sentence and their log-probabilities.

        Exact list Viterbi over the emissions and transitions.

        Parameters
        ----------
        X : list of list of str
        n : int

        Returns
        -------
        paths : Ragged of int64, shape (n_tokens, n)
        log_proba : numpy.ndarray of shape (n_sentences, n)
        """
        emissions, transitions = self.emissions(X), self.transitions_
        log_z, _, _ = _crf.forward_backward(emissions, transitions)
        paths, scores = _crf.nbest(emissions, transitions, n)
        return paths, np.minimum(scores - log_z[:, None], 0.0)

    def sequence_entropy(self, X: Any) -> np.ndarray:
        """Exact entropy of each sentence's distribution over tag paths (nats).

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        numpy.ndarray of shape (n_sentences,)
        """
        return _crf.entropy(self.emissions(X), self.transitions_)

    def log_proba(self, X: Any, y: Any) -> np.ndarray:
        """:math:`\\log P(y \\mid x)` of given tags.

        Parameters
        ----------
        X : list of list of str
        y : list of list of str

        Returns
        -------
        numpy.ndarray of shape (n_sentences,)
        """
        self._check_fitted()
        paths = encode_labels(as_tag_lists(y), self.labels_)
        return _crf.log_likelihood(self.emissions(X), self.transitions_, paths)

    def complete(self, X: Any, partial: Any) -> list[list[str]]:
        """Fill unlabelled tokens (None) with the best tags given the labelled ones.

        The constrained Viterbi path: the most likely tags among the paths that agree
        with every given tag. A given tag the model has never seen (a new entity type)
        is kept but cannot constrain its neighbours.

        Parameters
        ----------
        X : list of list of str
        partial : list of list of (str or None)

        Returns
        -------
        list of list of str
        """
        sentences = check_sentences(X, f"{type(self).__name__}.complete")
        self._check_fitted()
        tags = _partial_indices(partial, self.labels_, sentences, unknown="free")
        paths = _crf.constrained_viterbi(self.emissions(sentences), self.transitions_, tags)
        filled = decode_labels(paths, self.labels_)
        # A given tag the model has never seen cannot constrain its decoding; keep it.
        return [
            [
                given if given is not None else guess
                for given, guess in zip(row, guesses, strict=True)
            ]
            for row, guesses in zip(partial, filled, strict=True)
        ]

    def partial_nll(self, X: Any, partial: Any) -> np.ndarray:
        """The partial-label loss of partly labelled sentences under this model's scores.

        :math:`-\\log \\sum_{y \\text{ agreeing with the given tags}} P(y \\mid x)`
        (for a torch tagger: its training loss, first network, no dropout).

        Parameters
        ----------
        X : list of list of str
        partial : list of list of (str or None)

        Returns
        -------
        numpy.ndarray of shape (n_sentences,)
        """
        sentences = check_sentences(X, f"{type(self).__name__}.partial_nll")
        self._check_fitted()
        tags = _partial_indices(partial, self.labels_, sentences)
        return _crf.partial_label_nll(self.emissions(sentences), self.transitions_, tags)


class CRFTagger(_LinearChainTagger):
    """A linear-chain CRF trained by crfsuite (``sklearn-crfsuite``), read exactly in numpy.

    Training runs in crfsuite (L-BFGS with elastic-net penalty); after it, the state and
    transition weights are read out of the model and every output — marginals, Viterbi,
    N-best, path probabilities, exact entropy, constrained decoding — is computed from
    them by :mod:`activelab.sequence._crf`, vectorised over the whole pool. The marginals
    equal crfsuite's own, and the path probabilities its ``probability``; the tests
    check both.

    Features (see :mod:`activelab.sequence._features` for the full table): a bias; the
    word, its lower-case form, prefixes and suffixes of 1..``affixes`` characters, its
    shape (``Xxxx``, ``dd-dd``) and short shape (runs collapsed), case and character
    flags (title, upper, lower, digit, has digit, hyphen, punctuation); and for each
    neighbour within ``window`` tokens its lower-case form, short shape, title and upper
    flags, or a sentence-boundary mark.

    Partly labelled sentences: crfsuite cannot marginalise unlabelled tokens, so this
    tagger does not declare ``partial_labels``. :func:`activelab.sequence.simulate`
    fills the unlabelled tokens with :meth:`complete` (the model's constrained Viterbi
    tags given the labelled ones) before each fit, as Radmard et al. (2021) do;
    :func:`activelab.sequence.partial_label_nll` is the loss a tagger that can
    marginalise would use.

    Parameters
    ----------
    c1, c2 : float
        L1 and L2 penalties.
    max_iterations : int
        L-BFGS iterations.
    window : int
        Context tokens on each side.
    affixes : int
        Longest prefix and suffix.
    all_possible_transitions : bool
        Learn a weight for every label pair (also unseen ones, usually negative).
    embedding_dim : int
        Width of :meth:`embed`'s hashed sentence embeddings.

    Attributes
    ----------
    labels_ : list of str
    transitions_ : numpy.ndarray of shape (L, L)
    state_weights_ : numpy.ndarray of shape (n_attributes, L)
    attributes_ : dict of str to int
        Row of each attribute in ``state_weights_``.
    crf_ : sklearn_crfsuite.CRF
        The trained crfsuite model.

    References
    ----------
    Lafferty, McCallum & Pereira (2001), "Conditional random fields", ICML. Okazaki
    (2007), CRFsuite. Settles & Craven (2008) used a CRF with the same kind of features.

    Examples
    --------
    >>> tagger = CRFTagger(max_iterations=20).fit(
    ...     [["Ada", "wrote"], ["Bob", "ran"]], [["B-PER", "O"], ["B-PER", "O"]])
    >>> tagger.predict([["Eve", "wrote"]])
    [['B-PER', 'O']]
    """

    _capabilities = frozenset(
        {"marginals", "viterbi", "nbest", "sequence_entropy", "embed", "complete"}
    )

    def __init__(
        self,
        c1: float = 0.05,
        c2: float = 0.05,
        max_iterations: int = 100,
        window: int = 2,
        affixes: int = 3,
        all_possible_transitions: bool = True,
        embedding_dim: int = 256,
    ) -> None:
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.window = window
        self.affixes = affixes
        self.all_possible_transitions = all_possible_transitions
        self.embedding_dim = embedding_dim

    def describe(self) -> str:
        """``"CRFTagger"``."""
        return "CRFTagger"

    def _features(self) -> WordFeatures:
        features = getattr(self, "_word_features", None)
        if features is None or (features.window, features.affixes) != (
            int(self.window),
            int(self.affixes),
        ):
            features = WordFeatures(self.window, self.affixes)
            self._word_features = features
        return features

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_word_features", None)  # a cache; rebuilt on demand
        return state

    def fit(self, X: Any, y: Any) -> CRFTagger:
        """Train the CRF on fully labelled sentences.

        Parameters
        ----------
        X : list of list of str
        y : list of list of str
            One tag per token; no None (fill partly labelled sentences with
            :meth:`complete` first).

        Returns
        -------
        self
        """
        crfsuite = require("sklearn_crfsuite", "ner", "CRFTagger")
        sentences = check_sentences(X, "CRFTagger.fit")
        tags = as_tag_lists(y)
        if len(tags) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag lists.")
        if not sentences:
            raise ValueError("CRFTagger.fit needs at least one labelled sentence.")
        for i, (words, labels) in enumerate(zip(sentences, y, strict=True)):
            if len(words) != len(labels):
                raise ValueError(f"sentence {i} has {len(words)} tokens but {len(labels)} tags.")
            if any(t is None for t in labels):
                raise ValueError(
                    f"sentence {i} is partly labelled (None tags); crfsuite cannot "
                    "marginalise unlabelled tokens. Fill them with tagger.complete(X, y) "
                    "first (al.sequence.simulate does)."
                )
        features = self._features()
        crf = crfsuite.CRF(
            algorithm="lbfgs",
            c1=self.c1,
            c2=self.c2,
            max_iterations=self.max_iterations,
            all_possible_transitions=self.all_possible_transitions,
        )
        crf.fit([features.token(words) for words in sentences], tags)
        labels = list(crf.classes_)
        index = {label: j for j, label in enumerate(labels)}
        attributes: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        weights: list[float] = []
        for (attribute, label), weight in crf.state_features_.items():
            rows.append(attributes.setdefault(attribute, len(attributes)))
            cols.append(index[label])
            weights.append(weight)
        state = np.zeros((len(attributes), len(labels)))
        state[rows, cols] = weights
        transitions = np.zeros((len(labels), len(labels)))
        for (source, target), weight in crf.transition_features_.items():
            transitions[index[source], index[target]] = weight
        self.crf_ = crf
        self.labels_ = labels
        self.attributes_ = attributes
        self.state_weights_ = state
        self.transitions_ = transitions
        return self

    def emissions(self, X: Any) -> Ragged:
        """Emission scores of every token, Ragged ``(n_tokens, L)`` (crfsuite's state scores).

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged
        """
        self._check_fitted()
        sentences = check_sentences(X, "CRFTagger")
        return self._features().emissions(sentences, self.attributes_, self.state_weights_)

    def embed(self, X: Any) -> np.ndarray:
        """Sentence embeddings: mean hashed token features, unit length (float32).

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        numpy.ndarray of shape (n_sentences, embedding_dim)
        """
        sentences = check_sentences(X, "CRFTagger.embed")
        return self._features().embeddings(sentences, int(self.embedding_dim))


class TaggerCommittee(Tagger):
    """A tagger plus a committee of copies trained on bootstrap resamples (query by bagging).

    The full-data tagger answers every single-model question (marginals, Viterbi, N-best,
    embeddings, completion); the ``n_members`` copies, each trained on a bootstrap
    resample of the labelled sentences, give the posterior samples that vote entropy, KL
    divergence and BALD need (``sample_paths``: each member's Viterbi path;
    ``sample_marginals``: each member's marginals).

    Parameters
    ----------
    tagger : Tagger
        The unfitted model; cloned for every member.
    n_members : int
        Committee size.
    bootstrap : bool
        Resample sentences with replacement; False trains every member on a random half.
    random_state : int, Generator or None
        Seeds the resampling.

    Attributes
    ----------
    main_ : Tagger
        Trained on all labelled sentences.
    members_ : list of Tagger
    labels_ : list of str

    References
    ----------
    Abe & Mamitsuka (1998), "Query learning strategies using boosting and bagging",
    ICML. Settles & Craven (2008), "An analysis of active learning strategies for
    sequence labeling tasks", EMNLP (query by committee for CRFs).

    Examples
    --------
    >>> committee = TaggerCommittee(CRFTagger(max_iterations=10), n_members=2)
    >>> committee = committee.fit([["Ada", "wrote"], ["Bob", "ran"]],
    ...                           [["B-PER", "O"], ["B-PER", "O"]])
    >>> committee.sample_paths([["Eve", "ran"]]).values.shape
    (2, 2)
    """

    def __init__(
        self,
        tagger: Tagger | None = None,
        n_members: int = 5,
        bootstrap: bool = True,
        random_state: RandomStateLike = 0,
    ) -> None:
        self.tagger = tagger
        self.n_members = n_members
        self.bootstrap = bootstrap
        self.random_state = random_state

    @property
    def capabilities(self) -> frozenset[str]:
        """The tagger's capabilities plus ``sample_paths`` and ``sample_marginals``."""
        base = self.tagger if self.tagger is not None else CRFTagger()
        found = set(base.capabilities) | {"sample_paths"}
        if "marginals" in base.capabilities:
            found.add("sample_marginals")
        return frozenset(found)

    def describe(self) -> str:
        """``"TaggerCommittee(<tagger>×m)"``."""
        base = self.tagger if self.tagger is not None else CRFTagger()
        return f"TaggerCommittee({base.describe()}×{self.n_members})"

    def fit(self, X: Any, y: Any) -> TaggerCommittee:
        """Train the full-data tagger and every member on its resample.

        Parameters
        ----------
        X : list of list of str
        y : list of list of str

        Returns
        -------
        self
        """
        if (
            isinstance(self.n_members, bool)
            or not isinstance(self.n_members, int)
            or (self.n_members < 2)
        ):
            raise ValueError(f"n_members must be an int of at least 2; got {self.n_members!r}.")
        sentences = check_sentences(X, "TaggerCommittee.fit")
        tags = list(y)
        base = self.tagger if self.tagger is not None else CRFTagger()
        rng = check_random_state(self.random_state)
        self.main_ = clone(base).fit(sentences, tags)
        n = len(sentences)
        members = []
        for _ in range(self.n_members):
            if self.bootstrap:
                rows = rng.integers(0, n, size=n)
            else:
                rows = rng.choice(n, size=max(1, n // 2), replace=False)
            members.append(clone(base).fit([sentences[i] for i in rows], [tags[i] for i in rows]))
        self.members_ = members
        self.labels_ = list(self.main_.labels_)
        return self

    def _column_map(self, member: Tagger) -> np.ndarray:
        index = {label: j for j, label in enumerate(self.labels_)}
        return np.array([index[label] for label in member.labels_], dtype=np.int64)

    def marginals(self, X: Any) -> Ragged:
        """The full-data tagger's marginals."""
        return self.main_.marginals(X)

    def viterbi(self, X: Any) -> tuple[Ragged, np.ndarray]:
        """The full-data tagger's Viterbi paths and log-probabilities."""
        return self.main_.viterbi(X)

    def nbest(self, X: Any, n: int = 5) -> tuple[Ragged, np.ndarray]:
        """The full-data tagger's N-best paths and log-probabilities."""
        return self.main_.nbest(X, n)

    def sequence_entropy(self, X: Any) -> np.ndarray:
        """The full-data tagger's exact path entropy."""
        return self.main_.sequence_entropy(X)

    def complete(self, X: Any, partial: Any) -> list[list[str]]:
        """The full-data tagger's completion of partly labelled sentences."""
        return self.main_.complete(X, partial)

    def embed(self, X: Any) -> np.ndarray:
        """The full-data tagger's sentence embeddings."""
        return self.main_.embed(X)

    def sample_paths(self, X: Any) -> Ragged:
        """Each member's Viterbi path, Ragged ``(n_tokens, m)`` of label indices.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged of int64
        """
        sentences = check_sentences(X, "TaggerCommittee")
        columns = []
        offsets = None
        for member in self.members_:
            paths_only = getattr(member, "_viterbi_paths", None)  # skips log Z when it can
            paths = paths_only(sentences) if paths_only else member.viterbi(sentences)[0]
            columns.append(self._column_map(member)[paths.values])
            offsets = paths.offsets
        return Ragged(np.stack(columns, axis=1), offsets)

    def sample_marginals(self, X: Any) -> Ragged:
        """Each member's marginals, Ragged ``(n_tokens, m, L)`` in ``labels_`` order.

        A member whose resample lacked a label gives it probability 0.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        Ragged of float64
        """
        sentences = check_sentences(X, "TaggerCommittee")
        n_labels = len(self.labels_)
        out = None
        offsets = None
        for m, member in enumerate(self.members_):
            marginals = member.marginals(sentences)
            if out is None:
                out = np.zeros((marginals.values.shape[0], len(self.members_), n_labels))
                offsets = marginals.offsets
            out[:, m, self._column_map(member)] = marginals.values
        return Ragged(out, offsets)
