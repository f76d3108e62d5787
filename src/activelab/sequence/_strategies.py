"""Query strategies for taggers (``Strategy.task == "sequence"``).

Each strategy scores whole sentences (:meth:`TaggerStrategy.utilities`) for sentence
queries, and single tokens (:meth:`TaggerStrategy.token_utilities`) for sub-sequence and
token queries (:func:`activelab.sequence.select_spans`). The pool ``X_pool`` is a list
of sentences, each a list of tokens; the model is a fitted
:class:`~activelab.sequence.Tagger`. Every strategy is a
:class:`~activelab.strategies.ScoreStrategy`, so it takes the same ``sampling`` modes and
breaks ties at random under ``random_state``.

=============================  ================================  ==========================
registry name                  sentence utility                  token utility
=============================  ================================  ==========================
``seq_least_confidence``       1 − P(Viterbi path)               1 − max marginal
``seq_margin``                 1 − (P(1st) − P(2nd)), N-best     1 − (p₁ − p₂), marginals
``seq_entropy``                entropy over N-best (or exact)    marginal entropy
``seq_token_entropy``          marginal entropy, total/mean/max  marginal entropy
``seq_mnlp``                   −log P(Viterbi path) / length     −log max marginal
``seq_vote_entropy``           mean token vote entropy           token vote entropy
``seq_kl``                     mean token KL to consensus        token KL
``seq_bald``                   1 − modal-path share (or MI)      token disagreement (or MI)
``seq_information_density``    base × density^β                  base's
``seq_diverse``                base, then a diverse batch        base's
=============================  ================================  ==========================
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._validation import check_int, check_number
from activelab.sequence import _scores
from activelab.sequence._ragged import Ragged
from activelab.sequence._taggers import CAPABILITIES, Tagger, check_sentences
from activelab.strategies._base import ScoreStrategy
from activelab.strategies._batch import Diverse, density

__all__ = [
    "MNLP",
    "SEQUENCE_STRATEGIES",
    "InformationDensityTagger",
    "KLTagger",
    "LeastConfidenceTagger",
    "NBestMargin",
    "SequenceBALD",
    "SequenceDiverse",
    "SequenceEntropy",
    "TaggerStrategy",
    "TokenEntropy",
    "VoteEntropyTagger",
    "get_sequence_strategy",
]


class _ParameterNeeds:
    """``needs`` that depend on a strategy's parameters.

    Read on the class (the registry's ``describe``), it gives the needs of the default
    parameters; read on an instance, those of its own parameters.
    """

    def __init__(self, default: tuple[str, ...], compute: Any) -> None:
        self.default = default
        self.compute = compute

    def __get__(self, instance: Any, owner: type) -> tuple[str, ...]:
        return self.default if instance is None else tuple(self.compute(instance))


class TaggerStrategy(ScoreStrategy):
    """Base of the tagger strategies: sentence utilities and token utilities.

    Subclasses set ``needs`` to tagger capabilities and implement ``_utilities`` and
    ``_token_utilities``.
    """

    task: ClassVar[str] = "sequence"

    def _adapter(self, model: Any) -> Tagger:  # type: ignore[override]
        if model is None:
            raise TypeError(
                f"{self.name} needs a fitted tagger ({', '.join(self.needs)}); got model=None."
            )
        if not isinstance(model, Tagger):
            first = self.needs[0] if self.needs else "marginals"
            raise TypeError(
                f"{self.name} needs {first!r} from a tagger (a model of sentences that "
                f"labels every token); got {type(model).__name__}, which is not one. "
                f"It comes from {CAPABILITIES.get(first, 'al.sequence.CRFTagger')}."
            )
        for capability in self.needs:
            model.require(capability, self.name)
        return model

    def utilities(self, model: Any, X_pool: Any) -> np.ndarray:
        """Utility of each sentence, higher is more informative.

        Parameters
        ----------
        model : Tagger
            Fitted.
        X_pool : list of list of str

        Returns
        -------
        numpy.ndarray of shape (n_sentences,)
        """
        return self._utilities(self._adapter(model), check_sentences(X_pool, self.name))

    def token_utilities(self, model: Any, X_pool: Any) -> Ragged:
        """Utility of each token, for sub-sequence and token queries.

        Parameters
        ----------
        model : Tagger
            Fitted.
        X_pool : list of list of str

        Returns
        -------
        Ragged of shape (n_tokens,)
        """
        return self._token_utilities(self._adapter(model), check_sentences(X_pool, self.name))

    def _token_utilities(self, model: Tagger, X_pool: list[list[str]]) -> Ragged:
        raise NotImplementedError  # pragma: no cover - abstract

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return super()._select(model, check_sentences(X_pool, self.name), k, None, None, rng)


def _lengths(X: list[list[str]]) -> np.ndarray:
    return np.fromiter(map(len, X), dtype=np.int64, count=len(X))


def _check_aggregate(value: str, who: str) -> str:
    if value not in _scores.AGGREGATES:
        raise ValueError(f"{who}: aggregate must be one of {_scores.AGGREGATES}; got {value!r}.")
    return value


class LeastConfidenceTagger(TaggerStrategy):
    """Least confidence of the Viterbi path, :math:`1 - P(y^* \\mid x)`.

    Tokens: :math:`1 - \\max_j P(y_t = j)`. Prefers long sentences (their best path is
    less probable); count the cost in tokens, or use :class:`MNLP`.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Culotta & McCallum (2005), "Reducing labeling effort for structured prediction
    tasks", AAAI. Settles & Craven (2008), EMNLP.
    """

    name: ClassVar[str] = "seq_least_confidence"
    needs: ClassVar[tuple[str, ...]] = ("viterbi", "marginals")
    summary: ClassVar[str] = "1 − P(Viterbi path) of a tagger"
    reference: ClassVar[str] = "Culotta & McCallum 2005; Settles & Craven 2008"

    def _utilities(self, model, X_pool):
        _, log_proba = model.viterbi(X_pool)
        return _scores.viterbi_least_confidence(log_proba)

    def _token_utilities(self, model, X_pool):
        return _scores.token_uncertainty(model.marginals(X_pool), "least_confidence")


class NBestMargin(TaggerStrategy):
    """Margin between the two most likely paths, :math:`1 - (P(y_1) - P(y_2))`.

    Tokens: the margin of the two most probable labels of each token's marginal.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Scheffer, Decomain & Wrobel (2001), "Active hidden Markov models for information
    extraction", IDA. Settles & Craven (2008), EMNLP.
    """

    name: ClassVar[str] = "seq_margin"
    needs: ClassVar[tuple[str, ...]] = ("nbest", "marginals")
    summary: ClassVar[str] = "1 − (P(best path) − P(second path)) of a tagger"
    reference: ClassVar[str] = "Scheffer et al. 2001; Settles & Craven 2008"

    def _utilities(self, model, X_pool):
        _, log_proba = model.nbest(X_pool, 2)
        return _scores.nbest_margin(log_proba)

    def _token_utilities(self, model, X_pool):
        return _scores.token_uncertainty(model.marginals(X_pool), "margin")


class SequenceEntropy(TaggerStrategy):
    """Entropy of the tagger's distribution over whole paths.

    ``method="nbest"``: over the ``n_best`` most likely paths, renormalised when
    ``normalize`` (Settles & Craven's N-best sequence entropy); ``method="exact"``: the
    exact entropy by forward-backward (needs ``sequence_entropy``). Tokens: the entropy
    of each token's marginal.

    Parameters
    ----------
    n_best : int
        Paths in the N-best list.
    normalize : bool
        Renormalise the probabilities over the N-best list.
    method : {"nbest", "exact"}
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Settles & Craven (2008), EMNLP. Kim et al. (2006), HLT-NAACL. Mann & McCallum (2007),
    NAACL (exact CRF entropy).
    """

    name: ClassVar[str] = "seq_entropy"
    summary: ClassVar[str] = "entropy over a tagger's N-best paths (or exact)"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def __init__(
        self,
        n_best: int = 5,
        normalize: bool = True,
        method: str = "nbest",
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.n_best = n_best
        self.normalize = normalize
        self.method = method
        self.sampling = sampling
        self.temperature = temperature

    needs = _ParameterNeeds(
        ("nbest", "marginals"),
        lambda self: ("sequence_entropy" if self.method == "exact" else "nbest", "marginals"),
    )

    def _utilities(self, model, X_pool):
        if self.method == "exact":
            return np.asarray(model.sequence_entropy(X_pool), dtype=np.float64)
        if self.method != "nbest":
            raise ValueError(
                f"{self.name}: method must be 'nbest' or 'exact'; got {self.method!r}."
            )
        n_best = check_int(self.n_best, "n_best", self.name, 2)
        _, log_proba = model.nbest(X_pool, n_best)
        return _scores.nbest_entropy(log_proba, bool(self.normalize))

    def _token_utilities(self, model, X_pool):
        return _scores.token_uncertainty(model.marginals(X_pool), "entropy")


class TokenEntropy(TaggerStrategy):
    """Entropy of each token's marginal, aggregated over the sentence.

    ``aggregate="total"`` is Settles & Craven's total token entropy (favours long
    sentences), ``"mean"`` their length-normalised token entropy, ``"max"`` the most
    uncertain token.

    Parameters
    ----------
    aggregate : {"total", "mean", "max"}
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Settles & Craven (2008), EMNLP ("token entropy", "total token entropy").
    """

    name: ClassVar[str] = "seq_token_entropy"
    needs: ClassVar[tuple[str, ...]] = ("marginals",)
    summary: ClassVar[str] = "per-token marginal entropy, total / mean / max"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def __init__(self, aggregate: str = "total", sampling: str = "top", temperature: float = 1.0):
        self.aggregate = aggregate
        self.sampling = sampling
        self.temperature = temperature

    def _utilities(self, model, X_pool):
        how = _check_aggregate(self.aggregate, self.name)
        return _scores.aggregate(self._token_utilities(model, X_pool), how)

    def _token_utilities(self, model, X_pool):
        return _scores.token_uncertainty(model.marginals(X_pool), "entropy")


class MNLP(TaggerStrategy):
    """Maximum normalised log-probability: :math:`-\\frac1T \\log P(y^* \\mid x)`.

    Tokens: :math:`-\\log \\max_j P(y_t = j)`, so a span's mean is its own MNLP.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Shen, Yun, Lipton, Kronrod & Anandkumar (2018), "Deep active learning for named
    entity recognition", ICLR.
    """

    name: ClassVar[str] = "seq_mnlp"
    needs: ClassVar[tuple[str, ...]] = ("viterbi", "marginals")
    summary: ClassVar[str] = "−log P(Viterbi path) / length (Shen et al.)"
    reference: ClassVar[str] = "Shen et al. 2018"

    def _utilities(self, model, X_pool):
        _, log_proba = model.viterbi(X_pool)
        return _scores.mnlp(log_proba, _lengths(X_pool))

    def _token_utilities(self, model, X_pool):
        return _scores.token_uncertainty(model.marginals(X_pool), "neg_log_max")


class VoteEntropyTagger(TaggerStrategy):
    """Vote entropy of a tagger committee's Viterbi paths, averaged over tokens.

    Parameters
    ----------
    aggregate : {"mean", "total", "max"}
        Settles & Craven average over tokens (``"mean"``).
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Dagan & Engelson (1995), ICML. Settles & Craven (2008), EMNLP ("vote entropy").
    """

    name: ClassVar[str] = "seq_vote_entropy"
    needs: ClassVar[tuple[str, ...]] = ("sample_paths",)
    summary: ClassVar[str] = "token vote entropy of a tagger committee"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def __init__(self, aggregate: str = "mean", sampling: str = "top", temperature: float = 1.0):
        self.aggregate = aggregate
        self.sampling = sampling
        self.temperature = temperature

    def _utilities(self, model, X_pool):
        how = _check_aggregate(self.aggregate, self.name)
        return _scores.aggregate(self._token_utilities(model, X_pool), how)

    def _token_utilities(self, model, X_pool):
        return _scores.token_vote_entropy(model.sample_paths(X_pool), len(model.labels_))


class KLTagger(TaggerStrategy):
    """Mean KL divergence of the committee members' token marginals from their consensus.

    Parameters
    ----------
    aggregate : {"mean", "total", "max"}
        Settles & Craven average over tokens (``"mean"``).
    sampling, temperature
        As for every score strategy.

    References
    ----------
    McCallum & Nigam (1998), ICML. Settles & Craven (2008), EMNLP ("Kullback-Leibler").
    """

    name: ClassVar[str] = "seq_kl"
    needs: ClassVar[tuple[str, ...]] = ("sample_marginals",)
    summary: ClassVar[str] = "token KL to the consensus of a tagger committee"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def __init__(self, aggregate: str = "mean", sampling: str = "top", temperature: float = 1.0):
        self.aggregate = aggregate
        self.sampling = sampling
        self.temperature = temperature

    def _utilities(self, model, X_pool):
        how = _check_aggregate(self.aggregate, self.name)
        return _scores.aggregate(self._token_utilities(model, X_pool), how)

    def _token_utilities(self, model, X_pool):
        return _scores.token_kl(model.sample_marginals(X_pool))


class SequenceBALD(TaggerStrategy):
    """BALD for taggers, from posterior samples of tag paths (any tagger that has them).

    ``method="paths"`` (Siddhant & Lipton 2018): :math:`1 - f_s/m`, the share of the
    ``m`` samples whose whole path differs from the most frequent one (needs
    ``sample_paths``); token utility: the share that disagrees with the token's modal
    label. ``method="mutual_information"``: the mutual information between each token's
    label and the model, :math:`H[\\bar P(y_t)] - \\frac1m \\sum_i H[P_i(y_t)]`,
    aggregated over the sentence (needs ``sample_marginals``).

    Samples come from MC dropout passes (Gal & Ghahramani 2016; dropout in the last layer
    only is enough, Shelmanov et al. 2021) or from a committee trained on bootstraps
    (:class:`~activelab.sequence.TaggerCommittee`).

    Parameters
    ----------
    method : {"paths", "mutual_information"}
    aggregate : {"mean", "total", "max"}
        For ``"mutual_information"``.
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Siddhant & Lipton (2018), "Deep Bayesian active learning for natural language
    processing", EMNLP. Houlsby et al. (2011). Shelmanov et al. (2021), EACL.
    """

    name: ClassVar[str] = "seq_bald"
    summary: ClassVar[str] = "disagreement of posterior samples of tag paths (BALD)"
    reference: ClassVar[str] = "Siddhant & Lipton 2018"

    def __init__(
        self,
        method: str = "paths",
        aggregate: str = "mean",
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.method = method
        self.aggregate = aggregate
        self.sampling = sampling
        self.temperature = temperature

    needs = _ParameterNeeds(
        ("sample_paths",),
        lambda self: (
            ("sample_marginals",) if self.method == "mutual_information" else ("sample_paths",)
        ),
    )

    def _check_method(self) -> None:
        if self.method not in ("paths", "mutual_information"):
            raise ValueError(
                f"{self.name}: method must be 'paths' or 'mutual_information'; got {self.method!r}."
            )

    def _utilities(self, model, X_pool):
        self._check_method()
        if self.method == "paths":
            return _scores.path_disagreement(model.sample_paths(X_pool))
        how = _check_aggregate(self.aggregate, self.name)
        return _scores.aggregate(self._token_utilities(model, X_pool), how)

    def _token_utilities(self, model, X_pool):
        self._check_method()
        if self.method == "paths":
            return _scores.token_variation_ratio(model.sample_paths(X_pool), len(model.labels_))
        return _scores.token_bald(model.sample_marginals(X_pool))


def get_sequence_strategy(base: Any, who: str) -> TaggerStrategy:
    """A tagger strategy from a registry name or an object (for wrapper parameters)."""
    if isinstance(base, TaggerStrategy):
        return base
    if isinstance(base, str):
        from activelab import strategies

        if base in strategies.available():
            found = strategies.get(base)
        elif base in _BY_NAME:
            found = _BY_NAME[base]()
        else:
            raise ValueError(
                f"{who}: unknown tagger strategy {base!r}; use one of {sorted(_BY_NAME)}."
            )
        if isinstance(found, TaggerStrategy):
            return found
    raise TypeError(f"{who} needs a tagger strategy as base (e.g. 'seq_mnlp'); got {base!r}.")


class InformationDensityTagger(TaggerStrategy):
    """Information density: a tagger utility weighted by how typical the sentence is.

    .. math:: u(x) = \\phi(x) \\cdot \\Big(\\frac1N \\sum_{x'} \\mathrm{sim}(x, x')\\Big)^\\beta

    with :math:`\\phi` the base strategy's utility and the similarity computed by
    :func:`activelab.strategies._batch.density` (cosine, exact in O(N·d)) on the
    tagger's sentence embeddings. Token utilities are the base's (density is a
    sentence-level weight).

    Parameters
    ----------
    base : str or TaggerStrategy
        The uncertainty, e.g. ``"seq_token_entropy"`` (Settles & Craven's choice was
        sequence entropy or token entropy).
    beta : float
        Weight of the density term.
    metric : {"cosine", "euclidean"}
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Settles & Craven (2008), "An analysis of active learning strategies for sequence
    labeling tasks", EMNLP.
    """

    name: ClassVar[str] = "seq_information_density"
    summary: ClassVar[str] = "tagger uncertainty × mean similarity to the pool^β"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def __init__(
        self,
        base: Any = "seq_token_entropy",
        beta: float = 1.0,
        metric: str = "cosine",
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.base = base
        self.beta = beta
        self.metric = metric
        self.sampling = sampling
        self.temperature = temperature

    needs = _ParameterNeeds(
        ("marginals", "embed"),
        lambda self: (*get_sequence_strategy(self.base, self.name).needs, "embed"),
    )

    def _utilities(self, model, X_pool):
        beta = check_number(self.beta, "beta", self.name, 0.0)
        base = get_sequence_strategy(self.base, self.name)._utilities(model, X_pool)
        weight = density(model.embed(X_pool), self.metric)
        return base * weight**beta

    def _token_utilities(self, model, X_pool):
        return get_sequence_strategy(self.base, self.name)._token_utilities(model, X_pool)


class SequenceDiverse(TaggerStrategy, Diverse):
    """A batch of uncertain and diverse sentences: a tagger utility, then a diversity selector.

    The ``prefilter · k`` sentences of highest base utility are narrowed to ``k`` by
    :func:`activelab.select.cluster_then_pick` (``method="cluster"``, Zhdanov's diverse
    mini-batch) or :func:`activelab.select.k_center_greedy` (``method="kcenter"``, with
    the labelled sentences as initial centres) on the tagger's sentence embeddings; the
    selection maths is :class:`activelab.strategies.Diverse`'s.

    Parameters
    ----------
    base : str or TaggerStrategy
        The utility, e.g. ``"seq_mnlp"``.
    method : {"cluster", "kcenter"}
    prefilter : int
        Candidates kept per batch slot.

    References
    ----------
    Zhdanov (2019), "Diverse mini-batch active learning", arXiv:1901.05954. Sener &
    Savarese (2018), ICLR (k-center).
    """

    name: ClassVar[str] = "seq_diverse"
    summary: ClassVar[str] = "tagger utility prefilter, then a diverse batch of sentences"
    reference: ClassVar[str] = "Zhdanov 2019"

    def __init__(self, base: Any = "seq_mnlp", method: str = "kcenter", prefilter: int = 10):
        self.base = base
        self.method = method
        self.prefilter = prefilter

    def _base(self) -> TaggerStrategy:
        return get_sequence_strategy(self.base, self.name)

    needs = _ParameterNeeds(
        ("viterbi", "marginals", "embed"), lambda self: (*self._base().needs, "embed")
    )

    def _utilities(self, model, X_pool):
        return self._base()._utilities(model, X_pool)

    def _token_utilities(self, model, X_pool):
        return self._base()._token_utilities(model, X_pool)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        sentences = check_sentences(X_pool, self.name)
        labeled = None
        if X_labeled is not None and len(X_labeled):
            labeled = check_sentences(X_labeled, self.name)
        return Diverse._select(self, model, sentences, k, labeled, None, rng)


#: The tagger strategies, for registration in :mod:`activelab.strategies`.
SEQUENCE_STRATEGIES: tuple[type[TaggerStrategy], ...] = (
    LeastConfidenceTagger,
    NBestMargin,
    SequenceEntropy,
    TokenEntropy,
    MNLP,
    VoteEntropyTagger,
    KLTagger,
    SequenceBALD,
    InformationDensityTagger,
    SequenceDiverse,
)

_BY_NAME: dict[str, type[TaggerStrategy]] = {cls.name: cls for cls in SEQUENCE_STRATEGIES}
