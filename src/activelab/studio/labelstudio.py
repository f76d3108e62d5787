"""Label Studio's ML-backend protocol, answered by an activelab model and query strategy.

Label Studio (HumanSignal) keeps models out of its own server: it calls an "ML backend",
a separate HTTP server, with the routes that ``label_studio_ml/api.py`` of
HumanSignal/label-studio-ml-backend defines. :func:`create_ml_backend` builds a FastAPI
app that answers them (``activelab studio ml-backend`` serves it):

========================  ===============================================================
``GET /health``, ``/``    ``{"status": "UP", "model_class": ...}``
``POST /setup``           the labelling config (``schema``) → ``{"model_version": ...}``
``POST /predict``         ``{"tasks": [...]}`` → ``{"results": [...]}``, one per task, in
                          order: ``{"result": [...], "score", "model_version", "cluster"}``
``POST /webhook``         annotation events and ``START_TRAINING`` → 201
                          ``{"result": ..., "status": "ok"}``; any other event → 200
                          ``{"status": "Unknown event"}``
``POST /train``           legacy training call with every annotated task → 201
``GET /metrics``          ``{}`` (a stub, as in the SDK)
========================  ===============================================================

**Scores.** Label Studio's "Uncertainty sampling" serves, among the tasks whose
prediction carries the project's current ``model_version``, the one with the LOWEST
``score`` first (after preferring the prediction ``cluster`` in which the annotator has
solved the fewest tasks). So each prediction's score is ``1 − priority``, with
``priority`` in [0, 1] the strategy's utility, normalised so that scores sent in
different requests compare:

- utilities with a known maximum over ``C`` classes are divided by it: margin and ratio
  (1), least confidence (``1 − 1/C``), entropy (``log C``). For margin the score is then
  ``p₁ − p₂``, the confidence margin itself;
- any other score strategy (BALD, vote entropy, … with a committee ``model_factory``):
  the mid-rank of the utility among the utilities of a sample of the pool, taken when
  the model version was made;
- cold start (no model yet, or labels of a single class): representativeness, as
  TypiClust's typicality: one over the mean distance to the ``K = 20`` nearest texts of
  a pool sample, on stateless hashed word 1–2-grams; the priority is its mid-rank among
  the sample's own, so typical items come first and outliers last. (The distance to a
  k-means centre would rank as most typical an outlier that k-means gave a centre of its
  own.) There is no pre-annotation (``result`` is empty) until a model exists.

``cluster`` is the item's k-means cluster on the same features (``n_clusters`` clusters,
at most √(n/2) on a pool of n texts), with or without a model, so Label Studio's
per-cluster tie-break spreads each annotator over the pool. The pool is what the backend
knows of the project: the texts of the tasks ``/predict`` has seen and of the labelled
ones (``max_pool`` at most, the oldest forgotten first).

**Model versions.** Scores and clusters are a pure function of the task and the model
version: a version holds a fitted model (or none), the cluster centres and the pool
samples. The version changes at every retrain and whenever the pool has grown by half
since the version was made (the clusters and samples are then refreshed), so Label
Studio, which predicts again only the tasks without a prediction of the current version,
asks again. Without ``model_dir`` the names carry a random token of the process, so a
restarted backend never reuses the name of an older, different model.

**Training.** The webhook events of :data:`TRAIN_EVENTS` (the SDK's
``ANNOTATION_CREATED/UPDATED/DELETED`` and ``START_TRAINING``, plus
``ANNOTATIONS_CREATED`` and ``ANNOTATIONS_DELETED``, the names Label Studio sends for
bulk creation and for deletion) update the labelled set before the reply: one row per
annotation, replaced when it is updated, removed when it is deleted, cancelled (a
skipped task) or holds no choice of the control. A retrain then runs in a background
thread, never inside the request; retrains asked for while one runs are coalesced.
Label Studio 1.x sends the task (and its data) with each annotation event; when a
payload lacks it, the text comes from the tasks ``/predict`` has seen. With
``model_dir`` the labelled set, the labelling configs and the version counters live in
``MODEL_DIR/labelstudio.db`` (SQLite, WAL), and a restarted backend retrains from them.

**Errors and auth.** Errors are answered as the SDK does, ``{"status": code, "detail":
message}`` (400 for a malformed body, 422 for a config the backend cannot use, 500 for
anything else). With ``basic_auth`` every route, ``/docs`` included, answers 401 with
``WWW-Authenticate: Basic`` unless the request has those credentials (compared in
constant time); Label Studio sends them when the model's connection is set to "Basic
Authentication".

Run one process (the state is in memory); the SDK's Docker image also runs one worker.

References
----------
HumanSignal/label-studio-ml-backend, ``label_studio_ml/api.py`` (routes, status codes,
basic auth) and ``label_studio_ml/response.py``; Label Studio,
``label_studio/projects/functions/next_task.py`` (ascending-score sampling with the
cluster tie-break), ``label_studio/webhooks/models.py`` and
``docs/source/guide/webhook_reference.md`` (event names and payloads).
Hacohen, Dekel & Weinshall (2022), "Active learning on a budget: opposite strategies
suit high and low budgets", ICML (TypiClust's typicality).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import math
import os
import re
import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from xml.etree import ElementTree

import numpy as np
import typer

from activelab._distances import k_nearest_distances, nearest_centres, squared_norms
from activelab._extras import require
from activelab._kmeans import kmeans

__all__ = [
    "TRAIN_EVENTS",
    "LabelConfig",
    "MLBackend",
    "ProtocolError",
    "create_ml_backend",
    "default_text_model",
    "ml_backend_command",
    "parse_label_config",
]

logger = logging.getLogger(__name__)

#: Webhook actions that change the labelled set or ask for training. The SDK's four, plus
#: the names Label Studio really sends for bulk creation and for deletion.
TRAIN_EVENTS = (
    "ANNOTATION_CREATED",
    "ANNOTATIONS_CREATED",
    "ANNOTATION_UPDATED",
    "ANNOTATION_DELETED",
    "ANNOTATIONS_DELETED",
    "START_TRAINING",
)
_DELETE_EVENTS = ("ANNOTATION_DELETED", "ANNOTATIONS_DELETED")

_OBJECT_TAGS = {"text": "Text", "hypertext": "HyperText", "image": "Image"}
_HASH_FEATURES = 512  # columns of the stateless text features (as the tweets data set)
_REFERENCE_ROWS = 10_000  # pool sample behind the rank normalisation of utilities
_KMEANS_ROWS = 4_000  # pool sample the k-means clusters are fitted on
_TYPICALITY_ROWS = 1_000  # reference points of the cold-start typicality
_NEIGHBORS = 20  # K of the typicality (TypiClust's value)
_KMEANS_RUNS = 3  # k-means runs (greedy k-means++ seeding each); the lowest inertia wins
_PREDICT_ROWS = 8_192  # tasks scored per block in /predict
_REFRESH_GROWTH = 1.5  # a new version once the known pool has grown by half
_REALM = 'Basic realm="Login required"'

#: Largest utility of the bounded uncertainty scores, as a function of the class count.
_UTILITY_BOUND: dict[str, Callable[[int], float]] = {
    "least_confidence": lambda n_classes: 1.0 - 1.0 / n_classes,
    "margin": lambda n_classes: 1.0,
    "ratio": lambda n_classes: 1.0,
    "entropy": lambda n_classes: math.log(n_classes),
}


class ProtocolError(Exception):
    """A request the backend cannot answer; sent as ``{"status": code, "detail": ...}``.

    Parameters
    ----------
    status : int
        The HTTP status code.
    detail : str
        What was wrong and what to do.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# ------------------------------------------------------------------------ labelling config


@dataclass(frozen=True)
class LabelConfig:
    """What the backend needs from a Label Studio labelling config.

    Attributes
    ----------
    from_name : str
        The ``<Choices>`` control's name (``from_name`` of every result).
    to_name : str
        The object tag it labels (``to_name`` of every result).
    object_tag : str
        ``"Text"``, ``"HyperText"`` or ``"Image"``.
    value_key : str
        The task-data key the object reads (``value="$review"`` → ``"review"``).
    labels : tuple of str
        The choice values (a choice's ``alias`` when it has one), in config order.
    """

    from_name: str
    to_name: str
    object_tag: str
    value_key: str
    labels: tuple[str, ...]


def parse_label_config(
    config: str, from_name: str | None = None, to_name: str | None = None
) -> LabelConfig:
    """Find the single-choice classification in a Label Studio labelling config.

    The config must hold a ``<Choices>`` control (single choice) whose ``toName`` names
    a ``<Text>``, ``<HyperText>`` or ``<Image>`` object reading task data
    (``value="$key"``), and list its labels as ``<Choice value="..."/>`` children.

    Parameters
    ----------
    config : str
        The config XML (``schema`` of ``/setup``, ``label_config`` of ``/predict``).
    from_name : str, optional
        The ``<Choices>`` to use when the config has several.
    to_name : str, optional
        The object to use when the control labels several (``toName="a,b"``).

    Returns
    -------
    LabelConfig

    Raises
    ------
    ValueError
        Not XML, a DOCTYPE or ENTITY declaration, no (or an ambiguous) ``<Choices>``, a
        multiple-choice control, an unknown object, or no labels; the message says which.

    Examples
    --------
    >>> xml = '''<View><Text name="text" value="$review"/>
    ...   <Choices name="sentiment" toName="text">
    ...     <Choice value="Positive"/><Choice value="Negative"/></Choices></View>'''
    >>> config = parse_label_config(xml)
    >>> config.from_name, config.to_name, config.value_key, config.labels
    ('sentiment', 'text', 'review', ('Positive', 'Negative'))
    """
    if not isinstance(config, str) or not config.strip():
        raise ValueError("the labelling config is empty; send Label Studio's label config XML.")
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", config, flags=re.IGNORECASE):
        raise ValueError(
            "the labelling config declares a DOCTYPE or an ENTITY; Label Studio configs "
            "never need one, and they are refused (entity expansion)."
        )
    try:
        root = ElementTree.fromstring(config)
    except ElementTree.ParseError as error:
        raise ValueError(f"the labelling config is not well-formed XML: {error}.") from None
    named = {element.get("name"): element for element in root.iter() if element.get("name")}
    controls = [element for element in root.iter() if element.tag.lower() == "choices"]
    if not controls:
        raise ValueError(
            "the labelling config has no <Choices> control; the ML backend classifies, e.g. "
            '<Choices name="label" toName="text"><Choice value="a"/>…</Choices>.'
        )
    names = [str(control.get("name")) for control in controls]
    if from_name is not None:
        controls = [control for control in controls if control.get("name") == from_name]
        if not controls:
            raise ValueError(
                f"the labelling config has no <Choices name={from_name!r}>; its Choices are "
                f"{', '.join(map(repr, names))}."
            )
    if len(controls) > 1:
        raise ValueError(
            f"the labelling config has several <Choices> ({', '.join(map(repr, names))}); "
            "say which one the model fills with from_name (--from-name)."
        )
    control = controls[0]
    control_name = control.get("name")
    if not control_name:
        raise ValueError("the <Choices> control has no name attribute; give it one.")
    if (control.get("choice") or "single").lower() == "multiple":
        raise ValueError(
            f'<Choices name="{control_name}" choice="multiple"> is multi-label; the ML '
            'backend predicts one label per task. Use choice="single", or activelab\'s own '
            "studio (activelab studio init --multi-label)."
        )
    targets = [name.strip() for name in (control.get("toName") or "").split(",") if name.strip()]
    if not targets:
        raise ValueError(f'<Choices name="{control_name}"> has no toName; name the object.')
    if to_name is not None and to_name not in targets:
        raise ValueError(
            f'<Choices name="{control_name}"> labels {", ".join(map(repr, targets))}, '
            f"not {to_name!r}."
        )
    target = to_name if to_name is not None else targets[0]
    obj = named.get(target)
    if obj is None:
        raise ValueError(
            f'<Choices name="{control_name}" toName="{target}">: no tag is named '
            f'{target!r}; add e.g. <Text name="{target}" value="$text"/>.'
        )
    tag = _OBJECT_TAGS.get(obj.tag.lower())
    if tag is None:
        raise ValueError(
            f'<{obj.tag} name="{target}"> is not an object the ML backend reads; it '
            "classifies <Text>, <HyperText> or <Image>."
        )
    value = obj.get("value") or ""
    if not value.startswith("$") or len(value) < 2:
        raise ValueError(
            f'<{obj.tag} name="{target}" value="{value}"> must read task data, e.g. value="$text".'
        )
    labels: list[str] = []
    for choice in control.iter():
        if choice.tag.lower() == "choice":
            label = choice.get("alias") or choice.get("value")
            if label and label not in labels:
                labels.append(label)
    if not labels:
        raise ValueError(
            f'<Choices name="{control_name}"> lists no <Choice value="..."/>; choices taken '
            "from task data are not supported: list them in the config."
        )
    return LabelConfig(control_name, target, tag, value[1:], tuple(labels))


# ------------------------------------------------------------------------------ the maths


def default_text_model() -> Any:
    """The default text classifier: TF-IDF of word 1–2-grams, then logistic regression.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; fits on a list of strings.

    Examples
    --------
    >>> model = default_text_model().fit(["good", "great", "bad", "awful"], list("ppnn"))
    >>> model.predict(["good good"]).tolist()
    ['p']
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("logreg", LogisticRegression(max_iter=1000)),
        ]
    )


def _text_features(texts: Sequence[str]) -> np.ndarray:
    """Stateless features of texts: hashed word 1–2-grams, l2-normalised, float32 (n, 512)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    hashing = HashingVectorizer(
        n_features=_HASH_FEATURES, ngram_range=(1, 2), alternate_sign=False, dtype=np.float32
    )
    return np.ascontiguousarray(hashing.transform(list(texts)).toarray(), dtype=np.float32)


def _mid_rank(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Empirical CDF with ties at mid-rank: the share of ``reference`` below each value."""
    below = np.searchsorted(reference, values, side="left")
    at_most = np.searchsorted(reference, values, side="right")
    return (below + at_most) / (2.0 * reference.shape[0])


def _utility_priority(
    utilities: np.ndarray, strategy: str, n_classes: int, reference: np.ndarray | None
) -> np.ndarray:
    """Utilities mapped to [0, 1]: divided by their maximum when known, else mid-ranked."""
    bound = _UTILITY_BOUND.get(strategy)
    if bound is not None and n_classes > 1:
        return np.clip(utilities / bound(n_classes), 0.0, 1.0)
    if reference is None or reference.shape[0] == 0:
        return np.full(utilities.shape, 0.5)
    return _mid_rank(reference, utilities)


def _typicality(queries: np.ndarray, points: np.ndarray, n_neighbors: int) -> np.ndarray:
    r"""TypiClust's typicality against reference points, the nearest one left out.

    :math:`\big(\frac{1}{K}\sum_{j=2}^{K+1} \lVert x - p_{(j)} \rVert\big)^{-1}` with
    :math:`p_{(j)}` the j-th nearest point: the nearest is the item itself when it is a
    reference point, so reference points and other items are measured alike.
    ``K = min(n_neighbors, (n − 1) // 2)``, at least 1, for ``n`` points.
    """
    n = points.shape[0]
    if n < 2:
        return np.ones(queries.shape[0])
    neighbors = max(1, min(n_neighbors, (n - 1) // 2))
    sq_dist = k_nearest_distances(
        queries, squared_norms(queries), points, squared_norms(points), neighbors + 1
    )
    sq_dist.sort(axis=1)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(sq_dist[:, 1:]).mean(axis=1)


@dataclass(frozen=True)
class _PoolSummary:
    """k-means centres of a pool sample, and typicality reference points with their scores."""

    centres: np.ndarray
    points: np.ndarray
    typicality: np.ndarray  # sorted typicality of ``points``

    def clusters(self, features: np.ndarray) -> np.ndarray:
        return nearest_centres(features, squared_norms(features), self.centres)[0]

    def priority(self, features: np.ndarray) -> np.ndarray:
        """Cold-start priority: the mid-rank of the typicality among the points'."""
        return _mid_rank(self.typicality, _typicality(features, self.points, _NEIGHBORS))


def _summarise(texts: Sequence[str], n_clusters: int, rng: np.random.Generator) -> _PoolSummary:
    """k-means centres (best of a few runs) and the typicality reference of a pool sample.

    At most √(n/2) clusters for n texts, so a small pool is not cut into singletons.
    """
    if len(texts) > _KMEANS_ROWS:
        texts = [texts[i] for i in np.sort(rng.choice(len(texts), _KMEANS_ROWS, replace=False))]
    features = _text_features(texts)
    k = min(n_clusters, len(set(texts)), max(1, round(math.sqrt(len(texts) / 2))))
    runs = [kmeans(features, k, rng, greedy=True) for _ in range(_KMEANS_RUNS)]
    centres = min(runs, key=lambda run: float(run.sq_dist.sum(dtype=np.float64))).centres
    points = features
    if points.shape[0] > _TYPICALITY_ROWS:
        points = points[np.sort(rng.choice(points.shape[0], _TYPICALITY_ROWS, replace=False))]
    typicality = np.sort(_typicality(points, points, _NEIGHBORS))
    return _PoolSummary(centres, points, typicality)


# ------------------------------------------------------------------------ backend state


@dataclass(frozen=True)
class _Version:
    """Everything a prediction depends on; replaced whole, never changed."""

    name: str
    model: Any = None  # a fitted activelab ModelAdapter, or None (cold start)
    classes: tuple[str, ...] = ()
    pool: _PoolSummary | None = None
    reference: np.ndarray | None = None  # sorted pool utilities (rank normalisation)
    pool_size: int = 0  # known pool when the version was made


@dataclass(frozen=True)
class _Label:
    task: str
    text: str
    label: str


@dataclass
class _Project:
    """One Label Studio project's state; every field is guarded by ``lock``."""

    config: LabelConfig | None = None
    config_xml: str | None = None
    labels: dict[str, _Label] = field(default_factory=dict)  # annotation id → label
    pool: OrderedDict[str, str] = field(default_factory=OrderedDict)  # task id → text
    counter: int = 0
    version: _Version | None = None
    status: str = "not trained yet"
    pending: bool = False  # labels changed since the last training began
    lock: threading.RLock = field(default_factory=threading.RLock)


class _Store:
    """The labelled set, configs and version counters in ``MODEL_DIR/labelstudio.db``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "labelstudio.db"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS labels (project TEXT NOT NULL, annotation TEXT NOT "
            "NULL, task TEXT NOT NULL, text TEXT NOT NULL, label TEXT NOT NULL, "
            "PRIMARY KEY (project, annotation))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS projects (project TEXT PRIMARY KEY, config TEXT, "
            "counter INTEGER NOT NULL DEFAULT 0)"
        )

    def _write(self, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, parameters in statements:
                    self._db.execute(sql, parameters)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def save(
        self,
        project: str,
        upserts: Mapping[str, _Label],
        deletes: Iterable[str],
        *,
        replace: bool = False,
    ) -> None:
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if replace:
            statements.append(("DELETE FROM labels WHERE project = ?", (project,)))
        statements += [
            ("DELETE FROM labels WHERE project = ? AND annotation = ?", (project, annotation))
            for annotation in deletes
        ]
        statements += [
            (
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?, ?)",
                (project, annotation, row.task, row.text, row.label),
            )
            for annotation, row in upserts.items()
        ]
        self._write(statements)

    def save_project(self, project: str, config: str | None, counter: int) -> None:
        self._write(
            [
                (
                    "INSERT INTO projects (project, config, counter) VALUES (?, ?, ?) "
                    "ON CONFLICT (project) DO UPDATE SET "
                    "config = COALESCE(excluded.config, config), counter = excluded.counter",
                    (project, config, counter),
                )
            ]
        )

    def load(self) -> dict[str, tuple[str | None, int, dict[str, _Label]]]:
        with self._lock:
            projects = {
                project: (config, counter, {})
                for project, config, counter in self._db.execute(
                    "SELECT project, config, counter FROM projects"
                )
            }
            for project, annotation, task, text, label in self._db.execute(
                "SELECT project, annotation, task, text, label FROM labels"
            ):
                projects.setdefault(project, (None, 0, {}))[2][annotation] = _Label(
                    task, text, label
                )
        return projects

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _project_id(project: Any) -> str:
    """Label Studio's ``"<id>.<created timestamp>"`` (or a project dict) → ``"<id>"``."""
    if isinstance(project, Mapping):
        project = project.get("id")
    if project is None or project == "":
        return "default"
    return str(project).split(".", 1)[0]


def _grown(pool_size: int, version: _Version) -> bool:
    """True when the known pool has grown by half (and by one) since ``version`` was made."""
    return pool_size > 0 and pool_size >= max(
        version.pool_size * _REFRESH_GROWTH, version.pool_size + 1
    )


def _key(value: Any) -> str | None:
    return None if value is None else str(value)


# -------------------------------------------------------------------------------- backend


class MLBackend:
    """The Label Studio ML backend's state and logic, without the HTTP layer.

    :func:`create_ml_backend` puts it behind FastAPI routes (as ``app.state.backend``);
    every method takes the JSON body Label Studio sends and returns the JSON to answer.

    Parameters
    ----------
    model_factory : callable, optional
        ``model_factory()`` returns an unfitted classifier that fits on a list of task
        values (texts) and labels and has ``predict_proba`` (anything
        :func:`activelab.models.wrap` takes). Default: :func:`default_text_model`.
    strategy : str or Strategy, default="margin"
        A score strategy (it rates every item on its own), by registry name or instance.
    labels, from_name, to_name : optional
        ``from_name``/``to_name`` pick the ``<Choices>`` control and its object when the
        config has several; ``labels`` (with the names, default ``"label"`` and
        ``"text"``, reading ``$text``) stand in for a config when Label Studio sends none.
    model_dir : path, optional
        Keep the labelled set, configs and version counters in ``labelstudio.db`` there.
    n_clusters : int, default=8
        k-means clusters of the ``cluster`` field (fewer on a small pool).
    background : bool, default=True
        Retrain in a background thread (False: inside the request, for scripts and tests).
    random_state : int, default=0
        Seeds the k-means and the pool samples.
    max_pool : int, default=100_000
        Task texts remembered from ``/predict`` (oldest forgotten first).
    """

    def __init__(
        self,
        model_factory: Callable[[], Any] | None = None,
        strategy: Any = "margin",
        labels: Sequence[str] | None = None,
        from_name: str | None = None,
        to_name: str | None = None,
        *,
        model_dir: str | os.PathLike[str] | None = None,
        n_clusters: int = 8,
        background: bool = True,
        random_state: int = 0,
        max_pool: int = 100_000,
    ) -> None:
        self.strategy = _score_strategy(strategy)
        # The bounded uncertainty scores read the probabilities that /predict has already.
        self._from_proba = _proba_score(self.strategy)
        self.model_factory = model_factory or default_text_model
        self.from_name = from_name
        self.to_name = to_name
        self.default_config = (
            LabelConfig(from_name or "label", to_name or "text", "Text", "text", tuple(labels))
            if labels
            else None
        )
        if isinstance(labels, str):
            raise TypeError(f"labels must be a list of strings; got the string {labels!r}.")
        if n_clusters < 1 or max_pool < 1:
            raise ValueError(
                f"n_clusters and max_pool must be at least 1; got {n_clusters} and {max_pool}."
            )
        self.n_clusters = n_clusters
        self.background = background
        self.random_state = random_state
        self.max_pool = max_pool
        self.model_class = f"activelab-{self.strategy.name}"
        self._token = "" if model_dir is not None else secrets.token_hex(3)
        self._projects: dict[str, _Project] = {}
        self._projects_lock = threading.Lock()
        self._queue: dict[str, None] = {}  # projects waiting for a retrain, in order
        self._busy = 0
        self._closed = False
        self._wake = threading.Condition()
        self._worker: threading.Thread | None = None
        self._store = _Store(Path(model_dir)) if model_dir is not None else None
        if self._store is not None:
            self._restore()

    # ---------------------------------------------------------------- protocol methods

    def setup(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /setup``: read the labelling config; return the current model version.

        Parameters
        ----------
        payload : mapping
            ``{"project": "1.1700000000", "schema": "<View>…", "hostname", "access_token",
            "extra_params"}``.

        Returns
        -------
        dict
            ``{"model_version": str}``.
        """
        project_id = _project_id(payload.get("project"))
        project = self._project(project_id)
        with project.lock:
            self._use_config(project, payload.get("schema"), project_id)
            version = self._current(project, project_id)
        return {"model_version": version.name}

    def predict(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /predict``: one prediction per task, in the order of ``tasks``.

        Parameters
        ----------
        payload : mapping
            ``{"tasks": [{"id", "data": {...}}, ...], "project", "label_config", "params"}``.

        Returns
        -------
        dict
            ``{"results": [{"result": [...], "score": float, "model_version": str,
            "cluster": int}, ...], "model_version": str}``. ``result`` holds one
            ``choices`` region with the predicted label and its probability as
            ``score``; it is empty before the first model (cold start).
        """
        tasks = payload.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, Mapping) for t in tasks):
            raise ProtocolError(400, "/predict needs 'tasks': a list of task objects.")
        project_id = _project_id(payload.get("project"))
        project = self._project(project_id)
        with project.lock:
            config = self._use_config(project, payload.get("label_config"), project_id)
            values = [_task_value(task, config) for task in tasks]
            for task, value in zip(tasks, values, strict=True):
                if value is not None and task.get("id") is not None:
                    self._remember(project, str(task["id"]), value)
            version = self._current(project, project_id)
        return {
            "results": self._predictions(version, config, values),
            "model_version": version.name,
        }

    def webhook(self, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """``POST /webhook``: update the labelled set from an event and retrain.

        Parameters
        ----------
        payload : mapping
            A Label Studio webhook body: ``{"action", "project": {"id", "label_config",
            …}, "annotation": {...}, "task": {...}}`` (``"annotations": [{"id"}]`` for
            deletions).

        Returns
        -------
        status : int
            201 for the events in :data:`TRAIN_EVENTS`, 200 for any other.
        body : dict
            ``{"result": {...}, "status": "ok"}``, or ``{"status": "Unknown event"}``.
        """
        action = payload.get("action")
        if not isinstance(action, str):
            raise ProtocolError(400, "the webhook body has no 'action'; is this Label Studio?")
        if action not in TRAIN_EVENTS:
            return 200, {"status": "Unknown event"}
        raw_project = payload.get("project")
        project_id = _project_id(raw_project)
        project = self._project(project_id)
        xml = raw_project.get("label_config") if isinstance(raw_project, Mapping) else None
        skipped: list[str] = []
        with project.lock:
            config = self._use_config(project, xml, project_id)
            if action in _DELETE_EVENTS:
                ids = _deleted_ids(payload)
                upserts: dict[str, _Label] = {}
            else:
                upserts, ids = _annotation_changes(payload, config, project.pool, skipped)
            for row in upserts.values():
                self._remember(project, row.task, row.text)
            changed = self._apply(project, project_id, upserts, ids)
        result = self._after_change(project, project_id, changed or action == "START_TRAINING")
        result.update(action=action, changed=changed, skipped=skipped)
        return 201, {"result": result, "status": "ok"}

    def train(self, payload: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Legacy ``POST /train``: replace the labelled set with the annotated tasks given.

        Parameters
        ----------
        payload : mapping
            ``{"annotations": [task with "annotations": [...]], "project",
            "label_config", "params"}``.

        Returns
        -------
        status : int
            201, or 400 without annotations (as the SDK's ``/train`` did).
        body : dict
            ``{"result": {...}, "status": "ok"}``.
        """
        tasks = payload.get("annotations")
        if not isinstance(tasks, list) or not tasks:
            return 400, {"status": 400, "detail": "No annotations found: send 'annotations'."}
        project_id = _project_id(payload.get("project"))
        project = self._project(project_id)
        skipped: list[str] = []
        with project.lock:
            config = self._use_config(project, payload.get("label_config"), project_id)
            rows: dict[str, _Label] = {}
            for task in tasks:
                if not isinstance(task, Mapping):
                    skipped.append("an item of 'annotations' is not a task object")
                    continue
                body = {"task": task, "annotations": task.get("annotations") or []}
                found, _ = _annotation_changes(body, config, project.pool, skipped)
                rows.update(found)
            for row in rows.values():
                self._remember(project, row.task, row.text)
            changed = self._apply(project, project_id, rows, (), replace=True)
        result = self._after_change(project, project_id, True)
        result.update(action="train", changed=changed, skipped=skipped)
        return 201, {"result": result, "status": "ok"}

    def health(self) -> dict[str, Any]:
        """``GET /health``: ``{"status": "UP", "model_class": ...}``.

        Returns
        -------
        dict
        """
        return {"status": "UP", "model_class": self.model_class}

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no retrain is queued or running.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most.

        Returns
        -------
        bool
            False when the timeout ran out first.
        """
        with self._wake:
            return self._wake.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self) -> None:
        """Stop the background trainer (after its current retrain) and close the store."""
        with self._wake:
            self._closed = True
            self._queue.clear()
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
        if self._store is not None:
            self._store.close()

    # -------------------------------------------------------------------- internals

    def _project(self, project_id: str) -> _Project:
        with self._projects_lock:
            return self._projects.setdefault(project_id, _Project())

    def _use_config(self, project: _Project, xml: Any, project_id: str) -> LabelConfig:
        """Parse a config that differs from the project's; the project's, or the default."""
        if isinstance(xml, str) and xml.strip() and xml != project.config_xml:
            try:
                project.config = parse_label_config(xml, self.from_name, self.to_name)
            except ValueError as error:
                raise ProtocolError(422, str(error)) from None
            project.config_xml = xml
            if self._store is not None:
                self._store.save_project(project_id, xml, project.counter)
        if (
            project.config is not None
            and project.config.object_tag == "Image"
            and self.model_factory is default_text_model
        ):
            raise ProtocolError(
                422,
                f"<Image name={project.config.to_name!r}>: the default model reads text; "
                "give create_ml_backend a model_factory whose model fits on the image values "
                "(URLs or paths) of the tasks.",
            )
        config = project.config or self.default_config
        if config is None:
            raise ProtocolError(
                422,
                "no labelling config for this project: Label Studio sends it to /setup and "
                "with /predict; or start the backend with labels (--labels a,b,c).",
            )
        return config

    def _remember(self, project: _Project, task: str, text: str) -> None:
        project.pool[task] = text
        project.pool.move_to_end(task)
        while len(project.pool) > self.max_pool:
            project.pool.popitem(last=False)

    def _apply(
        self,
        project: _Project,
        project_id: str,
        upserts: Mapping[str, _Label],
        deletes: Iterable[str],
        *,
        replace: bool = False,
    ) -> int:
        """Change the labelled set (store first, then memory); the number of rows changed."""
        deletes = [annotation for annotation in deletes if annotation not in upserts]
        if replace:
            deletes = [annotation for annotation in project.labels if annotation not in upserts]
        changed = sum(project.labels.get(a) != row for a, row in upserts.items())
        changed += sum(annotation in project.labels for annotation in deletes)
        if self._store is not None:
            self._store.save(project_id, upserts, deletes, replace=replace)
        for annotation in deletes:
            project.labels.pop(annotation, None)
        project.labels.update(upserts)
        if changed:
            project.pending = True
        return changed

    def _after_change(self, project: _Project, project_id: str, retrain: bool) -> dict[str, Any]:
        with project.lock:
            n_labels = len(project.labels)
            classes = {row.label for row in project.labels.values()}
            if retrain:
                project.pending = True
        if not retrain:
            training = "not needed: the labelled set did not change"
        elif len(classes) < 2:
            training = "waiting: a model needs labels of two classes"
            if project.version is not None and project.version.model is not None:
                self._schedule(project_id)  # back to cold start
        else:
            training = "scheduled" if self.background else "ran"
            self._schedule(project_id)
        with project.lock:
            version = self._current(project, project_id).name
            status = project.status
        return {
            "project": project_id,
            "labelled": n_labels,
            "training": training,
            "model_version": version,
            "last_training": status,
        }

    def _current(self, project: _Project, project_id: str) -> _Version:
        """The project's version; a new one once the known pool has grown by half. Lock held."""
        version = project.version
        if version is not None and not _grown(len(project.pool), version):
            return version
        model = version.model if version is not None else None
        classes = version.classes if version is not None else ()
        texts = list(project.pool.values())
        summary, reference, size = self._materials(texts, model, project.config, None)
        return self._install(project, project_id, model, classes, summary, reference, size)

    def _materials(
        self, texts: list[str], model: Any, config: LabelConfig | None, previous: _Version | None
    ) -> tuple[_PoolSummary | None, np.ndarray | None, int]:
        """The pool summary (kept from ``previous`` unless the pool has grown), the sorted
        reference utilities (unbounded utilities only) and the pool size they stand for."""
        rng = np.random.default_rng([self.random_state, len(texts)])
        if len(texts) > _REFERENCE_ROWS:
            keep = np.sort(rng.choice(len(texts), size=_REFERENCE_ROWS, replace=False))
            texts_sample = [texts[i] for i in keep]
        else:
            texts_sample = texts
        config = config or self.default_config
        if previous is not None and not _grown(len(texts), previous):
            summary, size = previous.pool, previous.pool_size
        else:
            summary, size = None, len(texts)
            if texts and config is not None and config.object_tag != "Image":
                summary = _summarise(texts_sample, self.n_clusters, rng)
        reference = None
        if model is not None and texts and self._from_proba is None:
            reference = np.sort(self.strategy.utilities(model, texts_sample))
        return summary, reference, size

    def _install(
        self,
        project: _Project,
        project_id: str,
        model: Any,
        classes: tuple[str, ...],
        summary: _PoolSummary | None,
        reference: np.ndarray | None,
        pool_size: int,
    ) -> _Version:
        """Make and keep a new version under a new name; lock held."""
        project.counter += 1
        name = f"{self.model_class}-{'cold-' if model is None else ''}v{project.counter}"
        version = _Version(
            f"{name}-{self._token}" if self._token else name,
            model,
            classes,
            summary,
            reference,
            pool_size,
        )
        project.version = version
        if self._store is not None:
            self._store.save_project(project_id, None, project.counter)
        return version

    def _predictions(
        self, version: _Version, config: LabelConfig, values: Sequence[str | None]
    ) -> list[dict[str, Any]]:
        priority = np.full(len(values), 0.5)
        cluster = np.full(len(values), -1)
        top = np.zeros(len(values), dtype=np.int64)
        top_proba = np.zeros(len(values))
        known = np.array([i for i, value in enumerate(values) if value is not None], dtype=int)
        for start in range(0, known.shape[0], _PREDICT_ROWS):  # bounded memory
            rows = known[start : start + _PREDICT_ROWS]
            texts = [values[i] for i in rows]
            if version.pool is not None and config.object_tag != "Image":
                features = _text_features(texts)
                cluster[rows] = version.pool.clusters(features)
                if version.model is None:
                    priority[rows] = version.pool.priority(features)
            if version.model is not None:
                proba = np.asarray(version.model.predict_proba(texts), dtype=np.float64)
                top[rows] = np.argmax(proba, axis=1)
                top_proba[rows] = proba[np.arange(len(rows)), top[rows]]
                utilities = (
                    self._from_proba(proba)
                    if self._from_proba is not None
                    else self.strategy.utilities(version.model, texts)
                )
                priority[rows] = _utility_priority(
                    utilities,
                    self.strategy.name,
                    len(version.classes),
                    version.reference,
                )
        results = []
        for index, value in enumerate(values):
            prediction: dict[str, Any] = {
                "result": [],
                # no value to score: served last
                "score": 1.0 if value is None else float(1.0 - priority[index]),
                "model_version": version.name,
            }
            if value is not None and version.model is not None:
                prediction["result"] = [
                    {
                        "from_name": config.from_name,
                        "to_name": config.to_name,
                        "type": "choices",
                        "value": {"choices": [version.classes[top[index]]]},
                        "score": float(top_proba[index]),
                    }
                ]
            if cluster[index] >= 0:
                prediction["cluster"] = int(cluster[index])
            results.append(prediction)
        return results

    # ------------------------------------------------------------------------ training

    def _schedule(self, project_id: str) -> None:
        if not self.background:
            self._retrain(project_id)
            return
        with self._wake:
            if self._closed:
                return
            self._queue[project_id] = None
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="activelab-ml-backend-trainer", daemon=True
                )
                self._worker.start()
            self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                project_id = next(iter(self._queue))
                del self._queue[project_id]
                self._busy += 1
            try:
                self._retrain(project_id)
            except Exception:  # pragma: no cover - _retrain records its own failures
                logger.exception("retraining project %s failed", project_id)
            finally:
                with self._wake:
                    self._busy -= 1
                    self._wake.notify_all()

    def _retrain(self, project_id: str) -> None:
        """Fit a new model on the labelled set and install it as a new version."""
        project = self._project(project_id)
        with project.lock:
            if not project.pending:
                return
            project.pending = False
            rows = list(project.labels.values())
            pool = list(project.pool.values())
            config = project.config
            previous = project.version
            cold_now = previous is None or previous.model is None
        labels = [row.label for row in rows]
        if len(set(labels)) < 2:
            with project.lock:
                project.status = (
                    f"cold start: {len(set(labels))} class(es) labelled, a model needs two"
                )
                if not cold_now:  # labels were withdrawn: back to cold start
                    summary, _, size = self._materials(pool, None, config, previous)
                    self._install(project, project_id, None, (), summary, None, size)
            return
        try:
            model, classes = self._fit([row.text for row in rows], labels)
            summary, reference, size = self._materials(pool, model, config, previous)
        except Exception as error:
            logger.exception("training on project %s failed", project_id)
            with project.lock:
                project.status = f"training failed: {type(error).__name__}: {error}"
            return
        with project.lock:
            self._install(project, project_id, model, classes, summary, reference, size)
            project.status = f"trained on {len(rows)} labels"
            again = project.pending
        if again:
            self._schedule(project_id)

    def _fit(self, texts: list[str], labels: list[str]) -> tuple[Any, tuple[str, ...]]:
        from activelab.models import wrap

        estimator = self.model_factory()
        estimator.fit(texts, labels)
        model = wrap(estimator)
        classes = getattr(model, "classes_", None)
        if classes is None:
            classes = getattr(estimator, "classes_", None)
        if classes is None:
            raise TypeError(
                "the fitted model has no classes_; model_factory must build a classifier "
                "such as a scikit-learn Pipeline ending in LogisticRegression."
            )
        self.strategy.utilities(model, texts[:1])  # fails early when a capability is missing
        return model, tuple(str(label) for label in classes)

    def _restore(self) -> None:
        assert self._store is not None
        for project_id, (xml, counter, rows) in self._store.load().items():
            project = self._project(project_id)
            with project.lock:
                project.counter = counter
                if xml:
                    try:
                        project.config = parse_label_config(xml, self.from_name, self.to_name)
                        project.config_xml = xml
                    except ValueError as error:
                        logger.warning("project %s: stored config ignored: %s", project_id, error)
                project.labels = dict(rows)
                for row in rows.values():
                    self._remember(project, row.task, row.text)
                project.pending = bool(rows)
            if len({row.label for row in rows.values()}) >= 2:
                self._schedule(project_id)


def _score_strategy(strategy: Any) -> Any:
    """A score strategy by name or instance; a ValueError naming the usable ones otherwise."""
    from activelab import strategies

    if isinstance(strategy, str):
        strategy = strategies.get(strategy)
    if not isinstance(strategy, strategies.ScoreStrategy):
        scored = [
            name
            for name in strategies.available()
            if isinstance(strategies.get(name), strategies.ScoreStrategy)
        ]
        raise ValueError(
            f"the ML backend needs a strategy that scores each item on its own, since "
            f"Label Studio sorts tasks by one score each; {getattr(strategy, 'name', strategy)!r}"
            f" picks a batch. Use one of {', '.join(scored)} (diversity comes through the "
            "cluster field)."
        )
    return strategy


def _proba_score(strategy: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The score function of a registry uncertainty strategy with a known maximum."""
    from activelab import scores, strategies

    name = strategy.name
    if name not in _UTILITY_BOUND or type(strategy) is not type(strategies.get(name)):
        return None
    return scores.UNCERTAINTY[name]


def _task_value(task: Mapping[str, Any], config: LabelConfig) -> str | None:
    """The task's ``data[value_key]`` as a string, or None when it has none."""
    data = task.get("data")
    if not isinstance(data, Mapping):
        return None
    value = data.get(config.value_key)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _deleted_ids(payload: Mapping[str, Any]) -> list[str]:
    """Annotation ids of a deletion event: ``annotations: [{id}]``, ``annotation`` or ``id``."""
    found = payload.get("annotations")
    if found is None:
        found = payload.get("annotation")
    if found is None and payload.get("id") is not None:
        found = {"id": payload["id"]}
    if isinstance(found, Mapping):
        found = [found]
    ids = [item.get("id") if isinstance(item, Mapping) else item for item in found or []]
    return [str(identifier) for identifier in ids if identifier is not None]


def _annotation_label(result: Any, config: LabelConfig) -> str | None:
    """The choice of ``config``'s control in an annotation's ``result`` list, if any."""
    for region in result if isinstance(result, list) else ():
        if not isinstance(region, Mapping) or region.get("from_name") != config.from_name:
            continue
        if str(region.get("type", "")).lower() != "choices":
            continue
        choices = (region.get("value") or {}).get("choices")
        if isinstance(choices, list) and choices:
            return str(choices[0])
    return None


def _annotation_changes(
    payload: Mapping[str, Any],
    config: LabelConfig,
    pool: Mapping[str, str],
    skipped: list[str],
) -> tuple[dict[str, _Label], list[str]]:
    """Rows to upsert and annotation ids to drop, from an annotation event's body."""
    annotations = payload.get("annotations", payload.get("annotation"))
    if isinstance(annotations, Mapping):
        annotations = [annotations]
    task_items = payload.get("task")
    if isinstance(task_items, Mapping):
        task_items = [task_items]
    tasks = {str(task.get("id")): task for task in task_items or [] if isinstance(task, Mapping)}
    upserts: dict[str, _Label] = {}
    drops: list[str] = []
    for annotation in annotations or []:
        if not isinstance(annotation, Mapping) or annotation.get("id") is None:
            skipped.append("an annotation without an id")
            continue
        annotation_id = str(annotation["id"])
        task_ref = annotation.get("task")
        if isinstance(task_ref, Mapping):
            tasks.setdefault(str(task_ref.get("id")), task_ref)
            task_ref = task_ref.get("id")
        task_id = _key(task_ref)
        if task_id is None and len(tasks) == 1:
            task_id = next(iter(tasks))
        label = (
            None
            if annotation.get("was_cancelled")
            else _annotation_label(annotation.get("result"), config)
        )
        if label is None:
            drops.append(annotation_id)  # skipped, or no choice of our control: no label
            continue
        if config.labels and label not in config.labels:
            skipped.append(f"annotation {annotation_id}: {label!r} is not a label of the config")
            drops.append(annotation_id)
            continue
        text = _task_value(tasks[task_id], config) if task_id in tasks else None
        if text is None and task_id is not None:
            text = pool.get(task_id)
        if text is None or task_id is None:
            skipped.append(
                f"annotation {annotation_id}: the text of task {task_id} is unknown (the "
                f"payload has no task data['{config.value_key}'] and /predict has not seen it)"
            )
            continue
        upserts[annotation_id] = _Label(task_id, text, label)
    return upserts, drops


# ------------------------------------------------------------------------------- the app


def _credentials(basic_auth: Any) -> tuple[str, str] | None:
    """``"user:password"`` or a pair → (user, password); None stays None."""
    if basic_auth is None:
        return None
    if isinstance(basic_auth, str):
        user, colon, password = basic_auth.partition(":")
        if not colon or not user or not password:
            raise ValueError("basic_auth must be 'user:password' with both parts non-empty.")
        return user, password
    user, password = basic_auth
    if not user or not password:
        raise ValueError("basic_auth must be a (user, password) pair, both non-empty.")
    return str(user), str(password)


def _authorised(header: str | None, credentials: tuple[str, str]) -> bool:
    """Whether an ``Authorization: Basic …`` header holds the credentials (constant time)."""
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = (
            base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return False
    same_user = hmac.compare_digest(user.encode(), credentials[0].encode())
    same_password = hmac.compare_digest(password.encode(), credentials[1].encode())
    return same_user and same_password


def create_ml_backend(
    model_factory: Callable[[], Any] | None = None,
    strategy: Any = "margin",
    labels: Sequence[str] | None = None,
    from_name: str | None = None,
    to_name: str | None = None,
    basic_auth: str | tuple[str, str] | None = None,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    n_clusters: int = 8,
    background: bool = True,
    random_state: int = 0,
) -> Any:
    """A FastAPI app that speaks Label Studio's ML-backend protocol.

    Connect it in Label Studio under Settings → Model → Connect Model (URL of the app;
    "Basic Authentication" with the same user and password when ``basic_auth`` is set),
    then choose "Uncertainty sampling" or sort the Data Manager by prediction score: the
    lowest score is the most informative task (see the module docstring).

    Parameters
    ----------
    model_factory, strategy, labels, from_name, to_name, model_dir, n_clusters,
    background, random_state
        As for :class:`MLBackend`.
    basic_auth : str or (str, str), optional
        ``"user:password"``: every route then answers 401 with ``WWW-Authenticate``
        unless the request carries these HTTP Basic credentials.

    Returns
    -------
    fastapi.FastAPI
        With the :class:`MLBackend` as ``app.state.backend``.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> app = create_ml_backend(labels=["pos", "neg"], background=False)
    >>> TestClient(app).get("/health").json()
    {'status': 'UP', 'model_class': 'activelab-margin'}
    """
    fastapi = require("fastapi", "studio", "the Label Studio ML backend")
    responses = require("fastapi.responses", "studio", "the Label Studio ML backend")
    credentials = _credentials(basic_auth)
    backend = MLBackend(
        model_factory,
        strategy,
        labels,
        from_name,
        to_name,
        model_dir=model_dir,
        n_clusters=n_clusters,
        background=background,
        random_state=random_state,
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        backend.close()

    app = fastapi.FastAPI(
        title="activelab ML backend for Label Studio",
        description="Label Studio's ML-backend protocol, scored by an activelab strategy.",
        lifespan=lifespan,
    )
    app.state.backend = backend
    body = fastapi.Body(...)
    JSONResponse = responses.JSONResponse

    if credentials is not None:

        @app.middleware("http")
        async def basic_auth_guard(request: Any, call_next: Any) -> Any:
            if not _authorised(request.headers.get("authorization"), credentials):
                return responses.PlainTextResponse(
                    "Unauthorized", status_code=401, headers={"WWW-Authenticate": _REALM}
                )
            return await call_next(request)

    @app.exception_handler(ProtocolError)
    async def protocol_error(request: Any, error: ProtocolError) -> Any:
        return JSONResponse({"status": error.status, "detail": error.detail}, error.status)

    @app.exception_handler(Exception)
    async def server_error(request: Any, error: Exception) -> Any:
        # As the SDK answers: Label Studio shows the detail in the model's error state.
        logger.error("%s %s failed", request.method, request.url.path, exc_info=error)
        detail = f"{type(error).__name__}: {error}"
        return JSONResponse({"status": 500, "detail": detail}, 500)

    @app.get("/health")
    @app.get("/")
    def health() -> Any:
        return backend.health()

    @app.post("/setup")
    def setup(payload: dict[str, Any] = body) -> Any:
        return backend.setup(payload)

    @app.post("/predict")
    def predict(payload: dict[str, Any] = body) -> Any:
        return backend.predict(payload)

    @app.post("/webhook")
    def webhook(payload: dict[str, Any] = body) -> Any:
        status, answer = backend.webhook(payload)
        return JSONResponse(answer, status)

    @app.post("/train")
    def train(payload: dict[str, Any] = body) -> Any:
        status, answer = backend.train(payload)
        return JSONResponse(answer, status)

    @app.get("/metrics")
    def metrics() -> Any:
        return {}

    return app


def ml_backend_command(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: all).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port (Label Studio's examples use 9090).")] = 9090,
    strategy: Annotated[
        str, typer.Option(help="A score strategy: margin, entropy, least_confidence, …")
    ] = "margin",
    basic_auth: Annotated[
        str | None,
        typer.Option(
            "--basic-auth",
            help="user:password for HTTP Basic auth (default: BASIC_AUTH_USER and "
            "BASIC_AUTH_PASS from the environment, as the Label Studio SDK reads them).",
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the labelled set in MODEL_DIR/labelstudio.db (SQLite)."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(help="a,b,c: the labels to use when Label Studio sends no config."),
    ] = None,
    from_name: Annotated[
        str | None, typer.Option(help="The <Choices> to fill when the config has several.")
    ] = None,
    to_name: Annotated[
        str | None, typer.Option(help="The object to read when the Choices label several.")
    ] = None,
) -> None:
    """Serve Label Studio's ML-backend protocol with an activelab strategy.

    Parameters
    ----------
    host, port : str, int
        Where to listen.
    strategy : str
        Registry name of a score strategy.
    basic_auth : str, optional
        ``user:password``.
    model_dir : Path, optional
        Persist the labelled set there.
    labels, from_name, to_name : str, optional
        As for :func:`create_ml_backend` (``labels`` comma-separated).
    """
    uvicorn = require("uvicorn", "studio", "serving the Label Studio ML backend")
    if basic_auth is None and os.environ.get("BASIC_AUTH_USER"):
        basic_auth = f"{os.environ['BASIC_AUTH_USER']}:{os.environ.get('BASIC_AUTH_PASS', '')}"
    label_list = [label.strip() for label in labels.split(",") if label.strip()] if labels else None
    try:
        app = create_ml_backend(
            strategy=strategy,
            labels=label_list,
            from_name=from_name,
            to_name=to_name,
            basic_auth=basic_auth,
            model_dir=model_dir,
        )
    except (TypeError, ValueError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=2) from None
    url = f"http://{host}:{port}"
    typer.echo(f"activelab ML backend ({strategy}) for Label Studio at {url}")
    typer.echo(
        "In Label Studio: project Settings → Model → Connect Model, backend URL "
        f"{url}{' with Basic Authentication' if basic_auth else ''}."
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
