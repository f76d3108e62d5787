"""Detection projects (``task = "detection"``): draw class boxes on images.

**Items are images.** ``studio init --task detection --data FOLDER`` copies the images
into ``PROJECT/media`` and makes one item per image, its size in ``meta`` (``width``,
``height``); the queue, the leases, the idempotent answers and undo are the ones every
project uses.

**Answers.** ``annotation = {"boxes": [{"x", "y", "w", "h", "label", "source",
"confidence"}]}`` in image pixels (``x, y`` the top-left corner), ``labels: []``. A box
must lie inside the image, have a positive size and a known class; ``source`` is
``"drawn"`` (by hand, the default) or ``"proposal"`` (a detector's box the annotator
accepted, maybe moved), ``confidence`` the detector's score of an accepted proposal. An
empty list says the image holds no object of the project's classes.

**Detector and ranking** (:class:`DetectionJob`, run by the trainer in the background).
The studio cannot train a detector. The optional ``detector`` setting names a factory,
``"module:function"``: ``function()`` (or ``function(labels=...)`` when it takes
``labels``) returns a callable ``detect(image)`` whose output
:class:`activelab.vision.DetectorAdapter` reads (:class:`activelab.vision.Detections`, or a
mapping with ``boxes`` ``(x0, y0, x1, y1)``, ``scores`` and ``proba`` or ``labels``; class
``i`` is the project's ``labels[i]``). ``image`` is a float64 array in ``[0, 1]``,
``(H, W)`` for grey levels, else ``(H, W, 3)``. The job runs the detector once over every
image, scores each image with :func:`activelab.vision.detection_scores` (the project's
``strategy``: ``entropy``, the summed box entropy of Brust et al. 2019, by default; see
:data:`DETECTION_STRATEGIES`) and ranks the open images highest score first, ties at
random; each image's boxes with a confidence of at least ``min_score`` are kept as its
proposals (the item's suggestion). Each new detector setting is a new model version;
``PROJECT/detection/detectors.json`` records which detector each version was. Without a
detector, images come in import order.

**Export.** ``coco``: COCO JSON (:func:`activelab.vision.detections_to_coco`,
:func:`activelab.vision.coco_dataset`) of the latest live answer of every image, each
annotation with its provenance (strategy, detector version and name, score, annotator,
time, drawn or accepted proposal).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from activelab.studio.answers import given_answers
from activelab.studio.db import (
    Annotator,
    Answer,
    Item,
    ModelVersion,
    Project,
    read_session,
    write_session,
)
from activelab.studio.errors import StudioError
from activelab.studio.project import ProjectConfig

__all__ = [
    "DETECTION_STRATEGIES",
    "DetectionJob",
    "check_annotation",
    "check_detector",
    "check_detector_spec",
    "detector_versions",
    "export_coco",
    "image_records",
    "item_view",
    "load_detector",
]

log = logging.getLogger("activelab.studio")

#: The strategies of a detection project: ``name -> (measure, aggregate)`` of
#: :func:`activelab.vision.detection_scores`; ``random`` ranks at random.
DETECTION_STRATEGIES: dict[str, tuple[str, str] | None] = {
    "entropy": ("entropy", "sum"),
    "entropy_mean": ("entropy", "mean"),
    "entropy_max": ("entropy", "max"),
    "stability": ("stability", "sum"),
    "stability_uncertainty": ("stability_uncertainty", "sum"),
    "random": None,
}
#: Most boxes in one answer, and most proposals kept per image.
MAX_BOXES = 1000
MAX_PROPOSALS = 100
SOURCES = ("drawn", "proposal")
_SPEC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
VERSIONS_FILE = "detection/detectors.json"


# ------------------------------------------------------------------------------ detector


def check_detector_spec(spec: str) -> None:
    """Check the form of a ``detector`` setting: empty or ``"package.module:function"``.

    Parameters
    ----------
    spec : str
    """
    if not isinstance(spec, str) or (spec and not _SPEC.match(spec)):
        raise ValueError(
            f"detector must be 'module:function' (a Python-importable factory, e.g. "
            f"'mydetectors.boxes:make_detector'), or empty for none; got {spec!r}."
        )


def load_detector(spec: str, labels: tuple[str, ...] | list[str]) -> Any:
    """Import a detector factory ``"module:function"`` and call it; return the detector.

    Parameters
    ----------
    spec : str
    labels : sequence of str
        The project's classes, passed as ``labels=`` when the factory takes it.

    Returns
    -------
    callable
        ``detect(image)``.

    Raises
    ------
    ValueError
        Naming what failed: the module's import, the missing function, the factory's
        call, or a result that is not callable.
    """
    check_detector_spec(spec)
    if not spec:
        raise ValueError("no detector is set.")
    module_name, function_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or whatever the module raises on import
        raise ValueError(
            f"detector {spec!r}: importing module {module_name!r} failed "
            f"({type(error).__name__}: {error}); install it or put its folder on PYTHONPATH."
        ) from None
    factory = getattr(module, function_name, None)
    if factory is None or not callable(factory):
        raise ValueError(
            f"detector {spec!r}: module {module_name!r} has no callable {function_name!r}."
        )
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        parameters = {}
    try:
        detector = factory(labels=tuple(labels)) if "labels" in parameters else factory()
    except Exception as error:
        raise ValueError(
            f"detector {spec!r}: the factory raised {type(error).__name__}: {error}."
        ) from None
    if not callable(detector):
        raise ValueError(
            f"detector {spec!r}: the factory returned a {type(detector).__name__}, not a "
            "callable detect(image)."
        )
    return detector


def check_detector(
    spec: str, labels: tuple[str, ...] | list[str], sample: str | os.PathLike[str] | None = None
) -> None:
    """Load a detector and, given an image, check that its output is readable.

    Parameters
    ----------
    spec : str
        ``"module:function"``; empty passes.
    labels : sequence of str
    sample : str or path, optional
        An image to run the detector on once.

    Raises
    ------
    ValueError
        What failed, naming the detector.
    """
    check_detector_spec(spec)
    if not spec:
        return
    detector = load_detector(spec, labels)
    if sample is None:
        return
    from activelab import vision
    from activelab.studio.segmentation import load_image

    try:
        vision.Detections.from_output(detector(load_image(sample)), len(labels))
    except Exception as error:
        raise ValueError(
            f"detector {spec!r} on {Path(sample).name}: {type(error).__name__}: {error} "
            f"(classes are indices into the {len(labels)} labels)."
        ) from None


# ------------------------------------------------------------------------------ items


def image_records(records: list[Any], folder: Path) -> list[Any]:
    """Add each image's ``width`` and ``height`` to its record's ``meta``.

    Parameters
    ----------
    records : list of activelab.studio.importers.Record
        Image paths relative to ``folder``.
    folder : pathlib.Path

    Returns
    -------
    list of Record
    """
    from activelab._extras import require

    pil = require("PIL.Image", "studio", "reading images")
    out = []
    for record in records:
        with pil.open(Path(folder) / record.image) as image:
            width, height = image.size
        meta = {**(record.meta or {}), "width": int(width), "height": int(height)}
        out.append(dataclasses.replace(record, meta=meta))
    return out


def _size(config: ProjectConfig, item: Any) -> tuple[int, int]:
    meta = item.meta or {}
    if "width" in meta and "height" in meta:
        return int(meta["width"]), int(meta["height"])
    from activelab._extras import require

    pil = require("PIL.Image", "studio", "reading images")
    with pil.open(Path(config.directory) / item.image_path) as image:
        return int(image.size[0]), int(image.size[1])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_annotation(
    config: ProjectConfig, item: Any, annotation: Any
) -> tuple[dict[str, Any], list[str]]:
    """Validate a box answer; return its canonical form and the classes it uses.

    Parameters
    ----------
    config : ProjectConfig
    item : Item
        The answered image.
    annotation : dict
        ``{"boxes": [{"x", "y", "w", "h", "label", "source", "confidence"}]}``.

    Returns
    -------
    (dict, list of str)
        Coordinates rounded to 1/100 pixel; the classes in the project's order.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> config = ProjectConfig(Path("."), "x", ("car", "person"), task="detection")
    >>> item = SimpleNamespace(meta={"width": 10, "height": 8}, image_path="a.png")
    >>> check_annotation(config, item, {"boxes": [
    ...     {"x": 1, "y": 2, "w": 3, "h": 4, "label": "car"}]})[0]["boxes"][0]["source"]
    'drawn'
    """
    if not isinstance(annotation, dict) or not isinstance(annotation.get("boxes"), list):
        raise StudioError(
            422, "a detection answer needs annotation: {boxes: [{x, y, w, h, label}]}."
        )
    raw = annotation["boxes"]
    if len(raw) > MAX_BOXES:
        raise StudioError(422, f"an answer holds at most {MAX_BOXES} boxes; got {len(raw)}.")
    width, height = _size(config, item)
    labels = config.labels
    boxes = []
    for entry in raw:
        values = [entry.get(k) if isinstance(entry, dict) else None for k in "xywh"]
        if not all(_number(v) for v in values):
            raise StudioError(422, f"a box needs numbers x, y, w, h (pixels); got {entry!r}.")
        x, y, w, h = (float(v) for v in values)
        if not (w > 0 and h > 0):
            raise StudioError(422, f"box {entry!r} needs a positive width and height.")
        slack = 1e-6
        if x < -slack or y < -slack or x + w > width + slack or y + h > height + slack:
            raise StudioError(
                422,
                f"box {entry!r} must lie inside the {width}×{height} image "
                "(0 ≤ x, x + w ≤ width, 0 ≤ y, y + h ≤ height).",
            )
        label = entry.get("label")
        if label not in labels:
            raise StudioError(422, f"unknown class {label!r}; the classes are {list(labels)}.")
        source = entry.get("source", "drawn")
        if source not in SOURCES:
            raise StudioError(422, f"a box's source is 'drawn' or 'proposal'; got {source!r}.")
        confidence = entry.get("confidence")
        if confidence is not None and not (_number(confidence) and 0 <= confidence <= 1):
            raise StudioError(422, f"confidence must be a number in [0, 1]; got {confidence!r}.")
        x0, y0 = max(0.0, round(x, 2)), max(0.0, round(y, 2))
        x1, y1 = min(float(width), round(x + w, 2)), min(float(height), round(y + h, 2))
        if x1 <= x0 or y1 <= y0:
            raise StudioError(422, f"box {entry!r} is smaller than 1/100 pixel.")
        boxes.append(
            {
                "x": x0,
                "y": y0,
                "w": round(x1 - x0, 2),
                "h": round(y1 - y0, 2),
                "label": label,
                "source": source,
                "confidence": None if confidence is None else round(float(confidence), 4),
            }
        )
    used = {box["label"] for box in boxes}
    return {"boxes": boxes}, [label for label in labels if label in used]


def _proposals(
    detections: Any, labels: tuple[str, ...], width: int, height: int, min_score: float
) -> list[dict[str, Any]]:
    """A detector's boxes as the page's proposals: clipped, ``min_score`` and up, best first."""
    found = []
    classes = detections.labels
    for box, score, label in zip(detections.boxes, detections.scores, classes, strict=True):
        if score < min_score:
            continue
        x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
        x1, y1 = min(float(width), float(box[2])), min(float(height), float(box[3]))
        if x1 - x0 < 0.01 or y1 - y0 < 0.01:
            continue
        found.append(
            {
                "x": round(x0, 2),
                "y": round(y0, 2),
                "w": round(x1 - x0, 2),
                "h": round(y1 - y0, 2),
                "label": labels[int(label)],
                "confidence": round(float(score), 4),
            }
        )
    found.sort(key=lambda p: -p["confidence"])
    return found[:MAX_PROPOSALS]


def item_view(session: Session, config: ProjectConfig, item: Any, annotator_id: int) -> dict:
    """What the page draws for an image: its size, the detector's proposals, and the
    caller's last withdrawn boxes (after an undo, to edit them).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    item : Item
    annotator_id : int

    Returns
    -------
    dict
        ``{width, height, classes, detector, proposals, previous}``; ``detector`` is None
        without one, ``previous`` None unless the caller withdrew an answer to this image.
    """
    width, height = _size(config, item)
    suggestion = item.suggestion if item.ranked_version else None
    proposals = list((suggestion or {}).get("boxes") or [])
    previous = session.scalar(
        select(Answer.annotation)
        .where(
            Answer.item_id == item.id,
            Answer.annotator_id == annotator_id,
            Answer.withdrawn_at.is_not(None),
            Answer.skipped.is_(False),
        )
        .order_by(Answer.id.desc())
        .limit(1)
    )
    return {
        "width": width,
        "height": height,
        "classes": list(config.labels),
        "detector": (suggestion or {}).get("detector"),
        "proposals": proposals,
        "previous": None if previous is None else list(previous.get("boxes") or []),
    }


# ------------------------------------------------------------------------------ the job


def detector_versions(directory: str | os.PathLike[str]) -> dict[int, dict[str, Any]]:
    """The detector of each model version (``PROJECT/detection/detectors.json``).

    Parameters
    ----------
    directory : str or path
        The project folder.

    Returns
    -------
    dict
        Version → ``{detector, strategy, at}``.
    """
    path = Path(directory) / VERSIONS_FILE
    if not path.is_file():
        return {}
    return {int(k): v for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def _save_versions(directory: Path, versions: dict[int, dict[str, Any]]) -> None:
    path = Path(directory) / VERSIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({str(k): v for k, v in sorted(versions.items())}, indent=1))
    os.replace(temporary, path)


class _Recorder:
    """Wraps ``detect`` and keeps its output on the listed images (not on their noisy
    copies), so scoring and proposals need one detector pass per image."""

    def __init__(self, detect: Any, images: list[np.ndarray]) -> None:
        self.detect = detect
        self.position = {id(image): i for i, image in enumerate(images)}
        self.images = images  # kept alive, so their ids stay theirs
        self.found: dict[int, Any] = {}

    def __call__(self, image: Any) -> Any:
        output = self.detect(image)
        i = self.position.get(id(image))
        if i is not None and image is self.images[i]:
            self.found[i] = output
        return output


class DetectionJob:
    """Runs the project's detector over its images and ranks them; the trainer calls
    :meth:`step`.

    The ``detector`` setting is read from ``studio.toml`` at every step (the admin page
    changes it there), so a new detector takes effect without a restart.

    Parameters
    ----------
    config : ProjectConfig
    engine : sqlalchemy.engine.Engine
    project_id : int

    Attributes
    ----------
    detections : dict
        Image path → the current detector's :class:`activelab.vision.Detections`.
    scores : dict
        Image path → its score under the project's strategy.
    """

    def __init__(self, config: ProjectConfig, engine: Engine, project_id: int) -> None:
        self.config = config
        self.engine = engine
        self.project_id = project_id
        self.detections: dict[str, Any] = {}
        self.scores: dict[str, float] = {}
        self._detector: Any = None
        self._spec: str | None = None  # the spec of self._detector / self.detections
        self._ranked: tuple[str, int] | None = None  # (spec, items marker) last ranked
        self._stamp: tuple[int, int] | None = None
        self._setting = config.detector

    def detector_setting(self) -> str:
        """The ``detector`` of ``studio.toml`` now (the config's when the file is gone)."""
        path = Path(self.config.directory) / "studio.toml"
        try:
            stat = path.stat()
        except OSError:
            return self._setting
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            try:
                values = tomllib.loads(path.read_text(encoding="utf-8"))
                self._setting = str(values.get("detector", "") or "")
            except (OSError, tomllib.TOMLDecodeError):
                pass  # a half-written file: keep the last setting, read it next time
            self._stamp = stamp
        return self._setting

    def step(self, set_busy: Any = None) -> str | None:
        """Rank the images when the detector or the images changed.

        Parameters
        ----------
        set_busy : callable, optional
            Called with True when real work starts.

        Returns
        -------
        str or None
            ``"trained"`` (the detector ran and ranked the images), ``"cold-start"`` (no
            detector: import order again) or None (nothing due).
        """
        set_busy = set_busy or (lambda busy: None)
        spec = self.detector_setting()
        with read_session(self.engine) as session:
            marker = session.scalar(
                select(func.coalesce(func.max(Item.position), -1)).where(
                    Item.project_id == self.project_id
                )
            )
        if self._ranked == (spec, marker):
            return None
        if not spec:
            first = self._ranked is None
            self._ranked = (spec, marker)
            if first and not self._has_proposals():
                return None  # the items are in import order already
            set_busy(True)
            self._import_order()
            return "cold-start"
        set_busy(True)
        self._run(spec)
        self._ranked = (spec, marker)
        return "trained"

    def _has_proposals(self) -> bool:
        """Whether a detector ranked the items (before a restart without one)."""
        with read_session(self.engine) as session:
            ranked = session.scalar(
                select(func.max(Item.ranked_version)).where(Item.project_id == self.project_id)
            )
        return bool(ranked)

    def _rows(self) -> list[Any]:
        with read_session(self.engine) as session:
            return list(
                session.execute(
                    select(Item.id, Item.image_path, Item.meta, Item.done)
                    .where(Item.project_id == self.project_id)
                    .order_by(Item.position)
                ).all()
            )

    def _import_order(self) -> None:
        from activelab.studio.queue import Ranking, apply_ranking

        rows = self._rows()
        ranking = Ranking(
            item_ids=[row.id for row in rows],
            strategy="import order",
            model_version=0,
            scores=[None] * len(rows),
            probabilities=[None] * len(rows),
            suggestions=[None] * len(rows),
        )
        apply_ranking(self.engine, self.project_id, ranking)
        self.detections, self.scores, self._spec = {}, {}, None

    def _run(self, spec: str) -> None:
        from activelab import vision
        from activelab.studio.queue import Ranking, apply_ranking
        from activelab.studio.segmentation import load_image

        started = time.perf_counter()
        config = self.config
        labels = tuple(config.labels)
        with read_session(self.engine) as session:
            project = session.get(Project, self.project_id)
            version, rank_round = project.model_version, project.rank_round
            n_labelled = session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.project_id == self.project_id, Item.n_labels > 0)
            )
        new_detector = spec != self._spec
        versions = detector_versions(config.directory)
        if new_detector:
            self._detector = load_detector(spec, labels)
            self.detections, self.scores = {}, {}
            same = versions.get(version, {})
            if (same.get("detector"), same.get("strategy")) == (spec, config.strategy):
                new_detector = False  # the same detector after a restart: same version
            else:
                version += 1
        rows = self._rows()
        todo = [row.image_path for row in rows if row.image_path not in self.detections]
        if todo:
            images = [load_image(Path(config.directory) / path) for path in todo]
            recorder = _Recorder(self._detector, images)
            adapter = vision.DetectorAdapter(recorder, len(labels), random_state=config.seed)
            choice = DETECTION_STRATEGIES[config.strategy]
            if choice is None:
                values = np.zeros(len(images))
                for image in images:
                    recorder(image)
            else:
                measure, aggregate = choice
                values = vision.detection_scores(
                    adapter, images, measure, aggregate, random_state=config.seed
                )
            for i, path in enumerate(todo):
                self.detections[path] = vision.Detections.from_output(
                    recorder.found[i], len(labels)
                )
                self.scores[path] = float(values[i])
        self._spec = spec
        rng = np.random.default_rng(config.seed + rank_round + 1)
        open_rows = [row for row in rows if not row.done]
        done_rows = [row for row in rows if row.done]
        shuffled = [open_rows[i] for i in rng.permutation(len(open_rows))]
        if DETECTION_STRATEGIES[config.strategy] is not None:
            # Ties at random (the shuffle), then highest score first.
            shuffled.sort(key=lambda row: -self.scores[row.image_path])
        order = shuffled + done_rows
        k = min(config.ranked_batch, len(shuffled))
        suggestions = []
        for row in order:
            width, height = _size(config, row)
            boxes = _proposals(
                self.detections[row.image_path], labels, width, height, config.min_score
            )
            suggestions.append({"boxes": boxes, "detector": spec})
        random_rank = DETECTION_STRATEGIES[config.strategy] is None
        ranking = Ranking(
            item_ids=[row.id for row in order],
            strategy=config.strategy,
            model_version=version,
            scores=[None if random_rank else self.scores[row.image_path] for row in order],
            probabilities=[1.0] * k + [None] * (len(order) - k),
            suggestions=suggestions,
        )
        if order:
            apply_ranking(self.engine, self.project_id, ranking)
        seconds = time.perf_counter() - started
        if new_detector:
            versions[version] = {
                "detector": spec,
                "strategy": config.strategy,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            _save_versions(Path(config.directory), versions)
            with write_session(self.engine) as session:
                session.get(Project, self.project_id).model_version = version
                session.add(
                    ModelVersion(
                        project_id=self.project_id,
                        version=version,
                        n_labeled=int(n_labelled or 0),
                        estimate=None,
                        metric="detector",
                        seconds=seconds,
                        stopping=[],
                    )
                )
        log.info("detector %s (version %d) ranked %d images, %.2f s", spec, version, len(order),
                 seconds)  # fmt: skip


# ------------------------------------------------------------------------------ export


def export_coco(session: Session, config: ProjectConfig, project: Project) -> dict[str, Any]:
    """COCO JSON of the boxes: the latest live answer of every image, with provenance.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project : Project

    Returns
    -------
    dict
        ``images`` (every image of the project), ``categories`` (class ``i`` is
        ``labels[i]``), ``annotations`` with ``bbox`` ``[x, y, w, h]`` in pixels, ``area``,
        ``category_name`` and ``provenance`` ``{answer_id, strategy, model_version,
        detector, score, annotator, at, source, confidence}``; ``info``.
    """
    from activelab import vision

    items = session.execute(
        select(Item).where(Item.project_id == project.id).order_by(Item.position)
    ).scalars()
    names = dict(session.execute(select(Annotator.id, Annotator.name)).all())
    latest: dict[int, Any] = {}
    for answer in session.scalars(
        select(Answer).where(*given_answers(project.id)).order_by(Answer.id)
    ):
        latest[answer.item_id] = answer
    versions = detector_versions(config.directory)
    index = {label: i for i, label in enumerate(config.labels)}
    n_classes = len(config.labels)
    images, annotations = [], []
    for image_id, item in enumerate(items, start=1):
        width, height = _size(config, item)
        images.append(
            {"id": image_id, "file_name": item.image_path, "width": width, "height": height}
        )
        answer = latest.get(item.id)
        if answer is None or not answer.annotation:
            continue
        boxes = answer.annotation.get("boxes") or []
        if not boxes:
            continue
        corners = np.array([[b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]] for b in boxes])
        proba = np.zeros((len(boxes), n_classes))
        proba[np.arange(len(boxes)), [index[b["label"]] for b in boxes]] = 1.0
        found = vision.Detections(corners, np.ones(len(boxes)), proba)
        start = len(annotations) + 1
        for box, annotation in zip(
            boxes, vision.detections_to_coco(found, image_id, start), strict=True
        ):
            del annotation["score"]  # human boxes: no detector score
            annotation["bbox"] = [box["x"], box["y"], box["w"], box["h"]]
            annotation["area"] = round(box["w"] * box["h"], 4)
            annotation["category_name"] = box["label"]
            version = answer.model_version
            annotation["provenance"] = {
                "answer_id": answer.id,
                "strategy": answer.strategy,
                "model_version": version,
                "detector": versions.get(version, {}).get("detector") if version else None,
                "score": answer.score,
                "annotator": names.get(answer.annotator_id),
                "at": answer.created_at.isoformat(),
                "source": box.get("source", "drawn"),
                "confidence": box.get("confidence"),
            }
            annotations.append(annotation)
    dataset = vision.coco_dataset(images, annotations, list(config.labels))
    dataset["info"] = {
        "description": f"activelab studio project {config.name}",
        "task": "detection",
        "detectors": {str(k): v for k, v in sorted(versions.items())},
    }
    return dataset
