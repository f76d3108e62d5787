"""Retraining and re-ranking: what the studio's trainer does, and the model it fits.

The trainer runs in a process of its own (:mod:`activelab.studio.worker`): it wakes
when an answer arrives (:meth:`Trainer.notify`) or every few seconds, and in each
:meth:`Trainer.step`:

1. builds the features of the project's items (again after an import);
2. **cold start** — while there are too few labels for a model (fewer than
   ``min_labels``, or a label with no example yet; after ``3 · min_labels`` labels two
   classes are enough) — ranks the queue with the ``cold_start`` strategy
   (TypiClust by default, or k-means) on the embedding, taking the labelled items into
   account, again every ``retrain_every`` new answers;
3. otherwise, once ``retrain_every`` new answers have come in since the last model (or
   when no model exists yet, or the aggregation changed), fits the model on every label
   (majority per item, or Dawid–Skene with ``aggregation = "dawid_skene"``, see
   :func:`activelab.studio.answers.training_labels`), estimates its accuracy by
   stratified 5-fold cross-validation (micro-F1 for multi-label), checks the stopping
   criteria, ranks the queue with the project's strategy, writes the ranking
   (:func:`activelab.studio.queue.apply_ranking`), and then bumps ``model_version``;
4. runs one round of the LLM labeller when the project has one
   (:class:`activelab.studio.llm.LLMJob`: suggestions for the head of the queue, or
   machine labels for the items the model is confident about).

Requests never wait for it: it runs in another process (so it never holds the server's
interpreter lock), at a lower scheduling priority, holds no lock a request needs, reads
in its own transactions and writes the ranking in small ones with pauses in between.
:meth:`Trainer.step` runs one step in the calling thread, for tests and scripts.

**Default strategy.** ``diverse_minibatch`` (Zhdanov 2019): the ``10 · k`` items of
highest margin uncertainty, clustered by utility-weighted k-means on the LSA embedding,
and the item nearest each centre. Margin needs only ``predict_proba``; diversity works
on dense embeddings, which TF-IDF is not, hence the LSA embedding
(:mod:`activelab.studio.features`). The studio's model gives ``predict_proba`` and
``embed``; strategies that need posterior samples or gradient embeddings are refused
when the project is loaded.

**The model** is an adapter (:class:`StudioModel`) whose inputs are row positions into
the features, so every registered strategy runs on it unchanged. Text: logistic
regression on TF-IDF; images: logistic regression on the standardised pixel and
histogram features; multi-label: one logistic regression per label
(:class:`activelab.models.MultiLabelAdapter` around ``OneVsRestClassifier``), which the
multi-label strategies (``task = "multilabel"``) read as per-label probabilities and
decision values.

**Multi-label projects** rank with a multi-label strategy (default ``mmc``, Yang et
al. 2009: built for multi-label text, one pass over the ``(n, L)`` probabilities) or a
label-free embedding strategy (:data:`LABEL_FREE`); single-label strategies are refused
when the project is loaded, with the list of the usable ones.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from activelab.models import ModelAdapter
from activelab.studio import answers as answer_store
from activelab.studio.db import (
    Answer,
    Item,
    ModelVersion,
    Project,
    is_sqlite,
    read_session,
    write_session,
)
from activelab.studio.features import Features, image_features, text_features
from activelab.studio.project import ProjectConfig
from activelab.studio.queue import Ranking, apply_ranking

__all__ = [
    "LABEL_FREE",
    "MULTILABEL_DEFAULT",
    "SUPPORTED_NEEDS",
    "StudioModel",
    "Trainer",
    "check_strategy",
    "cold_start_ranking",
    "model_ranking",
    "train_model",
]

log = logging.getLogger("activelab.studio")

#: Places written per ranking: the head of the queue, which is served long before the
#: next ranking; items further down keep their place from an older ranking (behind every
#: item of the new one), so a ranking of a large pool costs a few transactions.
RANKED_DEPTH = 5000

#: What the studio's model provides; a strategy needing anything else is refused.
SUPPORTED_NEEDS = frozenset({"predict_proba", "embed"})

#: What a multi-label project's model provides besides (per-label decision values).
MULTILABEL_NEEDS = SUPPORTED_NEEDS | {"decision_function"}

#: The strategy of a multi-label project when ``strategy`` is left empty.
MULTILABEL_DEFAULT = "mmc"

#: Strategies that read only the embedding and which items are labelled (never the
#: labels), so they rank multi-label projects as they rank single-label ones.
LABEL_FREE = (
    "coreset",
    "facility_location",
    "kmeans",
    "maxherding",
    "probcover",
    "random",
    "typiclust",
)


class StudioModel(ModelAdapter):
    """The studio's fitted model as an activelab adapter over item row positions.

    ``X`` is an array of row positions into ``features``; ``predict_proba`` gives one
    column per project label (in the project's order; a label the model has not seen
    gets probability 0) and ``embed`` the distance embedding.

    Parameters
    ----------
    classifier : fitted estimator
        Logistic regression (single-label) or one-vs-rest logistic regression.
    features : Features
    labels : sequence of str
        The project's labels.
    multi_label : bool
        Then ``predict_proba`` holds one independent probability per label.
    columns : numpy.ndarray of int, optional
        The columns of a sparse ``features.matrix`` the classifier reads (None: all).
        :meth:`fit` keeps only the columns with a non-zero in a training row: the
        others carry no information, and an L2-penalised logistic regression gives
        them weight exactly 0, so leaving them out changes no prediction and makes
        the fit several times faster on a large vocabulary.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from activelab.studio.features import text_features
    >>> features = text_features(["good", "bad", "good good", "bad bad"])
    >>> classifier = LogisticRegression().fit(features.matrix, ["p", "n", "p", "n"])
    >>> StudioModel(classifier, features, ["n", "p"], False).predict(np.array([0, 1])).tolist()
    ['p', 'n']
    """

    def __init__(
        self,
        classifier: Any,
        features: Features,
        labels: Any,
        multi_label: bool,
        columns: np.ndarray | None = None,
    ):
        self.classifier = classifier
        self.features = features
        self.labels = labels
        self.multi_label = multi_label
        self.columns = columns

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict_proba`` and ``embed`` (and ``decision_function`` when multi-label)."""
        return MULTILABEL_NEEDS if self.multi_label else SUPPORTED_NEEDS

    @property
    def multilabel(self) -> bool:
        """True for a multi-label model: the multi-label strategies accept it."""
        return bool(self.multi_label)

    @property
    def classes_(self) -> np.ndarray:
        """The project's labels, in ``predict_proba``'s column order."""
        return np.asarray(self.labels)

    def describe(self) -> str:
        """The classifier's name."""
        return f"studio model ({type(self.classifier).__name__})"

    def fit(self, X: Any, y: Any) -> StudioModel:
        """Fit the classifier on rows ``X`` (positions) and labels ``y``; return self."""
        rows = self.features.matrix[_positions(X)]
        self.columns = _used_columns(rows)
        self.classifier.fit(rows if self.columns is None else rows[:, self.columns], y)
        return self

    def inputs(self, X: Any) -> Any:
        """The classifier's input for rows ``X`` (positions): their features, in its columns.

        Parameters
        ----------
        X : array of int

        Returns
        -------
        numpy.ndarray or scipy.sparse.csr_matrix
        """
        rows = self.features.matrix[_positions(X)]
        return rows if self.columns is None else rows[:, self.columns]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities ``(n, L)`` of the project's labels for rows ``X``.

        Parameters
        ----------
        X : array of int
            Row positions.

        Returns
        -------
        numpy.ndarray of shape (n, L), float64
        """
        proba = np.asarray(self.classifier.predict_proba(self.inputs(X)), dtype=np.float64)
        if self.multi_label:
            return proba
        known = [str(c) for c in self.classifier.classes_]
        if known == list(self.labels):
            return proba
        aligned = np.zeros((proba.shape[0], len(self.labels)))
        for column, label in enumerate(known):
            aligned[:, list(self.labels).index(label)] = proba[:, column]
        return aligned

    def decision_function(self, X: Any) -> np.ndarray:
        """Multi-label: per-label decision values ``(n, L)`` (positive predicts the label).

        Parameters
        ----------
        X : array of int
            Row positions.

        Returns
        -------
        numpy.ndarray of shape (n, L), float64
        """
        if not self.multi_label:
            raise TypeError(
                "decision_function is given by multi-label studio models only; single-label "
                "strategies read predict_proba."
            )
        return np.asarray(self.classifier.decision_function(self.inputs(X)), dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels of rows ``X``: names, or a 0/1 matrix ``(n, L)`` when multi-label.

        Parameters
        ----------
        X : array of int

        Returns
        -------
        numpy.ndarray of shape (n,) or (n, L)
        """
        if self.multi_label:
            return np.asarray(self.classifier.predict(self.inputs(X)), dtype=np.int64)
        return super().predict(X)

    def clone(self) -> StudioModel:
        """An unfitted copy sharing the (read-only) features.

        Returns
        -------
        StudioModel
        """
        from sklearn.base import clone

        classifier = self.classifier
        copy = classifier.clone() if hasattr(classifier, "clone") else clone(classifier)
        return StudioModel(copy, self.features, self.labels, self.multi_label)

    def embed(self, X: Any) -> np.ndarray:
        """The distance embedding of rows ``X``."""
        return self.features.embedding[_positions(X)]


def _used_columns(rows: Any) -> np.ndarray | None:
    """The columns with a non-zero in a sparse matrix (None for a dense one)."""
    import scipy.sparse as sp

    if not sp.issparse(rows):
        return None
    return np.unique(sp.csr_matrix(rows).indices).astype(np.int64)


def _in_memory(engine: Engine) -> bool:
    """True for an in-memory SQLite database (no other process can open it)."""
    return is_sqlite(engine) and (engine.url.database or ":memory:") == ":memory:"


def _positions(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.int64).reshape(-1)


def multilabel_usable() -> list[str]:
    """The strategies a multi-label project can rank with, sorted.

    Returns
    -------
    list of str
        The registered multi-label strategies the studio's model can run, and
        :data:`LABEL_FREE`.
    """
    from activelab import strategies

    usable = set(LABEL_FREE)
    for name in strategies.available():
        strategy = strategies.get(name)
        if type(strategy).task == "multilabel" and set(strategy.needs) <= MULTILABEL_NEEDS:
            usable.add(name)
    return sorted(usable & set(strategies.available()))


def check_strategy(name: str, multi_label: bool) -> Any:
    """The strategy ``name``, or a ValueError when the studio's model cannot run it.

    Parameters
    ----------
    name : str
        A registry name.
    multi_label : bool
        Multi-label projects take the multi-label strategies (``task = "multilabel"``)
        and the label-free embedding strategies (:data:`LABEL_FREE`); single-label
        projects take every strategy the model can feed except multi-label ones.

    Returns
    -------
    Strategy
    """
    from activelab import strategies

    strategy = strategies.get(name)
    task = type(strategy).task
    if multi_label:
        if task != "multilabel" and name not in LABEL_FREE:
            raise ValueError(
                f"strategy {name!r} is a single-label ({task}) strategy and does not support "
                "multi-label projects, whose items carry several labels. Choose one of: "
                f"{', '.join(multilabel_usable())} (default {MULTILABEL_DEFAULT})."
            )
        missing = set(strategy.needs) - MULTILABEL_NEEDS
        if missing:
            raise ValueError(
                f"strategy {name!r} needs {', '.join(sorted(missing))}, which the studio's "
                f"model does not give. Choose one of: {', '.join(multilabel_usable())}."
            )
        return strategy
    if task == "multilabel":
        raise ValueError(
            f"strategy {name!r} is for multi-label projects; this project takes one label per "
            "item. Choose a classification strategy (margin, entropy, diverse_minibatch, …), "
            "or make a multi-label project (multi_label = true)."
        )
    missing = set(strategy.needs) - SUPPORTED_NEEDS
    if missing:
        usable = [
            n
            for n in strategies.available()
            if set(strategies.get(n).needs) <= SUPPORTED_NEEDS
            and type(strategies.get(n)).task != "multilabel"
        ]
        raise ValueError(
            f"strategy {name!r} needs {', '.join(sorted(missing))}, which the studio's model "
            f"(logistic regression) does not give. Choose one of: {', '.join(usable)}."
        )
    return strategy


def _ready(labels: dict[int, tuple[str, ...]], config: ProjectConfig) -> bool:
    """Enough labels for a first model: min_labels and one example per label."""
    n = len(labels)
    if n < config.min_labels:
        return False
    seen = {label for chosen in labels.values() for label in chosen}
    if config.multi_label:
        return bool(seen) and (seen == set(config.labels) or n >= 3 * config.min_labels)
    return seen == set(config.labels) or (len(seen) >= 2 and n >= 3 * config.min_labels)


def _classifier(multi_label: bool, adapter: bool = False) -> Any:
    """Logistic regression; one per label when multi-label (in the multi-label adapter,
    which gives a label seen with one value only its log-odds, when ``adapter``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    base = LogisticRegression(max_iter=1000)
    if not multi_label:
        return base
    if adapter:
        from activelab.models import MultiLabelAdapter

        return MultiLabelAdapter(OneVsRestClassifier(base))
    return OneVsRestClassifier(base)


def _targets(labels: list[tuple[str, ...]], config: ProjectConfig) -> Any:
    if config.multi_label:
        return np.array(
            [[label in chosen for label in config.labels] for chosen in labels], dtype=np.int64
        )
    return np.array([chosen[0] for chosen in labels])


def _estimate(
    model: StudioModel, rows: np.ndarray, y: Any, config: ProjectConfig, seed: int
) -> tuple[float | None, str]:
    """Cross-validated accuracy (micro-F1 for multi-label), or None with too few labels.

    Stratified 5-fold (fewer when a label has fewer than 5 examples). Each fold's
    logistic regression starts from the fitted model's weights (the same convex problem
    on 80 % of the rows: it converges in a fraction of the iterations) and reads the
    model's columns.
    """
    import warnings

    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    if config.multi_label:
        folds = min(5, len(rows) // 2)
        metric = "f1_micro"
        splitter = KFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None
    else:
        folds = min(5, int(np.unique(y, return_counts=True)[1].min()))
        metric = "accuracy"
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None
    if splitter is None:
        return None, metric
    inputs = model.inputs(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if config.multi_label:
                scores = cross_val_score(_classifier(True), inputs, y, cv=splitter, scoring=metric)
            else:
                scores = [
                    _warm_fold(model.classifier, inputs, y, train, test)
                    for train, test in splitter.split(inputs, y)
                ]
        except ValueError:
            return None, metric
    return float(np.mean(scores)), metric


def _warm_fold(
    fitted: Any, inputs: Any, y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> float:
    """Accuracy on ``test`` of a regression fitted on ``train`` from ``fitted``'s weights."""
    classifier = _classifier(False)
    if np.array_equal(np.unique(y[train]), fitted.classes_):
        classifier.set_params(warm_start=True)
        classifier.coef_ = fitted.coef_.copy()
        classifier.intercept_ = fitted.intercept_.copy()
    classifier.fit(inputs[train], y[train])
    return float(classifier.score(inputs[test], y[test]))


def train_model(
    features: Features,
    labels: dict[int, tuple[str, ...]],
    config: ProjectConfig,
    seed: int = 0,
) -> tuple[StudioModel, np.ndarray, Any, float | None, str]:
    """Fit the project's model on its labels and estimate it by cross-validation.

    Parameters
    ----------
    features : Features
    labels : dict
        Item id → labels (:func:`activelab.studio.answers.training_labels`).
    config : ProjectConfig
    seed : int
        Seeds the folds.

    Returns
    -------
    (StudioModel, rows, y, estimate, metric)
        The fitted model, the labelled rows and their targets, the cross-validated
        estimate (None with too few labels per class) and its name.
    """
    import warnings

    from threadpoolctl import threadpool_limits

    ids = [item_id for item_id in labels if item_id in features.rows]
    rows = features.positions(ids)
    y = _targets([labels[item_id] for item_id in ids], config)
    model = StudioModel(
        _classifier(config.multi_label, adapter=True),
        features,
        list(config.labels),
        config.multi_label,
    )
    # One BLAS thread: the request threads share the same two cores.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant labels in one-vs-rest, convergence
        model.fit(rows, y)
        estimate, metric = _estimate(model, rows, y, config, seed)
    return model, rows, y, estimate, metric


def _suggestion(proba: np.ndarray, labels: list[str], multi_label: bool) -> dict[str, Any]:
    best = int(np.argmax(proba))
    suggestion: dict[str, Any] = {
        "label": labels[best],
        "confidence": round(float(proba[best]), 4),
        "probabilities": {
            label: round(float(p), 4) for label, p in zip(labels, proba, strict=True)
        },
    }
    if multi_label:
        suggestion["labels"] = [label for label, p in zip(labels, proba, strict=True) if p >= 0.5]
    return suggestion


def _order_rest(
    n: int, batch: np.ndarray, utilities: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """The pool positions after the batch: by utility (highest first), else at random."""
    rest = np.setdiff1d(np.arange(n), batch, assume_unique=False)
    if utilities is None:
        return rng.permutation(rest)
    return rest[np.argsort(-utilities[rest], kind="stable")]


def _batch_probabilities(strategy: Any, utilities: np.ndarray | None, batch: np.ndarray, n: int):
    """The probability with which each batch item was drawn, given the draws before it."""
    from activelab.select import draw_probabilities
    from activelab.strategies import RandomSampling

    if isinstance(strategy, RandomSampling):
        return 1.0 / (n - np.arange(batch.shape[0]))
    sampling = getattr(strategy, "sampling", "top")
    if utilities is not None and sampling != "top":
        return draw_probabilities(utilities, batch, sampling, strategy.temperature)
    return np.ones(batch.shape[0])


def model_ranking(
    model: StudioModel,
    pool_ids: np.ndarray,
    labelled_rows: np.ndarray,
    y: Any,
    config: ProjectConfig,
    version: int,
    seed: int,
) -> Ranking:
    """Rank the open items with the project's strategy and the fitted model.

    The strategy picks a batch of ``config.ranked_batch`` items (served first, in the
    strategy's order); the rest follow by the strategy's utility when it has one, else
    at random. Multi-label projects average a score strategy's utilities over the
    labels' binary problems. Suggestions are computed for the first
    :data:`RANKED_DEPTH` places (the ones written).

    Parameters
    ----------
    model : StudioModel
    pool_ids : array of int
        The open items' ids.
    labelled_rows : array of int
    y : array-like
    config : ProjectConfig
    version : int
        The model version that ranks.
    seed : int

    Returns
    -------
    Ranking
    """
    from activelab.strategies import ScoreStrategy

    strategy = check_strategy(config.strategy, config.multi_label)
    features = model.features
    pool = features.positions(pool_ids)
    pool_ids = features.item_ids[pool]
    n = pool.shape[0]
    k = min(config.ranked_batch, n)
    rng = np.random.default_rng(seed)
    utilities = None
    batch = strategy.query(model, pool, k, X_labeled=labelled_rows, y_labeled=y, random_state=rng)
    if isinstance(strategy, ScoreStrategy):
        utilities = _utilities(strategy, model, pool, labelled_rows, y)
    batch = np.asarray(batch, dtype=np.int64)
    order = np.concatenate([batch, _order_rest(n, batch, utilities, rng)])
    probabilities = [*_batch_probabilities(strategy, utilities, batch, n), *([None] * (n - k))]
    proba = model.predict_proba(pool[order[:RANKED_DEPTH]])
    labels = list(config.labels)
    return Ranking(
        item_ids=pool_ids[order].tolist(),
        strategy=config.strategy,
        model_version=version,
        scores=[None] * n if utilities is None else utilities[order].astype(float).tolist(),
        probabilities=probabilities,
        suggestions=[_suggestion(row, labels, config.multi_label) for row in proba]
        + [None] * max(0, n - RANKED_DEPTH),
    )


def _utilities(
    strategy: Any, model: StudioModel, pool: np.ndarray, labelled_rows: np.ndarray, y: Any
) -> np.ndarray | None:
    """The utility of every pool item under a score strategy (None when it has none).

    MMC's and CVIRS's utilities depend on the labelled set (label counts, label-vector
    inconsistency), so they are computed here with :mod:`activelab.multilabel`'s pure
    functions, as the strategies compute them; for the other strategies that score only
    inside their batch choice (adaptive, cardinality inconsistency, AUDI) the pool after
    the batch keeps a random order and the scores are left empty.
    """
    from activelab import multilabel

    name = type(strategy).name
    if name == "mmc":
        f = (
            model.decision_function(pool)
            if strategy.output in ("auto", "decision")
            else 2.0 * model.predict_proba(pool) - 1.0
        )
        counts = strategy.label_counts(model, pool, labelled_rows, y)
        return multilabel.mmc(f, model.predict_proba(pool), counts)
    if name == "cvirs":
        proba = model.predict_proba(pool)
        predicted = (proba > strategy.threshold).astype(np.float64)
        return multilabel.cvirs(proba, predicted, np.asarray(y, float), strategy.distance)
    try:
        return np.asarray(strategy.utilities(model, pool), dtype=np.float64)
    except (NotImplementedError, TypeError, ValueError):
        return None


def cold_start_ranking(
    features: Features,
    pool_ids: np.ndarray,
    labelled_ids: np.ndarray,
    config: ProjectConfig,
    seed: int,
) -> Ranking:
    """Rank the open items before any model: the ``cold_start`` strategy on the embedding.

    Parameters
    ----------
    features : Features
    pool_ids : array of int
    labelled_ids : array of int
    config : ProjectConfig
    seed : int

    Returns
    -------
    Ranking
        Scores are None (these strategies have no utility); the batch has probability
        1.0 (deterministic given the seed), the rest follow at random.
    """
    from activelab import strategies

    pool = features.positions(pool_ids)
    labelled = features.positions(labelled_ids)
    n = pool.shape[0]
    k = min(config.ranked_batch, n)
    rng = np.random.default_rng(seed)
    strategy = strategies.get(config.cold_start)
    batch = strategy.query(
        None,
        features.embedding[pool],
        k,
        X_labeled=features.embedding[labelled] if labelled.size else None,
        random_state=rng,
    )
    batch = np.asarray(batch, dtype=np.int64)
    order = np.concatenate([batch, _order_rest(n, batch, None, rng)])
    return Ranking(
        item_ids=features.item_ids[pool][order].tolist(),
        strategy=config.cold_start,
        model_version=0,
        scores=[None] * n,
        probabilities=[1.0] * k + [None] * (n - k),
    )


def _head(ranking: Ranking) -> Ranking:
    """The first :data:`RANKED_DEPTH` places of a ranking."""
    depth = RANKED_DEPTH
    if len(ranking.item_ids) <= depth:
        return ranking
    return Ranking(
        item_ids=ranking.item_ids[:depth],
        strategy=ranking.strategy,
        model_version=ranking.model_version,
        scores=ranking.scores[:depth],
        probabilities=ranking.probabilities[:depth],
        suggestions=None if ranking.suggestions is None else ranking.suggestions[:depth],
    )


@dataclass
class _Criteria:
    """The stopping criteria a trainer keeps across model versions."""

    plateau: Any
    stabilizing: Any
    overall: Any
    maximum: Any


def _criteria() -> _Criteria:
    from activelab import stopping

    return _Criteria(
        plateau=stopping.PerformancePlateau(metric="estimate", patience=3),
        stabilizing=stopping.StabilizingPredictions(threshold=0.99, window=3),
        overall=stopping.OverallUncertainty(threshold=0.05, measure="entropy"),
        maximum=stopping.MaxUncertainty(threshold=0.1, measure="entropy"),
    )


def _check(criterion: Any, state: Any) -> tuple[bool, str | None]:
    fired = bool(criterion.update(state))
    return fired, criterion.reason


class Trainer:
    """Retrains and re-ranks a project, in a process of its own (or a thread).

    :meth:`step` does what is due now, in the calling thread (the tests use it with
    ``create_app(config, start_trainer=False)``). :meth:`start` runs steps in the
    background: by default in a child process (:class:`activelab.studio.worker.ProcessRunner`)
    that opens its own database engine, so model fitting never holds this process's
    interpreter lock while it serves requests; ``mode="thread"`` runs them in a thread
    of this process instead (always the case for an in-memory SQLite database, which
    another process cannot open, and on Windows).

    Parameters
    ----------
    config : ProjectConfig
    engine : sqlalchemy.engine.Engine
    project_id : int
    poll_seconds : float
        How often the background loop checks for new answers without being notified.
    mode : {"process", "thread"}
        Where :meth:`start` runs the loop.

    Attributes
    ----------
    model : StudioModel or None
        The latest model fitted by :meth:`step` in this process (None in the server
        when the loop runs in its own process).
    features : Features or None
        Likewise.
    busy : bool
        True while a step does real work (features, a ranking, a retrain) — in this
        process or in the trainer's process.
    last_error : str or None
        The last failed step's exception (the loop keeps running), or a note that the
        trainer's process died and was restarted.
    last_error_at : datetime.datetime or None
    failing : bool
        True when the latest step failed (False again after a step that worked).
    steps : int
        Steps that did something (a ranking or a model) since :meth:`start`.
    """

    def __init__(
        self,
        config: ProjectConfig,
        engine: Engine,
        project_id: int,
        poll_seconds: float = 2.0,
        *,
        mode: str = "process",
    ) -> None:
        if mode not in ("process", "thread"):
            raise ValueError(f"mode must be 'process' or 'thread'; got {mode!r}.")
        self.config = config
        self.engine = engine
        self.project_id = project_id
        self.poll_seconds = poll_seconds
        self.mode = mode
        self.model: StudioModel | None = None
        self.features: Features | None = None
        self.busy = False
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.failing = False
        self.steps = 0
        #: Rows per transaction of a ranking, and the least pause between two (the
        #: trainer process sets both on SQLite, so that the server's requests get the
        #: write lock in between and never wait long for it).
        self.ranking_chunk = 500
        self.ranking_pause = 0.0
        self._busy_hook: Any = None
        self._items_marker: int | None = None
        self._seen_answer = 0
        self._checked_answer = -1
        self._needs_rank = True
        self._criteria = _criteria()
        self._stop_rows: np.ndarray | None = None
        self._lock = threading.Lock()
        self._runner: Any = None
        self._vision: Any = None
        from activelab.studio.features import EmbeddingJob

        self._embeddings = EmbeddingJob(config, self._report_embedding)
        #: The sentence-embedding job's progress (:meth:`EmbeddingJob.status`).
        self.embedding_status: dict[str, Any] = self._embeddings.status()
        self._embedding_hook: Any = None
        self._llm_job: Any = None
        self._aggregation: str | None = None

    @property
    def running_mode(self) -> str | None:
        """``"process"`` or ``"thread"`` while the background loop runs, else None."""
        return None if self._runner is None else self._runner.mode

    @property
    def pid(self) -> int | None:
        """The trainer process's id while it runs (None for a thread or when stopped)."""
        return getattr(self._runner, "pid", None)

    def start(self, wait: float = 0.0) -> None:
        """Run steps in the background (once): in a child process, or a thread.

        Parameters
        ----------
        wait : float
            With a process: seconds to wait until the child is ready (0: do not wait).
        """
        from activelab.studio import worker

        if self._runner is not None:
            return
        # Windows: the wake-up pipe needs POSIX file descriptors; a thread does the work.
        if self.mode == "process" and not _in_memory(self.engine) and sys.platform != "win32":
            self._runner = worker.ProcessRunner(self, self.poll_seconds)
            self._runner.start(wait)
        else:
            self._runner = worker.ThreadRunner(self, self.poll_seconds)
            self._runner.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the background loop and wait for it; no process or thread is left.

        A thread finishes its running step first; a process gets a few seconds, then
        is terminated (its writes are transactions: nothing is left half written).

        Parameters
        ----------
        timeout : float
        """
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop(timeout)
        self._set_busy(False)

    def notify(self) -> None:
        """Wake the background loop: new answers may have arrived. Never blocks."""
        runner = self._runner
        if runner is not None:
            runner.notify()

    def status(self) -> dict[str, Any]:
        """Where the trainer runs and how it is doing.

        Returns
        -------
        dict
            ``{mode, running, busy, failing, error, error_at, steps, restarts, embedding}``:
            ``mode`` is ``"process"``, ``"thread"`` or None (not started); ``running``
            whether that process or thread is alive; ``error`` the last error (or
            None) and ``error_at`` when it happened (ISO 8601); ``embedding`` the
            sentence-embedding job (:meth:`activelab.studio.features.EmbeddingJob.status`).
        """
        runner = self._runner
        return {
            "mode": None if runner is None else runner.mode,
            "running": bool(runner is not None and runner.alive),
            "busy": self.busy,
            "failing": self.failing,
            "error": self.last_error,
            "error_at": None if self.last_error_at is None else self.last_error_at.isoformat(),
            "steps": self.steps,
            "restarts": getattr(runner, "restarts", 0),
            "embedding": dict(self.embedding_status),
        }

    def _report_embedding(self, status: dict[str, Any]) -> None:
        self.embedding_status = status
        if self._embedding_hook is not None:
            self._embedding_hook(status)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        if self._busy_hook is not None:
            self._busy_hook(busy)

    def _record_step(self, result: str) -> None:
        self.steps += 1
        self.failing = False

    def _record_error(self, message: str, when: datetime) -> None:
        self.last_error = message
        self.last_error_at = when
        self.failing = True

    def step(self) -> str | None:
        """Do what is due now, in this thread; return what was done.

        Returns
        -------
        str or None
            ``"trained"`` (a new model version and ranking), ``"cold-start"`` (a
            ranking without a model) or None (nothing due).
        """
        with self._lock:
            try:
                result = self._step()
                labelled = self._llm_step()
                return result or labelled
            finally:
                if self.busy:
                    self._set_busy(False)

    @property
    def llm_job(self) -> Any:
        """The LLM labeller of this trainer (:class:`activelab.studio.llm.LLMJob`)."""
        if self._llm_job is None:
            from activelab.studio.llm import LLMJob

            self._llm_job = LLMJob(self.config, self.engine, self.project_id)
        return self._llm_job

    def _llm_step(self) -> str | None:
        """One round of the LLM labeller (text projects; :mod:`activelab.studio.llm`)."""
        if self.config.task != "text" or self.config.multi_label:
            return None
        return self.llm_job.step()

    def _items_changed(self) -> bool:
        """Whether items were added since the features were built (an O(log n) check)."""
        with read_session(self.engine) as session:
            marker = session.scalar(
                select(func.coalesce(func.max(Item.position), -1)).where(
                    Item.project_id == self.project_id
                )
            )
        return self.features is None or marker != self._items_marker

    def _load_features(self) -> bool:
        if not self._items_changed():
            return False
        self._set_busy(True)
        with read_session(self.engine) as session:
            rows = session.execute(
                select(Item.id, Item.text, Item.image_path, Item.position, Item.tokens)
                .where(Item.project_id == self.project_id)
                .order_by(Item.id)
            ).all()
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        if self.config.task == "image":
            self.features = image_features(
                [row[2] or "" for row in rows], self.config.directory, ids
            )
        elif self.config.task == "ner":
            from activelab.studio.ner import ner_features

            sentences = [list(row[4]) if row[4] else (row[1] or "").split() for row in rows]
            self.features = ner_features(ids, sentences)
        else:
            texts = [row[1] or "" for row in rows]
            self.features = text_features(texts, self.config.seed, ids)
            self._embeddings.reset(texts, ids)
        self._items_marker = max((row[3] for row in rows), default=-1)
        rng = np.random.default_rng(self.config.seed)
        self._stop_rows = np.sort(rng.permutation(len(ids))[: min(1000, len(ids))])
        self.model = None
        self._criteria = _criteria()
        self._needs_rank = True
        return True

    def _step(self) -> str | None:
        if self.config.task == "segmentation":
            from activelab.studio.segmentation import SegmentationJob

            if self._vision is None:
                self._vision = SegmentationJob(self.config, self.engine, self.project_id)
            return self._vision.step(self._set_busy)
        if self.config.task == "detection":
            from activelab.studio.detection import DetectionJob

            if self._vision is None:
                self._vision = DetectionJob(self.config, self.engine, self.project_id)
            return self._vision.step(self._set_busy)
        self._load_features()
        if self.config.task == "text" and self._embeddings.advance(self._features_setting()):
            self._use_embeddings()
        features = self.features
        if features is None or not len(features.item_ids):
            return None
        with read_session(self.engine) as session:
            newest = session.scalar(
                select(func.coalesce(func.max(Answer.id), 0)).where(
                    Answer.project_id == self.project_id
                )
            )
            fresh = session.scalar(
                select(func.count())
                .select_from(Answer)
                .where(
                    Answer.project_id == self.project_id,
                    Answer.id > self._seen_answer,
                    Answer.skipped.is_(False),
                )
            )
            aggregation = (
                session.scalar(select(Project.aggregation).where(Project.id == self.project_id))
                or self.config.aggregation
            )
            # A new aggregation changes the labels: retrain on them at once.
            due = fresh >= self.config.retrain_every or (
                self._aggregation is not None and aggregation != self._aggregation
            )
            self._aggregation = aggregation
            # Cheap checks first: this runs after every answer.
            if self.model is not None and not due:
                return None
            if self.model is None and not (due or self._needs_rank):
                if newest == self._checked_answer:
                    return None  # no answer since readiness was last checked
            self._checked_answer = int(newest)
            if self.config.task == "ner":
                from activelab.studio import ner

                sizes = {
                    int(i): len(s) for i, s in zip(features.item_ids, features.matrix, strict=True)
                }
                labels = ner.training_tags(session, self.project_id, sizes)
            else:
                labels = answer_store.training_labels(
                    session, self.project_id, self.config.multi_label, aggregation
                )
            open_ids = np.array(
                session.scalars(
                    select(Item.id)
                    .where(Item.project_id == self.project_id, Item.done.is_(False))
                    .order_by(Item.id)
                ).all(),
                dtype=np.int64,
            )
            project = session.get(Project, self.project_id)
            rank_round, version = project.rank_round, project.model_version
        labels = {item_id: chosen for item_id, chosen in labels.items() if item_id in features.rows}
        if self.config.task == "ner":
            from activelab.studio import ner

            is_ready = ner.ready(labels, self.config)
        else:
            is_ready = _ready(labels, self.config)
        if is_ready:
            self._set_busy(True)
            self._seen_answer = int(newest)
            train = self._train_ner if self.config.task == "ner" else self._train
            train(features, labels, open_ids, version + 1, rank_round + 1)
            return "trained"
        if not (self._needs_rank or due) or not open_ids.size:
            return None
        self._set_busy(True)
        self._seen_answer = int(newest)
        self._needs_rank = False
        ranking = cold_start_ranking(
            features,
            open_ids,
            np.fromiter(labels, dtype=np.int64, count=len(labels)),
            self.config,
            self.config.seed + rank_round + 1,
        )
        apply_ranking(
            self.engine, self.project_id, _head(ranking), self.ranking_chunk, self.ranking_pause
        )
        return "cold-start"

    def _features_setting(self) -> str:
        """The project's ``features`` now: the database's (the admin page may change it)."""
        with read_session(self.engine) as session:
            value = session.scalar(select(Project.features).where(Project.id == self.project_id))
        return value or self.config.features

    def _use_embeddings(self) -> None:
        """Switch the text model to the finished sentence embeddings (or back to TF-IDF)."""
        features = self.features
        if features is None:
            return
        embedding = self._embeddings.ready_embedding(features.item_ids)
        if embedding is None:  # back to TF-IDF (the setting changed)
            self._items_marker = None
            self._load_features()
            return
        self.features = Features(features.item_ids, embedding, embedding)
        self.model = None  # retrain on the new features at once, then re-rank
        self._criteria = _criteria()
        self._needs_rank = True

    @property
    def has_pending_work(self) -> bool:
        """True while background work (sentence embeddings) is unfinished: no idle wait."""
        return self._embeddings.pending or bool(self._llm_job is not None and self._llm_job.pending)

    def _train_ner(
        self,
        features: Features,
        tags: dict[int, list[str | None]],
        open_ids: np.ndarray,
        version: int,
        rank_round: int,
    ) -> None:
        """Fit the CRF on every labelled sentence, rank the open ones, record the version."""
        from activelab.studio import ner

        started = time.perf_counter()
        ids = list(tags)
        rows = features.positions(ids)
        sentences = [features.matrix[r] for r in rows]
        tagger, X_fit, y_fit, n_full = ner.fit_tagger(sentences, [tags[i] for i in ids], self.model)
        estimate = ner.estimate_f1(X_fit, y_fit, n_full, self.config.seed + version)
        labelled = np.asarray(ids, dtype=np.int64)
        pool_ids = open_ids[~np.isin(open_ids, labelled)]
        if pool_ids.size:
            ranking = ner.ner_ranking(
                tagger,
                features,
                pool_ids,
                labelled,
                self.config,
                version,
                self.config.seed + rank_round,
                RANKED_DEPTH,
            )
            apply_ranking(
                self.engine, self.project_id, _head(ranking), self.ranking_chunk, self.ranking_pause
            )
        stopping = []
        if estimate is not None:
            state_plateau = self._criteria.plateau
            from activelab.stopping import State

            stop, reason = _check(
                state_plateau, State(round=version, n_labeled=0, metrics={"estimate": estimate})
            )
            stopping.append(
                {
                    "name": "performance_plateau",
                    "value": state_plateau._since_best,
                    "threshold": state_plateau.patience,
                    "stop": stop,
                    "description": reason
                    or "stop when the cross-validated entity F1 has not improved for "
                    f"{state_plateau.patience} model versions",
                }
            )
        seconds = time.perf_counter() - started
        with write_session(self.engine) as session:
            project = session.get(Project, self.project_id)
            project.model_version = version
            session.add(
                ModelVersion(
                    project_id=self.project_id,
                    version=version,
                    n_labeled=len(tags),
                    estimate=estimate,
                    metric="entity_f1",
                    seconds=seconds,
                    stopping=stopping,
                )
            )
        self.model = tagger
        log.info(
            "tagger %d: %d sentences, entity F1 %s, %.2f s",
            version,
            len(tags),
            "n/a" if estimate is None else f"{estimate:.3f}",
            seconds,
        )

    def _train(
        self,
        features: Features,
        labels: dict[int, tuple[str, ...]],
        open_ids: np.ndarray,
        version: int,
        rank_round: int,
    ) -> None:
        from threadpoolctl import threadpool_limits

        started = time.perf_counter()
        model, rows, y, estimate, metric = train_model(
            features, labels, self.config, self.config.seed + version
        )
        labelled = np.fromiter(labels, dtype=np.int64, count=len(labels))
        pool_ids = open_ids[~np.isin(open_ids, labelled)]
        stopping = self._stopping_criteria(model, features.positions(pool_ids), estimate, version)
        if pool_ids.size:
            with threadpool_limits(1):
                ranking = model_ranking(
                    model, pool_ids, rows, y, self.config, version, self.config.seed + rank_round
                )
            apply_ranking(
                self.engine, self.project_id, _head(ranking), self.ranking_chunk, self.ranking_pause
            )
        seconds = time.perf_counter() - started
        with write_session(self.engine) as session:
            project = session.get(Project, self.project_id)
            project.model_version = version
            session.add(
                ModelVersion(
                    project_id=self.project_id,
                    version=version,
                    n_labeled=len(labels),
                    estimate=estimate,
                    metric=metric,
                    seconds=seconds,
                    stopping=stopping,
                )
            )
        self.model = model
        log.info(
            "model %d: %d labels, %s %s, %.2f s",
            version,
            len(labels),
            metric,
            "n/a" if estimate is None else f"{estimate:.3f}",
            seconds,
        )

    def _stopping_criteria(
        self, model: StudioModel, pool: np.ndarray, estimate: float | None, version: int
    ) -> list[dict[str, Any]]:
        """Value, threshold and verdict of each stopping criterion for this model."""
        from activelab import scores
        from activelab.stopping import State

        criteria = self._criteria
        results = []
        if estimate is not None:
            state = State(round=version, n_labeled=0, metrics={"estimate": estimate})
            stop, reason = _check(criteria.plateau, state)
            results.append(
                {
                    "name": "performance_plateau",
                    "value": criteria.plateau._since_best,
                    "threshold": criteria.plateau.patience,
                    "stop": stop,
                    "description": reason
                    or "stop when the cross-validated estimate has not improved for "
                    f"{criteria.plateau.patience} model versions",
                }
            )
        if self.config.multi_label:
            return results
        state = State(round=version, n_labeled=0, model=model, X_pool=pool, X_stop=self._stop_rows)
        stop, reason = _check(criteria.stabilizing, state)
        kappas = criteria.stabilizing.kappas_[-criteria.stabilizing.window :]
        results.append(
            {
                "name": "stabilizing_predictions",
                "value": float(np.mean(kappas)) if kappas else None,
                "threshold": criteria.stabilizing.threshold,
                "stop": stop,
                "description": reason
                or "stop when successive models agree on a fixed stop set (mean Cohen's kappa "
                f"of the last {criteria.stabilizing.window} versions)",
            }
        )
        if pool.size:
            entropy = scores.entropy(model.predict_proba(pool))
            for key, criterion, value in (
                ("overall_uncertainty", criteria.overall, float(entropy.mean())),
                ("max_uncertainty", criteria.maximum, float(entropy.max())),
            ):
                stop, reason = _check(criterion, state)
                results.append(
                    {
                        "name": key,
                        "value": value,
                        "threshold": criterion.threshold,
                        "stop": stop,
                        "description": reason
                        or f"stop when the {'mean' if key.startswith('overall') else 'largest'} "
                        "entropy of the model's predictions over the unlabelled items falls to "
                        "the threshold",
                    }
                )
        return results
