"""Active learning experiments for taggers, with the cost counted in tokens.

:func:`simulate` runs pool-based active learning on a labelled corpus, hiding the tags
until they are queried. Three query granularities:

- ``"sentences"``: the strategy ranks whole sentences; the annotator labels every token.
- ``"subsequences"``: the most uncertain spans of ``span_length`` tokens
  (:func:`~activelab.sequence.select_spans`, Radmard et al. 2021); the rest of a partly
  labelled sentence is filled by the model before each fit.
- ``"tokens"``: single tokens (spans of length 1).

Budget, batch size and learning curves are in one ``unit``: ``"tokens"`` labelled (the
default, because uncertainty strategies prefer long sentences and a count of sentences
hides that), ``"sentences"`` shown to the annotator (one per sentence query or per span
query), or simulated ``"seconds"`` from a :class:`CostModel` ``a + b·tokens`` per query.
Every round records all three, so one run can be plotted against any of them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._validation import RandomStateLike, check_random_state
from activelab.sequence._metrics import entity_scores, token_accuracy
from activelab.sequence._ragged import Ragged
from activelab.sequence._schemes import as_tag_lists
from activelab.sequence._spans import select_spans
from activelab.sequence._strategies import TaggerStrategy, get_sequence_strategy
from activelab.sequence._taggers import Tagger, check_sentences

__all__ = ["QUERIES", "UNITS", "CostModel", "SequenceResult", "SequenceRound", "simulate"]

#: Query granularities of :func:`simulate`.
QUERIES: tuple[str, ...] = ("sentences", "subsequences", "tokens")
#: Cost units of :func:`simulate`.
UNITS: tuple[str, ...] = ("tokens", "sentences", "seconds")


@dataclass(frozen=True)
class CostModel:
    """Annotation time of one query: ``seconds = a + b · tokens``.

    Settles, Craven & Friedland (2008) measured annotation times and found them to grow
    with the length of what is shown; a fixed overhead per query (reading the context,
    clicking) plus a cost per token is the simplest model of that, and :meth:`fit`
    estimates it from recorded times.

    Parameters
    ----------
    a : float
        Seconds per query, whatever its length.
    b : float
        Seconds per token.

    References
    ----------
    Settles, Craven & Friedland (2008), "Active learning with real annotation costs",
    NIPS Workshop on Cost-Sensitive Learning.

    Examples
    --------
    >>> CostModel.fit([5, 10, 20], [6.0, 9.0, 15.0])
    CostModel(a=3.0, b=0.6)
    """

    a: float = 0.0
    b: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and np.isfinite(self.b)) or self.a < 0 or self.b < 0:
            raise ValueError(f"CostModel needs finite a, b >= 0; got a={self.a}, b={self.b}.")
        if self.a == 0 and self.b == 0:
            raise ValueError("CostModel with a = b = 0 makes every query free.")

    def cost(self, tokens: Any) -> np.ndarray:
        """Seconds for queries of ``tokens`` tokens each.

        Parameters
        ----------
        tokens : array-like of int

        Returns
        -------
        numpy.ndarray of float
        """
        return self.a + self.b * np.asarray(tokens, dtype=np.float64)

    @classmethod
    def fit(cls, tokens: Any, seconds: Any) -> CostModel:
        """Least-squares ``a`` and ``b`` from recorded (tokens, seconds) pairs, clipped at 0.

        Parameters
        ----------
        tokens, seconds : array-like of shape (n,)
            Length and measured annotation time of each recorded query (n >= 2).

        Returns
        -------
        CostModel
        """
        x = np.asarray(tokens, dtype=np.float64)
        t = np.asarray(seconds, dtype=np.float64)
        if x.shape != t.shape or x.ndim != 1 or x.shape[0] < 2:
            raise ValueError("CostModel.fit needs two equal-length 1-D arrays of >= 2 records.")
        if not (np.isfinite(x).all() and np.isfinite(t).all()):
            raise ValueError("CostModel.fit needs finite token counts and times.")
        if np.ptp(x) == 0:
            return cls(a=0.0, b=max(float(t.mean() / max(x[0], 1.0)), 1e-12))
        b, a = np.polyfit(x, t, 1)
        a, b = max(float(a), 0.0), max(float(b), 0.0)
        if a == 0 and b == 0:
            b = max(float(t.mean() / max(x.mean(), 1.0)), 1e-12)
        return cls(a=round(a, 12), b=round(b, 12))


@dataclass
class SequenceRound:
    """One round of :func:`simulate`.

    Attributes
    ----------
    round : int
        0 for the model fitted on the initial sentences.
    tokens : int
        Tokens labelled by the oracle so far.
    sentences : int
        Queries shown so far (a sentence query or a span query each count one).
    seconds : float
        Simulated annotation time so far (NaN without a cost model).
    sentences_touched : int
        Distinct sentences with at least one labelled token.
    metrics : dict
        Held-out ``f1``, ``precision``, ``recall`` (entity level, micro) and
        ``token_accuracy``.
    query_seconds, fit_seconds : float
        Wall-clock time to choose the batch and to refit.
    queried : list of (sentence, start, end)
        What was labelled this round (indices into ``X``; ``end`` exclusive).
    """

    round: int
    tokens: int
    sentences: int
    seconds: float
    sentences_touched: int
    metrics: dict[str, float]
    query_seconds: float
    fit_seconds: float
    queried: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class SequenceResult:
    """What :func:`simulate` returns: the learning curve of one tagger and strategy.

    Attributes
    ----------
    strategy, model : str
    query : str
        ``"sentences"``, ``"subsequences"`` or ``"tokens"``.
    unit : str
        The unit of the budget and of :meth:`curve` by default.
    history : list of SequenceRound
    pool_tokens, pool_sentences : int
        Size of the training corpus (labelled or not).
    """

    strategy: str
    model: str
    query: str
    unit: str
    history: list[SequenceRound]
    pool_tokens: int
    pool_sentences: int

    def costs(self, unit: str | None = None) -> np.ndarray:
        """Cumulative cost after each round in ``unit`` (or ``"share"`` of tokens labelled).

        Parameters
        ----------
        unit : {"tokens", "sentences", "seconds", "share"}, optional

        Returns
        -------
        numpy.ndarray
        """
        unit = unit or self.unit
        if unit == "share":
            return np.array([r.tokens for r in self.history], dtype=np.float64) / max(
                self.pool_tokens, 1
            )
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {(*UNITS, 'share')}; got {unit!r}.")
        return np.array([getattr(r, unit) for r in self.history], dtype=np.float64)

    def curve(self, metric: str = "f1", unit: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Cost and metric after each round.

        Parameters
        ----------
        metric : str
        unit : {"tokens", "sentences", "seconds", "share"}, optional

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
        """
        return self.costs(unit), np.array([r.metrics[metric] for r in self.history])

    def aulc(self, metric: str = "f1", unit: str | None = None) -> float:
        """Area under the learning curve divided by the cost range (mean metric).

        Parameters
        ----------
        metric : str
        unit : str, optional

        Returns
        -------
        float
        """
        from activelab.loop import aulc  # late: activelab.loop imports the registry

        return aulc(*self.curve(metric, unit))

    def cost_to_reach(self, target: float, metric: str = "f1", unit: str | None = None) -> float:
        """The cost at the first round whose metric reaches ``target`` (NaN if none does).

        Parameters
        ----------
        target : float
        metric : str
        unit : str, optional

        Returns
        -------
        float
        """
        x, y = self.curve(metric, unit)
        hit = np.flatnonzero(y >= target)
        return float(x[hit[0]]) if hit.size else float("nan")

    @property
    def final(self) -> dict[str, float]:
        """Metrics of the last round's model."""
        return dict(self.history[-1].metrics)

    def to_frame(self) -> Any:
        """One row per round as a pandas DataFrame (needs pandas).

        Returns
        -------
        pandas.DataFrame
        """
        from activelab._extras import require

        pd = require("pandas", "bench", "SequenceResult.to_frame")
        return pd.DataFrame(
            [
                {
                    "strategy": self.strategy,
                    "model": self.model,
                    "query": self.query,
                    "round": r.round,
                    "tokens": r.tokens,
                    "share": r.tokens / max(self.pool_tokens, 1),
                    "sentences": r.sentences,
                    "seconds": r.seconds,
                    "sentences_touched": r.sentences_touched,
                    **r.metrics,
                    "query_seconds": r.query_seconds,
                    "fit_seconds": r.fit_seconds,
                    "queried": list(r.queried),
                }
                for r in self.history
            ]
        )


def _resolve(strategy: Any) -> Any:
    from activelab import strategies

    if isinstance(strategy, str):
        if strategy in strategies.available():
            return strategies.get(strategy)
        return get_sequence_strategy(strategy, "simulate")
    if not hasattr(strategy, "query"):
        raise TypeError(f"strategy must be a registry name or a Strategy; got {strategy!r}.")
    return strategy


def _unit_costs(unit: str, cost_model: CostModel | None) -> tuple[float, float]:
    """(per query, per token) cost of a query in ``unit``."""
    if unit == "tokens":
        return 0.0, 1.0
    if unit == "sentences":
        return 1.0, 0.0
    if cost_model is None:
        raise ValueError(
            "unit='seconds' needs a cost_model: al.sequence.CostModel(a, b) or "
            "CostModel.fit(recorded_tokens, recorded_seconds)."
        )
    return float(cost_model.a), float(cost_model.b)


class _State:
    """Which tokens the oracle has labelled, and the costs spent."""

    def __init__(self, lengths: np.ndarray, cost_model: CostModel | None) -> None:
        self.lengths = lengths
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.known = np.zeros(int(self.offsets[-1]), dtype=bool)
        self.queries = 0
        self.seconds = 0.0 if cost_model is not None else float("nan")
        self.cost_model = cost_model

    def label(self, spans: Sequence[tuple[int, int, int]]) -> None:
        for s, a, b in spans:
            self.known[self.offsets[s] + a : self.offsets[s] + b] = True
            self.queries += 1
            if self.cost_model is not None:
                self.seconds += float(self.cost_model.cost(b - a))

    def labelled_counts(self) -> np.ndarray:
        return Ragged(self.known, self.offsets).sum().astype(np.int64)

    def spent(self, unit: str) -> float:
        if unit == "tokens":
            return float(self.known.sum())
        if unit == "sentences":
            return float(self.queries)
        return self.seconds


def _fragments(
    words: list[str], tags: list[Any], known: np.ndarray, context: int
) -> list[tuple[list[str], list[Any]]]:
    """The labelled stretches of a sentence, each with ``context`` filled tokens around."""
    kept = np.zeros(known.shape[0] + 1, dtype=bool)
    for shift in range(-context, context + 1):
        lo, hi = max(0, shift), min(known.shape[0], known.shape[0] + shift)
        kept[lo:hi] |= known[lo - shift : hi - shift]
    edges = np.flatnonzero(np.diff(np.concatenate([[False], kept[:-1], [False]]).astype(np.int8)))
    return [(words[a:b], tags[a:b]) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _training_set(
    tagger: Tagger,
    model: Tagger | None,
    X: list[list[str]],
    y: list[list[str]],
    state: _State,
    context: int | None,
) -> tuple[list[list[str]], list[list[Any]]]:
    counts = state.labelled_counts()
    full = np.flatnonzero((counts == state.lengths) & (state.lengths > 0))
    partial = np.flatnonzero((counts > 0) & (counts < state.lengths))
    X_fit = [X[i] for i in full]
    y_fit: list[list[Any]] = [y[i] for i in full]
    if partial.size:
        X_part = [X[i] for i in partial]
        y_part = [
            [t if state.known[state.offsets[i] + j] else None for j, t in enumerate(y[i])]
            for i in partial
        ]
        if "partial_labels" not in tagger.capabilities:
            if model is None:  # pragma: no cover - the first fit sees whole sentences
                raise RuntimeError("no model to fill partly labelled sentences with.")
            model.require("complete", "sub-sequence queries")
            y_part = model.complete(X_part, y_part)
        if context is None:
            X_fit += X_part
            y_fit += y_part
        else:
            for i, words, tags in zip(partial, X_part, y_part, strict=True):
                known = state.known[state.offsets[i] : state.offsets[i + 1]]
                for piece_words, piece_tags in _fragments(words, tags, known, context):
                    X_fit.append(piece_words)
                    y_fit.append(piece_tags)
    return X_fit, y_fit


def _evaluate(model: Tagger, X_test: Any, y_test: Any, mode: str) -> dict[str, float]:
    if X_test is None:
        return {}
    predicted = model.predict(X_test)
    scores = entity_scores(y_test, predicted, mode=mode)
    return {
        "f1": scores["f1"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "token_accuracy": token_accuracy(y_test, predicted),
    }


def _query_sentences(
    strategy: Any,
    model: Tagger,
    X: list[list[str]],
    pool: np.ndarray,
    labelled: np.ndarray,
    batch: float,
    per_query: float,
    per_token: float,
    rng: np.random.Generator,
) -> list[tuple[int, int, int]]:
    """Whole sentences in the strategy's order until their cost reaches ``batch``."""
    lengths = np.fromiter((len(X[i]) for i in pool), dtype=np.int64, count=pool.shape[0])
    cost = per_query + per_token * lengths
    X_pool = [X[i] for i in pool]
    X_labeled = [X[i] for i in labelled]
    k = int(min(pool.shape[0], max(1, np.ceil(2 * batch / max(cost.mean(), 1e-12)))))
    while True:
        order = strategy.query(model, X_pool, k, X_labeled, None, rng)
        spent = np.cumsum(cost[order])
        enough = np.flatnonzero(spent >= batch)
        if enough.size or k == pool.shape[0]:
            take = order[: int(enough[0]) + 1] if enough.size else order
            return [(int(pool[i]), 0, int(lengths[i])) for i in take]
        k = min(pool.shape[0], 2 * k)


def simulate(
    tagger: Tagger,
    strategy: Any,
    X: Any,
    y: Any,
    X_test: Any = None,
    y_test: Any = None,
    *,
    query: str = "sentences",
    unit: str = "tokens",
    initial: int = 10,
    batch_size: float | None = None,
    budget: float | None = None,
    span_length: tuple[int, int] = (2, 6),
    context: int | None = 2,
    cost_model: CostModel | None = None,
    mode: str = "conlleval",
    random_state: RandomStateLike = 0,
) -> SequenceResult:
    """Pool-based active learning for a tagger on a labelled corpus.

    Parameters
    ----------
    tagger : Tagger
        Unfitted; cloned and refitted every round on everything labelled so far.
    strategy : str or Strategy
        A tagger strategy (``"seq_mnlp"``, …, see :mod:`activelab.sequence`) or
        ``"random"``.
    X, y : list of list of str
        The pool's sentences and their hidden tags.
    X_test, y_test : list of list of str, optional
        Held-out sentences for the learning curve (entity F1, precision, recall).
    query : {"sentences", "subsequences", "tokens"}
        Query granularity.
    unit : {"tokens", "sentences", "seconds"}
        Unit of ``batch_size``, ``budget`` and the default curve.
    initial : int
        Sentences labelled at random before the first round (their cost counts).
    batch_size : float, optional
        Cost per round; default 2 % of the pool's total cost in ``unit``.
    budget : float, optional
        Total cost (the initial sentences included); default: until the pool is labelled.
    span_length : (int, int)
        Shortest and longest span of a sub-sequence query.
    context : int or None
        How partly labelled sentences train a tagger without ``partial_labels``. The
        unlabelled tokens are filled with the model's constrained Viterbi tags; then an
        int trains on each labelled stretch plus ``context`` filled tokens on either
        side, as a sentence of its own, and drops the rest (default 2, the CRF's
        feature window); None trains on the whole filled sentence, as Radmard et al.
        (2021) do. On wikigold with a CRF, whole-sentence filling lets the early,
        weak model's errors outnumber the labels (see docs/sequence.md).
    cost_model : CostModel, optional
        Needed for ``unit="seconds"``; also records simulated seconds for any unit.
    mode : {"conlleval", "strict"}
        How entities are read for the F1 (:func:`activelab.sequence.entities`).
    random_state : int, Generator or None

    Returns
    -------
    SequenceResult

    References
    ----------
    Settles & Craven (2008), EMNLP; Radmard, Fathullah & Lipani (2021), ACL-IJCNLP
    (sub-sequence queries); Settles, Craven & Friedland (2008) (annotation cost).

    Examples
    --------
    >>> import activelab as al  # doctest: +SKIP
    >>> train, test = al.sequence.load_wikigold().split(0.2, random_state=0)  # doctest: +SKIP
    >>> result = al.sequence.simulate(al.sequence.CRFTagger(), "seq_mnlp", train.tokens,
    ...     train.tags, test.tokens, test.tags, budget=5000)  # doctest: +SKIP
    """
    if not isinstance(tagger, Tagger):
        raise TypeError(
            f"simulate takes a Tagger (e.g. al.sequence.CRFTagger()); got {type(tagger).__name__}."
        )
    if query not in QUERIES:
        raise ValueError(f"query must be one of {QUERIES}; got {query!r}.")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}; got {unit!r}.")
    sentences = check_sentences(X, "simulate")
    tags = as_tag_lists(y)
    if len(tags) != len(sentences):
        raise ValueError(f"{len(sentences)} sentences but {len(tags)} tag lists.")
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    for i in np.flatnonzero(lengths != np.fromiter(map(len, tags), dtype=np.int64)):
        raise ValueError(f"sentence {i} has {lengths[i]} tokens but {len(tags[i])} tags.")
    if X_test is not None:
        X_test = check_sentences(X_test, "simulate (X_test)")
        y_test = as_tag_lists(y_test)
    per_query, per_token = _unit_costs(unit, cost_model)
    low, high = (1, 1) if query == "tokens" else (int(span_length[0]), int(span_length[1]))
    if not 1 <= low <= high:
        raise ValueError(f"span_length needs 1 <= shortest <= longest; got {span_length}.")
    if context is not None and (isinstance(context, bool) or int(context) < 0):
        raise ValueError(f"context must be None or a non-negative int; got {context!r}.")
    total = float(per_query * len(sentences) + per_token * lengths.sum())
    batch = float(batch_size) if batch_size is not None else max(1.0, 0.02 * total)
    if batch <= 0:
        raise ValueError(f"batch_size must be positive; got {batch_size}.")
    limit = float(budget) if budget is not None else np.inf
    initial = int(initial)
    if not 1 <= initial <= len(sentences):
        raise ValueError(f"initial must be in [1, {len(sentences)}] sentences; got {initial}.")
    rng = check_random_state(random_state)
    chooser = _resolve(strategy)
    span_query = query != "sentences"
    if span_query and not (isinstance(chooser, TaggerStrategy) or chooser.name == "random"):
        raise TypeError(
            f"{query} queries need per-token utilities: a tagger strategy (seq_*) or "
            f"'random'; got {chooser!r}."
        )
    state = _State(lengths, cost_model)
    nonempty = np.flatnonzero(lengths > 0)
    first = rng.choice(nonempty, size=min(initial, nonempty.shape[0]), replace=False)
    state.label([(int(i), 0, int(lengths[i])) for i in first])
    history: list[SequenceRound] = []
    model: Tagger | None = None
    queried: list[tuple[int, int, int]] = [(int(i), 0, int(lengths[i])) for i in first]
    query_seconds = 0.0
    for round_number in itertools.count():
        started = time.perf_counter()
        X_fit, y_fit = _training_set(tagger, model, sentences, tags, state, context)
        model = clone(tagger).fit(X_fit, y_fit)
        fit_seconds = time.perf_counter() - started
        counts = state.labelled_counts()
        history.append(
            SequenceRound(
                round=round_number,
                tokens=int(state.known.sum()),
                sentences=int(state.queries),
                seconds=float(state.seconds),
                sentences_touched=int((counts > 0).sum()),
                metrics=_evaluate(model, X_test, y_test, mode),
                query_seconds=query_seconds,
                fit_seconds=fit_seconds,
                queried=queried,
            )
        )
        spent = state.spent(unit)
        remaining = limit - spent
        unlabelled = np.flatnonzero(counts < lengths)
        if remaining <= 0 or unlabelled.size == 0:
            break
        started = time.perf_counter()
        this_batch = min(batch, remaining)
        if not span_query:
            labelled = np.flatnonzero(counts > 0)
            queried = _query_sentences(
                chooser, model, sentences, unlabelled, labelled, this_batch, per_query,
                per_token, rng,
            )  # fmt: skip
        else:
            X_pool = [sentences[i] for i in unlabelled]
            if isinstance(chooser, TaggerStrategy):
                utilities = chooser.token_utilities(model, X_pool)
            else:  # random spans
                pool_lengths = lengths[unlabelled]
                utilities = Ragged.from_lengths(rng.random(int(pool_lengths.sum())), pool_lengths)
            known = Ragged(
                np.concatenate(
                    [state.known[state.offsets[i] : state.offsets[i + 1]] for i in unlabelled]
                ),
                utilities.offsets,
            )
            spans = select_spans(utilities, this_batch, low, high, known, per_query, per_token, rng)
            queried = [(int(unlabelled[s]), a, b) for s, a, b in spans]
        query_seconds = time.perf_counter() - started
        if not queried:
            break
        state.label(queried)
    name = getattr(chooser, "name", type(chooser).__name__)
    return SequenceResult(
        strategy=name,
        model=tagger.describe(),
        query=query,
        unit=unit,
        history=history,
        pool_tokens=int(lengths.sum()),
        pool_sentences=len(sentences),
    )
