"""A studio project: its folder, its ``studio.toml`` and its row in the database.

A project folder holds ``studio.toml`` (the settings below), ``studio.db`` when the
database is SQLite, ``media/`` for image projects, and ``.admin_token`` (the first admin's
token, readable only by its owner; ``serve`` prints it).

``studio.toml``::

    name = "tweets"                       # letters, digits, - and _; used in URLs
    db = "sqlite:///studio.db"            # relative SQLite paths are in the project folder
    task = "text"                         # "text", "image", "ner", "segmentation", "detection"
    labels = ["negative", "neutral", "positive"]
    multi_label = false
    strategy = "diverse_minibatch"        # any registered strategy (activelab strategies)
    cold_start = "typiclust"              # ranking before a model exists
    budget = 500                          # labels wanted (0: no budget)
    retrain_every = 20                    # new answers between retrains
    min_labels = 10                       # labels before the first model
    model = "tfidf-logreg"                # or "pixels-logreg" for images
    overlap = 1                           # annotators per item
    lease_seconds = 600                   # how long an item stays with one annotator
    features = "tfidf"                    # text: "tfidf" or "minilm" (sentence embeddings)
    query = "sentences"                   # ner: "sentences" or "subsequences"
    regions = "slic"                      # segmentation: "slic" superpixels or "grid"
    n_regions = 200                       # segmentation: superpixels per image (about)
    grid_size = 32                        # segmentation: grid cell side in pixels
    class_balanced = false                # segmentation: class-balanced region scores
    detector = ""                         # detection: "module:function", a detector factory
    min_score = 0.25                      # detection: lowest confidence of a drawn proposal
    aggregation = "majority"              # overlapping answers: "majority" or "dawid_skene"
    llm = "off"                           # LLM labeller: "off", "suggest" or "route"
    llm_base_url = ""                     # e.g. "http://localhost:8000/v1" (vLLM)
    llm_model = ""                        # the model name the endpoint knows
    llm_api_key_env = "OPENAI_API_KEY"    # NAME of the variable holding the key ("": none)
    llm_task = ""                         # what to label, in a sentence or two
    llm_price_prompt = 0.0                # price per 1000 prompt tokens
    llm_price_completion = 0.0            # price per 1000 completion tokens
    llm_route_by = "threshold"            # route: "threshold" or "fraction"
    llm_threshold = 0.2                   # route: model uncertainty above this goes to people
    llm_human_fraction = 0.5              # route: share of each batch that goes to people
    llm_batch = 16                        # items per LLM round
    llm_lookahead = 50                    # suggest: queue places kept with an LLM suggestion
    llm_examples = 4                      # few-shot examples (from people's labels) per prompt
    llm_samples = 1                       # answers per item (>1: self-consistency confidence)
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CONFIG_FILE",
    "ProjectConfig",
    "init_project",
    "load_project",
    "write_config",
]

CONFIG_FILE = "studio.toml"
ADMIN_TOKEN_FILE = ".admin_token"
TASKS = ("text", "image", "ner", "segmentation", "detection")
#: Tasks whose data is a folder of images.
IMAGE_TASKS = ("image", "segmentation", "detection")
MODELS = {
    "text": "tfidf-logreg",
    "image": "pixels-logreg",
    "ner": "crf-tagger",
    "segmentation": "pixel-forest",
    "detection": "detector",
}
#: The query strategy of each task when ``strategy`` is left empty.
STRATEGIES = {
    "text": "diverse_minibatch",
    "image": "diverse_minibatch",
    "ner": "seq_mnlp",
    "segmentation": "entropy",
    "detection": "entropy",
}
#: The query strategy of a multi-label project when ``strategy`` is left empty: MMC
#: (Yang et al. 2009), see docs/studio.md.
MULTILABEL_STRATEGY = "mmc"
#: What a text project's model may read: TF-IDF, or MiniLM sentence embeddings.
FEATURES = ("tfidf", "minilm")
#: NER query granularity: whole sentences, or their most uncertain stretch.
QUERIES = ("sentences", "subsequences")
#: How overlapping answers become one label.
AGGREGATIONS = ("majority", "dawid_skene")
#: What the LLM labeller does: nothing, suggest a label to people, or label confident items.
LLM_MODES = ("off", "suggest", "route")
#: How route mode splits items between people and the LLM (as al.oracles.Router does).
LLM_ROUTES = ("threshold", "fraction")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BAD_LABEL = re.compile(r"[|,\n\r\t]")


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of one project, as read from its ``studio.toml``.

    Parameters
    ----------
    directory : pathlib.Path
        The project folder.
    name : str
        Used in URLs (``/api/p/{name}``): letters, digits, ``-`` and ``_``.
    labels : tuple of str
        The label set, in display order (keys 1–9 follow it).
    db : str
        Database URL; a relative SQLite path is taken inside ``directory``.
    task : {"text", "image", "ner"}
        ``ner``: sentences of tokens, labelled with entity spans of the types ``labels``.
    multi_label : bool
        Several labels per item (one binary question per label for the model).
    strategy : str
        Registry name of the query strategy that ranks the queue once a model exists;
        empty: the task's default (``diverse_minibatch``; ``seq_mnlp`` for ``ner``;
        ``mmc`` for multi-label projects, which take only multi-label strategies and
        label-free embedding ones).
    cold_start : str
        Registry name of the embedding-only strategy used before that (``typiclust`` or
        ``kmeans``).
    budget : int
        Labels wanted; 0 for no budget.
    retrain_every : int
        New answers between two retrains.
    min_labels : int
        Labels needed (besides one per class) before the first model.
    model : str
        ``"tfidf-logreg"`` for text, ``"pixels-logreg"`` for images, ``"crf-tagger"``
        for NER.
    overlap : int
        How many different annotators each item is served to.
    lease_seconds : int
        How long a served item stays reserved for its annotator.
    leases_per_annotator : int
        Open items one annotator may hold (the one on screen and one prefetched); past
        that, ``/next`` serves the caller's oldest open item again.
    batch_size : int
        Items ranked by the strategy per round; 0: ``max(2 · retrain_every, 50)``.
    max_upload_bytes : int
        Largest accepted upload to ``/import``.
    seed : int
        Seeds the rankings (round ``r`` uses ``seed + r``).
    features : {"tfidf", "minilm"}
        Text projects: what the model reads. ``minilm``: all-MiniLM-L6-v2 sentence
        embeddings (the ``torch`` extra), computed by the trainer in the background
        while the TF-IDF model keeps serving. The admin page can change it.
    query : {"sentences", "subsequences"}
        NER projects: ask for whole sentences, or for the most uncertain stretch of
        ``span_min``–``span_max`` tokens of each (the model fills the rest).
    span_min, span_max : int
        Lengths of a sub-sequence query, in tokens.
    regions : {"slic", "grid"}
        Segmentation: the regions asked about, SLIC superpixels or square cells.
    n_regions : int
        Segmentation: superpixels per image (about).
    grid_size : int
        Segmentation: side of a grid cell, in pixels.
    class_balanced : bool
        Segmentation: multiply region scores by the class-balanced weight of their
        dominant predicted class (Cai et al. 2021).
    detector : str
        Detection: ``"module:function"``, a factory returning a callable detector
        (:mod:`activelab.studio.detection`); empty: no detector, import order.
    min_score : float
        Detection: the detector's boxes with a lower confidence are not proposed.
    aggregation : {"majority", "dawid_skene"}
        How the answers to an item become the label that trains and is exported:
        majority vote, or Dawid–Skene EM over every answer of the project
        (:func:`activelab.oracles.dawid_skene`; single-label text and image projects).
    llm : {"off", "suggest", "route"}
        The LLM labeller (:mod:`activelab.studio.llm`; text projects, one label per
        item). ``suggest``: the LLM's label is computed in the background for the head
        of the queue and shown beside the model's; ``route``: items the model is
        confident about are labelled by the LLM (annotator ``llm:<model>``), the others
        go to people (:class:`activelab.oracles.Router`).
    llm_base_url, llm_model : str
        The OpenAI-compatible endpoint (``…/v1``) and the model name.
    llm_api_key_env : str
        The *name* of the environment variable that holds the API key ("" for none);
        the key is read per request and never stored or logged.
    llm_task : str
        What to label, in a sentence or two (goes into the prompt).
    llm_price_prompt, llm_price_completion : float
        Prices per 1000 tokens, for the cost shown on the admin page.
    llm_route_by : {"threshold", "fraction"}
        Route mode: send an item to people when the model's uncertainty (1 − its top
        probability) exceeds ``llm_threshold``, or send the ``llm_human_fraction`` most
        uncertain share of each batch.
    llm_threshold, llm_human_fraction : float
        In ``[0, 1]``.
    llm_batch : int
        Items per LLM round.
    llm_lookahead : int
        Suggest mode: the first places of the queue that get an LLM suggestion.
    llm_examples : int
        Few-shot examples per prompt, drawn from people's labels.
    llm_samples : int
        Answers per item; more than one gives a self-consistency confidence.
    """

    directory: Path
    name: str
    labels: tuple[str, ...]
    db: str = "sqlite:///studio.db"
    task: str = "text"
    multi_label: bool = False
    strategy: str = ""
    cold_start: str = "typiclust"
    budget: int = 0
    retrain_every: int = 20
    min_labels: int = 10
    model: str = ""
    overlap: int = 1
    lease_seconds: int = 600
    leases_per_annotator: int = 2
    batch_size: int = 0
    max_upload_bytes: int = 20 * 1024 * 1024
    seed: int = 0
    features: str = "tfidf"
    query: str = "sentences"
    span_min: int = 2
    span_max: int = 6
    regions: str = "slic"
    n_regions: int = 200
    grid_size: int = 32
    class_balanced: bool = False
    detector: str = ""
    min_score: float = 0.25
    aggregation: str = "majority"
    llm: str = "off"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key_env: str = "OPENAI_API_KEY"
    llm_task: str = ""
    llm_price_prompt: float = 0.0
    llm_price_completion: float = 0.0
    llm_route_by: str = "threshold"
    llm_threshold: float = 0.2
    llm_human_fraction: float = 0.5
    llm_batch: int = 16
    llm_lookahead: int = 50
    llm_examples: int = 4
    llm_samples: int = 1

    def __post_init__(self) -> None:
        if not self.strategy and self.multi_label and self.task in ("text", "image"):
            object.__setattr__(self, "strategy", MULTILABEL_STRATEGY)
        elif not self.strategy and self.task in STRATEGIES:
            object.__setattr__(self, "strategy", STRATEGIES[self.task])

    @property
    def url(self) -> str:
        """The database URL, a relative SQLite path made absolute inside the project folder."""
        from sqlalchemy.engine import make_url

        parsed = make_url(self.db)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database)
            if not path.is_absolute():
                path = Path(self.directory) / path
            return parsed.set(database=str(path)).render_as_string(hide_password=False)
        return self.db

    @property
    def model_name(self) -> str:
        """The model, or the task's default when ``model`` is empty."""
        return self.model or MODELS[self.task]

    @property
    def ranked_batch(self) -> int:
        """Items the strategy picks per ranking round."""
        return self.batch_size or max(2 * self.retrain_every, 50)

    def validate(self) -> ProjectConfig:
        """Check every setting; raise a ValueError naming the setting and what to do.

        Returns
        -------
        ProjectConfig
            ``self``.
        """
        where = Path(self.directory) / CONFIG_FILE
        if not _NAME.match(self.name):
            raise ValueError(
                f"{where}: name {self.name!r} must be 1–64 letters, digits, '-' or '_' "
                "(it is used in URLs)."
            )
        if self.task not in TASKS:
            raise ValueError(f"{where}: task must be one of {TASKS}; got {self.task!r}.")
        _check_labels(self.labels, where)
        from activelab import strategies
        from activelab.studio.trainer import check_strategy

        if self.task == "ner":
            self._validate_ner(where)
        if self.task == "segmentation":
            self._validate_segmentation(where)
        self._validate_detection(where)
        try:
            if self.task in ("segmentation", "detection"):
                pass  # checked by _validate_segmentation / _validate_detection
            elif self.task == "ner":
                from activelab.studio.ner import check_tagger_strategy

                check_tagger_strategy(self.strategy)
            else:
                check_strategy(self.strategy, self.multi_label)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: strategy: {error}") from None
        if self.features not in FEATURES:
            raise ValueError(f"{where}: features must be one of {FEATURES}; got {self.features!r}.")
        if self.features != "tfidf" and self.task != "text":
            raise ValueError(
                f"{where}: features {self.features!r} is for text projects; a {self.task} "
                'project reads its own features: set features = "tfidf".'
            )
        if self.query not in QUERIES:
            raise ValueError(f"{where}: query must be one of {QUERIES}; got {self.query!r}.")
        if self.query != "sentences" and self.task != "ner":
            raise ValueError(
                f'{where}: query {self.query!r} is for ner projects; use query = "sentences".'
            )
        try:
            strategy = strategies.get(self.cold_start)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: cold_start: {error}") from None
        if set(strategy.needs) - {"embed"}:
            raise ValueError(
                f"{where}: cold_start {self.cold_start!r} is not an embedding-only strategy; "
                "use typiclust or kmeans, which need only features."
            )
        if self.model_name != MODELS[self.task]:
            raise ValueError(
                f"{where}: model {self.model!r} does not fit a {self.task} project; use "
                f"{MODELS[self.task]!r} (or leave model empty)."
            )
        for key, low in (
            ("budget", 0),
            ("retrain_every", 1),
            ("min_labels", 1),
            ("overlap", 1),
            ("lease_seconds", 1),
            ("leases_per_annotator", 1),
            ("batch_size", 0),
            ("max_upload_bytes", 1),
            ("seed", 0),
            ("span_min", 1),
            ("span_max", 1),
            ("n_regions", 2),
            ("grid_size", 2),
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{where}: {key} must be an integer >= {low}; got {value!r}.")
        if self.span_max < self.span_min:
            raise ValueError(
                f"{where}: span_max ({self.span_max}) must be at least span_min ({self.span_min})."
            )
        self._validate_aggregation(where)
        self._validate_llm(where)
        return self

    def _validate_aggregation(self, where: Path) -> None:
        """Dawid–Skene needs one label per answer: single-label text or image projects."""
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"{where}: aggregation must be one of {AGGREGATIONS}; got {self.aggregation!r}."
            )
        if self.aggregation == "dawid_skene" and (
            self.multi_label or self.task not in ("text", "image")
        ):
            raise ValueError(
                f"{where}: aggregation dawid_skene estimates one confusion matrix per "
                "annotator over single labels: it is for single-label text and image "
                'projects; use aggregation = "majority" here.'
            )

    def _validate_llm(self, where: Path) -> None:
        """The LLM labeller's settings: mode, endpoint, key variable, prices, routing."""
        if self.llm not in LLM_MODES:
            raise ValueError(f"{where}: llm must be one of {LLM_MODES}; got {self.llm!r}.")
        key_env = self.llm_api_key_env
        if not isinstance(key_env, str) or (key_env and not _ENV_NAME.match(key_env)):
            raise ValueError(
                f"{where}: llm_api_key_env is the NAME of an environment variable (letters, "
                'digits, _), not the key itself; e.g. OPENAI_API_KEY, or "" for none.'
            )
        for key in ("llm_price_prompt", "llm_price_completion"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or isinstance(value, bool) or not value >= 0:
                raise ValueError(
                    f"{where}: {key} must be a price per 1000 tokens >= 0; got {value!r}."
                )
        for key in ("llm_threshold", "llm_human_fraction"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{where}: {key} must be a number in [0, 1]; got {value!r}.")
        if self.llm_route_by not in LLM_ROUTES:
            raise ValueError(
                f"{where}: llm_route_by must be one of {LLM_ROUTES}; got {self.llm_route_by!r}."
            )
        for key, low in (
            ("llm_batch", 1),
            ("llm_lookahead", 1),
            ("llm_examples", 0),
            ("llm_samples", 1),
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{where}: {key} must be an integer >= {low}; got {value!r}.")
        if self.llm == "off":
            return
        if self.task != "text" or self.multi_label:
            raise ValueError(
                f"{where}: the LLM labeller gives one label to a text; this is a "
                f"{'multi-label ' if self.multi_label else ''}{self.task} project. Set "
                'llm = "off".'
            )
        if not self.llm_base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"{where}: llm = {self.llm!r} needs llm_base_url, the endpoint's API root "
                f"(e.g. http://localhost:8000/v1 for vLLM); got {self.llm_base_url!r}."
            )
        if not self.llm_model.strip():
            raise ValueError(f"{where}: llm = {self.llm!r} needs llm_model, the model's name.")

    def _validate_segmentation(self, where: Path) -> None:
        """Segmentation: one class per pixel; region scores as strategies."""
        from activelab.studio.segmentation import REGION_KINDS, SEGMENTATION_SCORES

        if self.multi_label:
            raise ValueError(
                f"{where}: multi_label does not apply to segmentation projects (a pixel has "
                "one class)."
            )
        if self.strategy not in SEGMENTATION_SCORES:
            raise ValueError(
                f"{where}: strategy {self.strategy!r} does not score image regions; choose "
                f"one of {', '.join(SEGMENTATION_SCORES)} (pixel scores averaged over each "
                "region)."
            )
        if self.regions not in REGION_KINDS:
            raise ValueError(
                f"{where}: regions must be one of {REGION_KINDS}; got {self.regions!r}."
            )
        if not isinstance(self.class_balanced, bool):
            raise ValueError(f"{where}: class_balanced must be true or false.")

    def _validate_detection(self, where: Path) -> None:
        """Detection: one class per box; image scores as strategies; a detector's form."""
        from activelab.studio.detection import DETECTION_STRATEGIES, check_detector_spec

        if self.task != "detection":
            if self.detector:
                raise ValueError(
                    f"{where}: detector is for detection projects; this is a {self.task} "
                    'project: set detector = "".'
                )
            return
        if self.multi_label:
            raise ValueError(
                f"{where}: multi_label does not apply to detection projects (a box has one class)."
            )
        if self.strategy not in DETECTION_STRATEGIES:
            raise ValueError(
                f"{where}: strategy {self.strategy!r} does not score images for a detector; "
                f"choose one of {', '.join(DETECTION_STRATEGIES)}."
            )
        try:
            check_detector_spec(self.detector)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        score = self.min_score
        if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
            raise ValueError(f"{where}: min_score must be a number in [0, 1]; got {score!r}.")

    def _validate_ner(self, where: Path) -> None:
        """NER: one entity type per span (no multi-label), types without IOB prefixes."""
        if self.multi_label:
            raise ValueError(
                f"{where}: multi_label does not apply to ner projects (a span has one type)."
            )
        for label in self.labels:
            if label == "O" or re.match(r"^[BIESL]-", label):
                raise ValueError(
                    f"{where}: entity type {label!r}: give bare types (PER, LOC), not 'O' or "
                    "IOB tags; the tags are made from them."
                )


def _check_labels(labels: Sequence[str], where: Any) -> None:
    if len(labels) < 2:
        raise ValueError(f"{where}: labels needs at least two labels; got {list(labels)}.")
    for label in labels:
        if not isinstance(label, str) or not label.strip() or _BAD_LABEL.search(label):
            raise ValueError(
                f"{where}: label {label!r} must be a non-empty string without '|', ',', tabs "
                "or line breaks."
            )
    if len(set(labels)) != len(labels):
        raise ValueError(f"{where}: labels repeat a label: {list(labels)}.")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to {CONFIG_FILE}.")


def write_config(config: ProjectConfig) -> Path:
    """Write ``config`` to ``DIRECTORY/studio.toml``.

    Parameters
    ----------
    config : ProjectConfig

    Returns
    -------
    pathlib.Path
        The file written.
    """
    lines = []
    for item in dataclasses.fields(config):
        if item.name != "directory":
            lines.append(f"{item.name} = {_toml_value(getattr(config, item.name))}")
    path = Path(config.directory) / CONFIG_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_project(directory: str | os.PathLike[str]) -> ProjectConfig:
    """Read and check ``DIRECTORY/studio.toml``.

    Parameters
    ----------
    directory : str or path
        A project folder made by :func:`init_project`.

    Returns
    -------
    ProjectConfig
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    folder = Path(directory)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {folder} is not a studio project. Make one with "
            "`activelab studio init PROJECT --data FILE --labels a,b`."
        )
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error}).") from None
    known = {item.name for item in dataclasses.fields(ProjectConfig)} - {"directory"}
    missing = [key for key in ("name", "labels") if key not in values]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}.")
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"{path}: unknown setting {', '.join(unknown)}; the settings are "
            f"{', '.join(sorted(known))}."
        )
    if not isinstance(values["labels"], list):
        raise ValueError(f'{path}: labels must be a list of strings, e.g. ["a", "b"].')
    values["labels"] = tuple(values["labels"])
    return ProjectConfig(directory=folder.resolve(), **values).validate()


def init_project(
    directory: str | os.PathLike[str],
    data: str | os.PathLike[str] | None,
    labels: Sequence[str],
    *,
    name: str | None = None,
    db: str | None = None,
    limit: int | None = None,
    **settings: Any,
) -> ProjectConfig:
    """Make a project: folder, ``studio.toml``, database tables, items and an admin.

    Parameters
    ----------
    directory : str or path
        The project folder (created; it must not hold a project already).
    data : str or path or None
        A CSV or JSONL file of texts, or a folder of images (copied into
        ``DIRECTORY/media``); None for an empty project.
    labels : sequence of str
    name : str, optional
        Defaults to the folder's name.
    db : str, optional
        Database URL; default a SQLite file ``studio.db`` in the folder.
    limit : int, optional
        Import only the first ``limit`` items.
    **settings
        Any other :class:`ProjectConfig` field (``multi_label``, ``strategy``,
        ``budget``, ``retrain_every``, ``task``, …).

    Returns
    -------
    ProjectConfig

    Raises
    ------
    activelab.studio.importers.ImportFailed
        When the data has errors; each names the line and the field. Nothing is written
        to the database then.
    """
    from sqlalchemy import select

    from activelab.studio import auth, importers
    from activelab.studio import db as database

    folder = Path(directory)
    if (folder / CONFIG_FILE).exists():
        raise FileExistsError(
            f"{folder / CONFIG_FILE} exists: {folder} is a project already. Serve it, or pick "
            "another folder."
        )
    if data is not None and Path(data).is_dir():
        settings.setdefault("task", "image")
    if settings.get("task") in ("segmentation", "detection") and data is None:
        raise ValueError(
            f"a {settings['task']} project needs its images: pass --data FOLDER (a folder of "
            "images)."
        )
    if settings.get("features") == "minilm":
        from activelab.studio.features import minilm_problem

        problem = minilm_problem()
        if problem is not None:
            raise ValueError(f"features minilm: {problem}")
    default_name = re.sub(r"[^A-Za-z0-9_-]", "-", folder.resolve().name)[:64] or "project"
    config = ProjectConfig(
        directory=folder.resolve(),
        name=name or default_name,
        labels=tuple(labels),
        db=db or "sqlite:///studio.db",
        **settings,
    ).validate()
    records: list[importers.Record] = []
    if data is not None:
        kind = "image" if config.task in IMAGE_TASKS else config.task
        records = importers.read_records(data, task=kind, limit=limit)
    if config.task == "detection" and config.detector:
        from activelab.studio.detection import check_detector

        sample = Path(data) / records[0].image if records and Path(data).is_dir() else None
        check_detector(config.detector, config.labels, sample)
    folder.mkdir(parents=True, exist_ok=True)
    if config.task in IMAGE_TASKS and data is not None and Path(data).is_dir():
        records = _copy_images(Path(data), folder, records)
    if config.task == "segmentation":
        from activelab.studio.segmentation import region_records

        records = region_records(records, folder, config)
    if config.task == "detection":
        from activelab.studio.detection import image_records

        records = image_records(records, folder)
    engine = database.connect(config.url)
    try:
        database.migrate(engine)
        with database.write_session(engine) as session:
            exists = session.scalar(
                select(database.Project.id).where(database.Project.name == config.name)
            )
            if exists is not None:
                raise FileExistsError(
                    f"the database already holds a project named {config.name!r}; pass "
                    "another --name."
                )
            project = database.Project(
                name=config.name,
                task=config.task,
                labels=list(config.labels),
                multi_label=config.multi_label,
                model_version=0,
                rank_round=0,
                features=config.features,
            )
            session.add(project)
            session.flush()
            importers.add_records(session, project.id, records, folder)
            token = secrets.token_urlsafe(32)
            auth.add_annotator(session, project.id, "admin", "admin", token=token)
    finally:
        engine.dispose()
    write_config(config)
    save_admin_token(folder, token)
    return config


def _copy_images(source: Path, folder: Path, records: list[Any]) -> list[Any]:
    """Copy a folder of images into ``folder/media``; records point at the copies."""
    media = folder / "media"
    copied = []
    for record in records:
        target = media / record.image
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / record.image, target)
        copied.append(dataclasses.replace(record, image=str(Path("media") / record.image)))
    return copied


def save_admin_token(folder: Path, token: str) -> Path:
    """Write the admin token to ``folder/.admin_token``, readable only by its owner.

    Parameters
    ----------
    folder : pathlib.Path
    token : str

    Returns
    -------
    pathlib.Path
    """
    path = Path(folder) / ADMIN_TOKEN_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    return path


def read_admin_token(folder: Path) -> str | None:
    """The admin token saved by :func:`init_project`, or None when the file is gone.

    Parameters
    ----------
    folder : pathlib.Path

    Returns
    -------
    str or None
    """
    path = Path(folder) / ADMIN_TOKEN_FILE
    if not path.is_file():
        return None
    return path.read_text().strip() or None
