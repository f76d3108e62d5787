"""Background retraining and re-ranking: a thread in the server process.

The trainer wakes when an answer arrives (:meth:`Trainer.notify`) or every few seconds,
and in each :meth:`Trainer.step`:

1. builds the features of the project's items (again after an import);
2. **cold start** — while there are too few labels for a model (fewer than
   ``min_labels``, or a label with no example yet; after ``3 · min_labels`` labels two
   classes are enough) — ranks the queue with the ``cold_start`` strategy
   (TypiClust by default, or k-means) on the embedding, taking the labelled items into
   account, again every ``retrain_every`` new answers;
3. otherwise, once ``retrain_every`` new answers have come in since the last model (or
   when no model exists yet), fits the model on every label (majority per item, see
   :func:`activelab.studio.answers.training_labels`), estimates its accuracy by
   stratified 5-fold cross-validation (micro-F1 for multi-label), checks the stopping
   criteria, ranks the queue with the project's strategy, writes the ranking
   (:func:`activelab.studio.queue.apply_ranking`), and then bumps ``model_version``.

Requests never wait for it: it holds no lock a request needs, reads in its own
transactions and writes the ranking in small ones.

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
histogram features; multi-label: one logistic regression per label.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from activelab.models import ModelAdapter
from activelab.studio import answers as answer_store
from activelab.studio.db import Answer, Item, ModelVersion, Project, read_session, write_session
from activelab.studio.features import Features, image_features, text_features
from activelab.studio.project import ProjectConfig
from activelab.studio.queue import Ranking, apply_ranking

__all__ = [
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

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from activelab.studio.features import text_features
    >>> features = text_features(["good", "bad", "good good", "bad bad"])
    >>> classifier = LogisticRegression().fit(features.matrix, ["p", "n", "p", "n"])
    >>> StudioModel(classifier, features, ["n", "p"], False).predict(np.array([0, 1])).tolist()
    ['p', 'n']
    """

    def __init__(self, classifier: Any, features: Features, labels: Any, multi_label: bool):
        self.classifier = classifier
        self.features = features
        self.labels = labels
        self.multi_label = multi_label

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict_proba`` and ``embed``."""
        return SUPPORTED_NEEDS

    @property
    def classes_(self) -> np.ndarray:
        """The project's labels, in ``predict_proba``'s column order."""
        return np.asarray(self.labels)

    def describe(self) -> str:
        """The classifier's name."""
        return f"studio model ({type(self.classifier).__name__})"

    def fit(self, X: Any, y: Any) -> StudioModel:
        """Fit the classifier on rows ``X`` (positions) and labels ``y``; return self."""
        self.classifier.fit(self.features.matrix[_positions(X)], y)
        return self

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
        rows = self.features.matrix[_positions(X)]
        proba = np.asarray(self.classifier.predict_proba(rows), dtype=np.float64)
        if self.multi_label:
            return proba
        known = [str(c) for c in self.classifier.classes_]
        if known == list(self.labels):
            return proba
        aligned = np.zeros((proba.shape[0], len(self.labels)))
        for column, label in enumerate(known):
            aligned[:, list(self.labels).index(label)] = proba[:, column]
        return aligned

    def embed(self, X: Any) -> np.ndarray:
        """The distance embedding of rows ``X``."""
        return self.features.embedding[_positions(X)]


class _LabelView(ModelAdapter):
    """One label of a multi-label model as a binary problem: ``[1 − p, p]``."""

    def __init__(self, model: StudioModel, column: int) -> None:
        self.model = model
        self.column = column

    def predict_proba(self, X: Any) -> np.ndarray:
        positive = self.model.predict_proba(X)[:, self.column]
        return np.column_stack([1.0 - positive, positive])

    def embed(self, X: Any) -> np.ndarray:
        return self.model.embed(X)


def _positions(X: Any) -> np.ndarray:
    return np.asarray(X, dtype=np.int64).reshape(-1)


def check_strategy(name: str, multi_label: bool) -> Any:
    """The strategy ``name``, or a ValueError when the studio's model cannot run it.

    Parameters
    ----------
    name : str
        A registry name.
    multi_label : bool
        Multi-label projects take score strategies (averaged over labels) and
        embedding-only strategies.

    Returns
    -------
    Strategy
    """
    from activelab import strategies
    from activelab.strategies import ScoreStrategy

    strategy = strategies.get(name)
    missing = set(strategy.needs) - SUPPORTED_NEEDS
    if missing:
        usable = [
            n for n in strategies.available() if set(strategies.get(n).needs) <= SUPPORTED_NEEDS
        ]
        raise ValueError(
            f"strategy {name!r} needs {', '.join(sorted(missing))}, which the studio's model "
            f"(logistic regression) does not give. Choose one of: {', '.join(usable)}."
        )
    if (
        multi_label
        and "predict_proba" in strategy.needs
        and not isinstance(strategy, ScoreStrategy)
    ):
        raise ValueError(
            f"strategy {name!r} does not support multi-label projects; choose a score strategy "
            "(margin, entropy, diverse_minibatch, …) or an embedding one (typiclust, kmeans, "
            "coreset)."
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


def _classifier(multi_label: bool) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    base = LogisticRegression(max_iter=1000)
    return OneVsRestClassifier(base) if multi_label else base


def _targets(labels: list[tuple[str, ...]], config: ProjectConfig) -> Any:
    if config.multi_label:
        return np.array(
            [[label in chosen for label in config.labels] for chosen in labels], dtype=np.int64
        )
    return np.array([chosen[0] for chosen in labels])


def _estimate(
    features: Features, rows: np.ndarray, y: Any, config: ProjectConfig, seed: int
) -> tuple[float | None, str]:
    """Cross-validated accuracy (micro-F1 for multi-label), or None with too few labels."""
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scores = cross_val_score(
                _classifier(config.multi_label),
                features.matrix[rows],
                y,
                cv=splitter,
                scoring=metric,
            )
        except ValueError:
            return None, metric
    return float(np.mean(scores)), metric


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
        _classifier(config.multi_label), features, list(config.labels), config.multi_label
    )
    # One BLAS thread: the request threads share the same two cores.
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant labels in one-vs-rest, convergence
        model.fit(rows, y)
        estimate, metric = _estimate(features, rows, y, config, seed)
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
    from activelab.select import cluster_then_pick, k_center_greedy, sample
    from activelab.strategies import Diverse, ScoreStrategy

    strategy = check_strategy(config.strategy, config.multi_label)
    features = model.features
    pool = features.positions(pool_ids)
    pool_ids = features.item_ids[pool]
    n = pool.shape[0]
    k = min(config.ranked_batch, n)
    rng = np.random.default_rng(seed)
    utilities = None
    if config.multi_label and isinstance(strategy, ScoreStrategy):
        views = [_LabelView(model, j) for j in range(len(config.labels))]
        utilities = np.mean([strategy._utilities(view, pool) for view in views], axis=0)
        if isinstance(strategy, Diverse) and strategy.method == "kcenter":
            candidates = np.argsort(-utilities, kind="stable")[: min(n, strategy.prefilter * k)]
            batch = candidates[k_center_greedy(model.embed(pool[candidates]), k, None, rng)]
        elif isinstance(strategy, Diverse):
            shifted = utilities - min(0.0, float(utilities.min()))
            batch = cluster_then_pick(shifted, model.embed(pool), k, strategy.prefilter, rng)
        else:
            batch = sample(utilities, k, strategy.sampling, strategy.temperature, rng)
    else:
        batch = strategy.query(
            model, pool, k, X_labeled=labelled_rows, y_labeled=y, random_state=rng
        )
        if isinstance(strategy, ScoreStrategy):
            utilities = strategy.utilities(model, pool)
    batch = np.asarray(batch, dtype=np.int64)
    order = np.concatenate([batch, _order_rest(n, batch, utilities, rng)])
    probabilities = [*_batch_probabilities(strategy, utilities, batch, n), *([None] * (n - k))]
    proba = model.predict_proba(pool[order[:RANKED_DEPTH]])
    labels = list(config.labels)
    return Ranking(
        item_ids=[int(i) for i in pool_ids[order]],
        strategy=config.strategy,
        model_version=version,
        scores=[None] * n if utilities is None else [float(u) for u in utilities[order]],
        probabilities=probabilities,
        suggestions=[_suggestion(row, labels, config.multi_label) for row in proba]
        + [None] * max(0, n - RANKED_DEPTH),
    )


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
        item_ids=[int(i) for i in features.item_ids[pool][order]],
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
    """Retrains and re-ranks a project in a background thread.

    Parameters
    ----------
    config : ProjectConfig
    engine : sqlalchemy.engine.Engine
    project_id : int
    poll_seconds : float
        How often the thread checks for new answers without being notified.

    Attributes
    ----------
    model : StudioModel or None
        The latest model.
    features : Features or None
    busy : bool
        True while a step runs.
    last_error : str or None
        The last step's exception, if it failed (the thread keeps running).
    """

    def __init__(
        self, config: ProjectConfig, engine: Engine, project_id: int, poll_seconds: float = 2.0
    ) -> None:
        self.config = config
        self.engine = engine
        self.project_id = project_id
        self.poll_seconds = poll_seconds
        self.model: StudioModel | None = None
        self.features: Features | None = None
        self.busy = False
        self.last_error: str | None = None
        self._seen_answer = 0
        self._checked_answer = -1
        self._needs_rank = True
        self._criteria = _criteria()
        self._stop_rows: np.ndarray | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="studio-trainer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop and wait for it (a running step finishes first).

        Parameters
        ----------
        timeout : float
        """
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def notify(self) -> None:
        """Wake the thread: new answers may have arrived. Never blocks."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except Exception as error:  # the thread must survive a failed step
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("studio trainer step failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def step(self) -> str | None:
        """Do what is due now; return what was done.

        Returns
        -------
        str or None
            ``"trained"`` (a new model version and ranking), ``"cold-start"`` (a
            ranking without a model) or None (nothing due).
        """
        with self._lock:
            self.busy = True
            try:
                return self._step()
            finally:
                self.busy = False

    def _load_features(self) -> bool:
        with read_session(self.engine) as session:
            count = session.scalar(
                select(func.count()).select_from(Item).where(Item.project_id == self.project_id)
            )
            if self.features is not None and len(self.features.item_ids) == count:
                return False
            rows = session.execute(
                select(Item.id, Item.text, Item.image_path)
                .where(Item.project_id == self.project_id)
                .order_by(Item.id)
            ).all()
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        if self.config.task == "image":
            self.features = image_features(
                [row[2] or "" for row in rows], self.config.directory, ids
            )
        else:
            self.features = text_features([row[1] or "" for row in rows], self.config.seed, ids)
        rng = np.random.default_rng(self.config.seed)
        self._stop_rows = np.sort(rng.permutation(len(ids))[: min(1000, len(ids))])
        self.model = None
        self._criteria = _criteria()
        self._needs_rank = True
        return True

    def _step(self) -> str | None:
        self._load_features()
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
            due = fresh >= self.config.retrain_every
            # Cheap checks first: this runs after every answer.
            if self.model is not None and not due:
                return None
            if self.model is None and not (due or self._needs_rank):
                if newest == self._checked_answer:
                    return None  # no answer since readiness was last checked
            self._checked_answer = int(newest)
            labels = answer_store.training_labels(session, self.project_id, self.config.multi_label)
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
        if _ready(labels, self.config):
            self._seen_answer = int(newest)
            self._train(features, labels, open_ids, version + 1, rank_round + 1)
            return "trained"
        if not (self._needs_rank or due) or not open_ids.size:
            return None
        self._seen_answer = int(newest)
        self._needs_rank = False
        ranking = cold_start_ranking(
            features,
            open_ids,
            np.array(list(labels), dtype=np.int64),
            self.config,
            self.config.seed + rank_round + 1,
        )
        apply_ranking(self.engine, self.project_id, _head(ranking))
        return "cold-start"

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
        pool_ids = np.array([i for i in open_ids if int(i) not in labels], dtype=np.int64)
        stopping = self._stopping_criteria(model, features.positions(pool_ids), estimate, version)
        if pool_ids.size:
            with threadpool_limits(1):
                ranking = model_ranking(
                    model, pool_ids, rows, y, self.config, version, self.config.seed + rank_round
                )
            apply_ranking(self.engine, self.project_id, _head(ranking))
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
