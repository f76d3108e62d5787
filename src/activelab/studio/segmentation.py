"""Segmentation projects (``task = "segmentation"``): label regions of images.

**Items are regions.** ``studio init --task segmentation --data FOLDER`` cuts every
image into regions once — SLIC superpixels (:func:`activelab.vision.slic_regions`,
``regions = "slic"``, about ``n_regions`` per image) or square cells
(:func:`activelab.vision.grid_regions`, ``regions = "grid"``, ``grid_size`` pixels) —
and saves each image's region map in ``PROJECT/regions/``. Each region is one item
(its image's path, ``meta = {"region": r, "regions": file}``), so the queue, the leases,
the idempotent answers and undo are the ones every project uses.

**Answers.** An answer is to one asked region, but the annotator may label any regions
of its image (a click on a superpixel sets it to the current class) and paint with a
brush: ``annotation = {"regions": [{"region", "label"}], "strokes": [{"x", "y",
"radius", "label"}]}``, the asked region among ``regions``. An image's label map is its
answers painted in the order they were given (a later answer wins a pixel; undo
withdraws one); unlabelled pixels are -1.

**Model and ranking** (:class:`SegmentationJob`, run by the trainer in the background):
:class:`activelab.vision.PixelForest` is fitted on every labelled pixel; every image's
pixel probabilities give pixel scores (:func:`activelab.vision.pixel_scores`, the
project's ``strategy``: ``entropy`` by default, or ``margin``, ``least_confidence``,
``ratio``, or the forest's trees as posterior samples for ``bald``,
``variation_ratio``, ``vote_entropy``), averaged over each region
(:func:`activelab.vision.region_scores`, Mackowiak et al. 2018). With
``class_balanced = true`` a region's score is multiplied by the class-balanced weight
of its dominant predicted class (:func:`activelab.vision.class_balanced_weights`, Cai
et al. 2021). Regions already fully labelled go to the end of the queue. Before the
first model (``min_labels`` answers and two classes among the labelled pixels), the
``cold_start`` strategy ranks the regions on their mean pixel features. The model's
predicted masks are kept in ``PROJECT/segmentation/`` for the page's overlay.

**Estimate.** Each new model's estimate is the previous model's pixel accuracy on the
pixels labelled since it was fitted — labels it never saw (progressive validation).

**Export.** ``png``: a zip with one label PNG per image (class ids, 255 = unlabelled)
and ``provenance.json``; ``coco``: COCO JSON (polygons per connected component of every
class, :func:`activelab.vision.mask_to_coco`) whose annotations carry the provenance of
the answers they come from (strategy, model version, score, annotator, time).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import time
import zipfile
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
    "IGNORE",
    "REGION_KINDS",
    "SEGMENTATION_SCORES",
    "SegmentationJob",
    "check_annotation",
    "export_coco",
    "export_png_zip",
    "image_label_maps",
    "item_view",
    "load_image",
    "region_records",
    "rle",
]

log = logging.getLogger("activelab.studio")

#: How regions are cut: SLIC superpixels or a square grid.
REGION_KINDS = ("slic", "grid")
#: The strategies of a segmentation project: pixel scores averaged over regions.
SEGMENTATION_SCORES = (
    "entropy",
    "margin",
    "least_confidence",
    "ratio",
    "bald",
    "variation_ratio",
    "vote_entropy",
    "random",
)
#: The value of unlabelled pixels in exported PNG masks.
IGNORE = 255
#: Largest brush radius, in pixels, and most strokes per answer.
MAX_RADIUS = 200
MAX_STROKES = 20000
#: Trees of the pixel forest.
N_TREES = 30


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image as float64 in [0, 1]: ``(H, W)`` for grey levels, else ``(H, W, 3)``.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    numpy.ndarray
    """
    from activelab._extras import require

    pil = require("PIL.Image", "studio", "reading images")
    with pil.open(path) as image:
        if image.mode in ("L", "I", "I;16", "F", "1"):
            array = np.asarray(image.convert("F"), dtype=np.float64)
            high = float(array.max()) if array.size else 0.0
            return array / (255.0 if high <= 255.0 else high)
        return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def compute_regions(image: np.ndarray, config: ProjectConfig) -> np.ndarray:
    """The region map of one image under the project's ``regions`` setting.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3)
    config : ProjectConfig

    Returns
    -------
    numpy.ndarray of shape (H, W), int64
        Region ids ``0 .. R-1``.
    """
    from activelab import vision

    if config.regions == "grid":
        return vision.grid_regions(image.shape[:2], config.grid_size)
    colour = image.ndim == 3
    return vision.slic_regions(
        image,
        n_segments=config.n_regions,
        compactness=10.0 if colour else 0.1,
        channel_axis=-1 if colour else None,
    )


def _region_file(image_path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", image_path.replace("/", "__"))
    return f"regions/{stem}.npy"


def region_records(records: list[Any], folder: Path, config: ProjectConfig) -> list[Any]:
    """Cut each image record into its regions: one record per region, maps saved.

    Parameters
    ----------
    records : list of activelab.studio.importers.Record
        Images, paths relative to ``folder``.
    folder : pathlib.Path
        The project folder.
    config : ProjectConfig

    Returns
    -------
    list of Record
        One per region, in image order then region order; ``meta`` holds ``region``
        and ``regions`` (the map's file).
    """
    out = []
    (folder / "regions").mkdir(parents=True, exist_ok=True)
    for record in records:
        image = load_image(folder / record.image)
        regions = compute_regions(image, config)
        name = _region_file(record.image)
        np.save(folder / name, regions.astype(np.int32))
        base = record.external_id or record.image
        for r in range(int(regions.max()) + 1):
            out.append(
                dataclasses.replace(
                    record,
                    external_id=f"{base}#r{r}",
                    meta={**(record.meta or {}), "region": r, "regions": name},
                )
            )
    return out


def _load_regions(folder: Path, meta: dict[str, Any]) -> np.ndarray:
    return np.load(Path(folder) / str(meta["regions"])).astype(np.int64)


def check_annotation(
    config: ProjectConfig, item: Any, annotation: Any
) -> tuple[dict[str, Any], list[str]]:
    """Validate a segmentation answer; return its canonical form and the classes it uses.

    Parameters
    ----------
    config : ProjectConfig
    item : Item
        The answered region's item.
    annotation : dict
        ``{"regions": [{"region", "label"}], "strokes": [{"x", "y", "radius", "label"}]}``.

    Returns
    -------
    (dict, list of str)
    """
    if not isinstance(annotation, dict):
        raise StudioError(
            422, "a segmentation answer needs annotation: {regions: [{region, label}], strokes}."
        )
    regions_map = _load_regions(config.directory, item.meta or {})
    n_regions = int(regions_map.max()) + 1
    height, width = regions_map.shape
    labels = config.labels
    raw_regions = annotation.get("regions") or []
    raw_strokes = annotation.get("strokes") or []
    if not isinstance(raw_regions, list) or len(raw_regions) > n_regions:
        raise StudioError(422, f"regions must be a list of at most {n_regions} {{region, label}}.")
    if not isinstance(raw_strokes, list) or len(raw_strokes) > MAX_STROKES:
        raise StudioError(422, f"strokes must be a list of at most {MAX_STROKES} entries.")
    chosen: dict[int, str] = {}
    for entry in raw_regions:
        region = entry.get("region") if isinstance(entry, dict) else None
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(region, int) or isinstance(region, bool) or not 0 <= region < n_regions:
            raise StudioError(
                422, f"region must be an integer in [0, {n_regions}) of this image; got {entry!r}."
            )
        if label not in labels:
            raise StudioError(
                422, f"unknown class {label!r}; the project's classes are {list(labels)}."
            )
        chosen[region] = label
    strokes = []
    for entry in raw_strokes:
        values = [entry.get(k) if isinstance(entry, dict) else None for k in ("x", "y", "radius")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise StudioError(422, f"a stroke needs numbers x, y, radius; got {entry!r}.")
        x, y, radius = (float(v) for v in values)
        if not (0 <= x < width and 0 <= y < height and 0 < radius <= MAX_RADIUS):
            raise StudioError(
                422,
                f"stroke {entry!r} must lie inside the {width}×{height} image with a radius "
                f"in (0, {MAX_RADIUS}].",
            )
        if entry.get("label") not in labels:
            raise StudioError(
                422, f"unknown class {entry.get('label')!r}; the classes are {list(labels)}."
            )
        strokes.append(
            {
                "x": round(x, 2),
                "y": round(y, 2),
                "radius": round(radius, 2),
                "label": entry["label"],
            }
        )
    asked = int((item.meta or {})["region"])
    if asked not in chosen:
        raise StudioError(
            422,
            f"the asked region {asked} has no class: click it (or press Enter) before submitting.",
        )
    canonical = {
        "region": asked,
        "regions": [{"region": r, "label": chosen[r]} for r in sorted(chosen)],
        "strokes": strokes,
    }
    used = set(chosen.values()) | {s["label"] for s in strokes}
    return canonical, [label for label in labels if label in used]


def paint(
    label_map: np.ndarray, regions_map: np.ndarray, annotation: dict[str, Any], labels: Any
) -> None:
    """Paint one answer's regions then strokes onto ``label_map`` (in place).

    Parameters
    ----------
    label_map : numpy.ndarray of shape (H, W), int64
        -1 for unlabelled pixels.
    regions_map : numpy.ndarray of shape (H, W), int
    annotation : dict
        A canonical annotation (:func:`check_annotation`).
    labels : sequence of str
        The project's classes (their positions are the class ids).
    """
    index = {label: i for i, label in enumerate(labels)}
    entries = annotation.get("regions") or []
    if entries:
        lookup = np.full(int(regions_map.max()) + 1, -1, dtype=np.int64)
        for entry in entries:
            lookup[int(entry["region"])] = index[entry["label"]]
        painted = lookup[regions_map]
        np.copyto(label_map, painted, where=painted >= 0)
    height, width = label_map.shape
    for stroke in annotation.get("strokes") or []:
        x, y, radius = stroke["x"], stroke["y"], stroke["radius"]
        r0, r1 = max(0, int(y - radius)), min(height, int(y + radius) + 1)
        c0, c1 = max(0, int(x - radius)), min(width, int(x + radius) + 1)
        rows, cols = np.ogrid[r0:r1, c0:c1]
        disc = (rows - y) ** 2 + (cols - x) ** 2 <= radius**2
        label_map[r0:r1, c0:c1][disc] = index[stroke["label"]]


def _live_answers(session: Session, project_id: int, image_path: str | None = None) -> list[Any]:
    query = (
        select(
            Answer.id,
            Answer.annotation,
            Answer.created_at,
            Answer.strategy,
            Answer.model_version,
            Answer.score,
            Answer.annotator_id,
            Item.image_path,
            Item.meta,
        )
        .join(Item, Item.id == Answer.item_id)
        .where(*given_answers(project_id))
        .order_by(Answer.id)
    )
    if image_path is not None:
        query = query.where(Item.image_path == image_path)
    return list(session.execute(query).all())


def image_label_maps(
    session: Session, config: ProjectConfig, project_id: int, image_path: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[Any]]]:
    """Every labelled image's label map (-1: unlabelled) and the answers behind it.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project_id : int
    image_path : str, optional
        Only this image.

    Returns
    -------
    (dict, dict)
        Image path → label map ``(H, W)`` int64, and image path → its answers (rows with
        ``id, annotation, created_at, strategy, model_version, score, annotator_id``).
    """
    maps: dict[str, np.ndarray] = {}
    answers: dict[str, list[Any]] = {}
    regions: dict[str, np.ndarray] = {}
    for row in _live_answers(session, project_id, image_path):
        if not row.annotation:
            continue
        path = row.image_path
        if path not in regions:
            regions[path] = _load_regions(config.directory, row.meta or {})
            maps[path] = np.full(regions[path].shape, -1, dtype=np.int64)
            answers[path] = []
        paint(maps[path], regions[path], row.annotation, config.labels)
        answers[path].append(row)
    return maps, answers


def rle(values: np.ndarray) -> list[int]:
    """Run-length code of a flat int array: ``[value, count, value, count, …]``.

    Parameters
    ----------
    values : numpy.ndarray
        Flattened in row-major order.

    Returns
    -------
    list of int

    Examples
    --------
    >>> rle(np.array([3, 3, -1, -1, -1, 0]))
    [3, 2, -1, 3, 0, 1]
    """
    flat = np.asarray(values).ravel()
    if flat.size == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
    counts = np.diff(np.concatenate([starts, [flat.size]]))
    return np.column_stack([flat[starts], counts]).ravel().astype(np.int64).tolist()


def _prediction_file(folder: Path, image_path: str) -> Path:
    return Path(folder) / "segmentation" / (Path(_region_file(image_path)).name)


def item_view(session: Session, config: ProjectConfig, project_id: int, item: Any) -> dict:
    """What the page draws for a region item: its image's regions, labels and prediction.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project_id : int
    item : Item

    Returns
    -------
    dict
        ``{width, height, region, regions, labels, prediction, classes}``: the maps are
        run-length coded (:func:`rle`); ``labels`` is the image's label map from the
        other answers (-1 unlabelled); ``prediction`` the latest model's mask or None.
    """
    regions_map = _load_regions(config.directory, item.meta or {})
    maps, _ = image_label_maps(session, config, project_id, item.image_path)
    label_map = maps.get(item.image_path, np.full(regions_map.shape, -1, dtype=np.int64))
    predicted_path = _prediction_file(config.directory, item.image_path)
    prediction = None
    if predicted_path.is_file():
        prediction = rle(np.load(predicted_path))
    height, width = regions_map.shape
    return {
        "width": int(width),
        "height": int(height),
        "region": int(item.meta["region"]),
        "regions": rle(regions_map),
        "labels": rle(label_map),
        "prediction": prediction,
        "classes": list(config.labels),
    }


# ----------------------------------------------------------------------------- trainer


@dataclasses.dataclass
class _Pool:
    """The project's images and regions, loaded once (again after an import)."""

    paths: list[str]
    images: list[np.ndarray]
    index: Any  # activelab.vision.RegionIndex
    item_of: np.ndarray  # global region id -> item id
    region_of_item: dict[int, int]  # item id -> global region id
    embedding: np.ndarray | None = None


class SegmentationJob:
    """Retrains the pixel forest and re-ranks the regions; the trainer calls :meth:`step`.

    Parameters
    ----------
    config : ProjectConfig
    engine : sqlalchemy.engine.Engine
    project_id : int

    Attributes
    ----------
    model : activelab.vision.PixelForest or None
    predictions : dict
        Image path → the latest model's mask.
    """

    def __init__(self, config: ProjectConfig, engine: Engine, project_id: int) -> None:
        self.config = config
        self.engine = engine
        self.project_id = project_id
        self.model: Any = None
        self.predictions: dict[str, np.ndarray] = {}
        self._pool: _Pool | None = None
        self._marker: int | None = None
        self._seen_answer = 0
        self._checked_answer = -1
        self._needs_rank = True

    def _load_pool(self) -> None:
        from activelab import vision

        with read_session(self.engine) as session:
            marker = session.scalar(
                select(func.coalesce(func.max(Item.position), -1)).where(
                    Item.project_id == self.project_id
                )
            )
            if self._pool is not None and marker == self._marker:
                return
            rows = session.execute(
                select(Item.id, Item.image_path, Item.meta)
                .where(Item.project_id == self.project_id)
                .order_by(Item.position)
            ).all()
        paths: list[str] = []
        maps: dict[str, np.ndarray] = {}
        local: dict[str, dict[int, int]] = {}
        for item_id, path, meta in rows:
            if path not in maps:
                paths.append(path)
                maps[path] = _load_regions(self.config.directory, meta or {})
                local[path] = {}
            local[path][int(meta["region"])] = int(item_id)
        index = vision.RegionIndex([maps[p] for p in paths])
        item_of = np.full(index.n_regions, -1, dtype=np.int64)
        for i, path in enumerate(paths):
            for region, item_id in local[path].items():
                item_of[index.offsets[i] + region] = item_id
        images = [load_image(Path(self.config.directory) / p) for p in paths]
        self._pool = _Pool(
            paths,
            images,
            index,
            item_of,
            {int(item): g for g, item in enumerate(item_of) if item >= 0},
        )
        self._marker = marker
        self.model = None
        self._needs_rank = True

    def _forest(self) -> Any:
        from activelab import vision

        return vision.PixelForest(
            len(self.config.labels), n_estimators=N_TREES, random_state=self.config.seed
        )

    def _embedding(self) -> np.ndarray:
        """Mean pixel features of every region, standardised (cold start distances)."""
        pool = self._pool
        assert pool is not None
        if pool.embedding is None:
            forest = self._forest()
            values = pool.index.aggregate([forest.features(im) for im in pool.images], "mean")
            scale = values.std(axis=0)
            pool.embedding = (
                (values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
            ).astype(np.float32)
        return pool.embedding

    def step(self, set_busy: Any = None) -> str | None:
        """Do what is due: a cold-start ranking, or a new model and ranking.

        Parameters
        ----------
        set_busy : callable, optional
            Called with True when real work starts.

        Returns
        -------
        str or None
            ``"trained"``, ``"cold-start"`` or None (nothing due).
        """
        set_busy = set_busy or (lambda busy: None)
        before = self._pool
        self._load_pool()
        if self._pool is not before:
            set_busy(True)
        pool = self._pool
        assert pool is not None
        config = self.config
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
            due = fresh >= config.retrain_every
            if self.model is not None and not due:
                return None
            if self.model is None and not (due or self._needs_rank):
                if newest == self._checked_answer:
                    return None
            self._checked_answer = int(newest)
            maps, answers = image_label_maps(session, config, self.project_id)
            n_answers = sum(len(rows) for rows in answers.values())
            open_ids = set(
                session.scalars(
                    select(Item.id).where(Item.project_id == self.project_id, Item.done.is_(False))
                ).all()
            )
            project = session.get(Project, self.project_id)
            rank_round, version = project.rank_round, project.model_version
        label_maps = [
            maps.get(p, np.full(pool.index.label_maps[i].shape, -1))
            for i, p in enumerate(pool.paths)
        ]
        counts = np.bincount(
            np.concatenate([m[m >= 0].ravel() for m in label_maps]),
            minlength=len(config.labels),
        )
        ready = n_answers >= config.min_labels and int((counts > 0).sum()) >= 2
        if ready:
            set_busy(True)
            self._seen_answer = int(newest)
            self._train(label_maps, counts, open_ids, version + 1, rank_round + 1)
            return "trained"
        if not (self._needs_rank or due) or not open_ids:
            return None
        set_busy(True)
        self._seen_answer = int(newest)
        self._needs_rank = False
        self._cold_start(label_maps, open_ids, rank_round + 1)
        return "cold-start"

    def _open_regions(self, open_ids: set[int]) -> np.ndarray:
        pool = self._pool
        assert pool is not None
        return np.array(
            sorted(pool.region_of_item[i] for i in open_ids if i in pool.region_of_item),
            dtype=np.int64,
        )

    def _covered(self, label_maps: list[np.ndarray]) -> np.ndarray:
        """Regions whose every pixel is labelled already."""
        pool = self._pool
        assert pool is not None
        return pool.index.aggregate([(m >= 0).astype(np.float64) for m in label_maps], "min") > 0

    def _cold_start(
        self, label_maps: list[np.ndarray], open_ids: set[int], rank_round: int
    ) -> None:
        from activelab import strategies
        from activelab.studio.queue import Ranking, apply_ranking

        pool = self._pool
        assert pool is not None
        candidates = self._open_regions(open_ids)
        if not candidates.size:
            return
        covered = self._covered(label_maps)
        fresh = candidates[~covered[candidates]]
        rng = np.random.default_rng(self.config.seed + rank_round)
        embedding = self._embedding()
        labelled = np.flatnonzero(covered)
        k = min(self.config.ranked_batch, fresh.size)
        batch = np.zeros(0, dtype=np.int64)
        if k:
            picks = strategies.get(self.config.cold_start).query(
                None,
                embedding[fresh],
                k,
                X_labeled=embedding[labelled] if labelled.size else None,
                random_state=rng,
            )
            batch = fresh[np.asarray(picks, dtype=np.int64)]
        rest = np.setdiff1d(fresh, batch)
        order = np.concatenate(
            [batch, rng.permutation(rest), rng.permutation(candidates[covered[candidates]])]
        )
        ranking = Ranking(
            item_ids=pool.item_of[order].tolist(),
            strategy=self.config.cold_start,
            model_version=0,
            scores=[None] * order.size,
            probabilities=[1.0] * batch.size + [None] * (order.size - batch.size),
        )
        apply_ranking(self.engine, self.project_id, ranking)

    def _train(
        self,
        label_maps: list[np.ndarray],
        counts: np.ndarray,
        open_ids: set[int],
        version: int,
        rank_round: int,
    ) -> None:
        from threadpoolctl import threadpool_limits

        from activelab import vision
        from activelab.studio.queue import Ranking, apply_ranking

        started = time.perf_counter()
        pool = self._pool
        assert pool is not None
        config = self.config
        estimate = self._estimate(label_maps)
        labelled = [i for i, m in enumerate(label_maps) if (m >= 0).any()]
        model = self._forest()
        measure = config.strategy
        with threadpool_limits(1):
            model.fit([pool.images[i] for i in labelled], [label_maps[i] for i in labelled])
            per_pixel, predictions = [], {}
            for path, image in zip(pool.paths, pool.images, strict=True):
                if vision.PIXEL_SCORES.get(measure):
                    samples = model.sample_proba(image)
                    proba = samples.mean(axis=0)
                    per_pixel.append(vision.pixel_scores(samples, measure))
                else:
                    proba = model.predict_proba(image)
                    if measure in vision.PIXEL_SCORES:
                        per_pixel.append(vision.pixel_scores(proba, measure))
                predictions[path] = proba.argmax(axis=-1).astype(np.int64)
        rng = np.random.default_rng(config.seed + rank_round)
        if measure == "random":
            scores = None
        else:
            scores = vision.region_scores(pool.index, per_pixel, "mean")
            if config.class_balanced:
                weights = vision.class_balanced_weights(counts)
                dominant, _ = pool.index.dominant(
                    [predictions[p] for p in pool.paths], len(config.labels)
                )
                scores = scores * weights[np.maximum(dominant, 0)]
        dominant, share = pool.index.dominant(
            [predictions[p] for p in pool.paths], len(config.labels)
        )
        candidates = self._open_regions(open_ids)
        covered = self._covered(label_maps)
        fresh, done = candidates[~covered[candidates]], candidates[covered[candidates]]
        if scores is None:
            head = rng.permutation(fresh)
        else:
            # Ties at random, then highest score first.
            shuffled = rng.permutation(fresh)
            head = shuffled[np.argsort(-scores[shuffled], kind="stable")]
        order = np.concatenate([head, rng.permutation(done)])
        k = min(config.ranked_batch, head.size)
        labels = list(config.labels)
        ranking = Ranking(
            item_ids=pool.item_of[order].tolist(),
            strategy=config.strategy + ("+class_balanced" if config.class_balanced else ""),
            model_version=version,
            scores=[None] * order.size if scores is None else scores[order].astype(float).tolist(),
            probabilities=[1.0] * k + [None] * (order.size - k),
            suggestions=[
                {"label": labels[int(dominant[g])], "confidence": round(float(share[g]), 4)}
                for g in order
            ],
        )
        self._save_predictions(predictions)
        if order.size:
            apply_ranking(self.engine, self.project_id, ranking)
        seconds = time.perf_counter() - started
        with write_session(self.engine) as session:
            project = session.get(Project, self.project_id)
            project.model_version = version
            session.add(
                ModelVersion(
                    project_id=self.project_id,
                    version=version,
                    n_labeled=int(sum(int((m >= 0).sum()) for m in label_maps)),
                    estimate=estimate,
                    metric="pixel_accuracy",
                    seconds=seconds,
                    stopping=[],
                )
            )
        self.model = model
        self.predictions = predictions
        self._seen_maps = [m.copy() for m in label_maps]
        log.info("pixel forest %d: estimate %s, %.2f s", version, estimate, seconds)

    def _estimate(self, label_maps: list[np.ndarray]) -> float | None:
        """The previous model's accuracy on the pixels labelled since it was fitted."""
        seen = getattr(self, "_seen_maps", None)
        if not self.predictions or seen is None or len(seen) != len(label_maps):
            return None
        pool = self._pool
        assert pool is not None
        right = total = 0
        for path, old, new in zip(pool.paths, seen, label_maps, strict=True):
            fresh = (new >= 0) & (old < 0)
            if fresh.any() and path in self.predictions:
                right += int((self.predictions[path][fresh] == new[fresh]).sum())
                total += int(fresh.sum())
        return right / total if total else None

    def _save_predictions(self, predictions: dict[str, np.ndarray]) -> None:
        folder = Path(self.config.directory) / "segmentation"
        folder.mkdir(parents=True, exist_ok=True)
        for path, mask in predictions.items():
            target = _prediction_file(self.config.directory, path)
            temporary = target.with_suffix(".tmp.npy")
            np.save(temporary, mask.astype(np.int16))
            os.replace(temporary, target)


# ------------------------------------------------------------------------------ export


def _provenance(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    names = dict(session.execute(select(Annotator.id, Annotator.name)).all())
    return [
        {
            "answer_id": row.id,
            "region": row.annotation.get("region"),
            "strategy": row.strategy,
            "model_version": row.model_version,
            "score": row.score,
            "annotator": names.get(row.annotator_id),
            "at": row.created_at.isoformat(),
        }
        for row in rows
    ]


def _image_records(session: Session, project: Project) -> list[tuple[int, str, Any]]:
    """(image id, path, first item meta) of every image, in import order."""
    rows = session.execute(
        select(Item.image_path, Item.meta)
        .where(Item.project_id == project.id)
        .order_by(Item.position)
    ).all()
    seen: dict[str, Any] = {}
    for path, meta in rows:
        seen.setdefault(path, meta)
    return [(i + 1, path, meta) for i, (path, meta) in enumerate(seen.items())]


def export_png_zip(session: Session, config: ProjectConfig, project: Project) -> bytes:
    """A zip of label PNGs (one per labelled image; 255 = unlabelled) and provenance.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project : Project

    Returns
    -------
    bytes
        ``masks/<image>.png`` and ``provenance.json`` (``classes``, and per image its
        answers: strategy, model version, score, annotator, time).
    """
    from activelab import vision

    maps, answers = image_label_maps(session, config, project.id)
    buffer = io.BytesIO()
    manifest: dict[str, Any] = {"classes": list(config.labels), "ignore": IGNORE, "images": []}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for _, path, _ in _image_records(session, project):
            if path not in maps:
                continue
            mask = np.where(maps[path] >= 0, maps[path], IGNORE)
            name = f"masks/{Path(path).stem}.png"
            scratch = io.BytesIO()
            temporary = Path(config.directory) / "segmentation" / ".export.png"
            temporary.parent.mkdir(parents=True, exist_ok=True)
            vision.save_mask_png(mask.astype(np.int64), temporary)
            scratch.write(temporary.read_bytes())
            temporary.unlink()
            archive.writestr(name, scratch.getvalue())
            manifest["images"].append(
                {"image": path, "mask": name, "answers": _provenance(session, answers[path])}
            )
        archive.writestr("provenance.json", json.dumps(manifest, indent=1))
    return buffer.getvalue()


def export_coco(session: Session, config: ProjectConfig, project: Project) -> dict[str, Any]:
    """COCO JSON of the labelled masks, each annotation with its provenance.

    Every connected component of a class (background included, class 0 is exported
    too) is one annotation; its ``provenance`` lists the answers that painted its
    pixels (strategy, model version, score, annotator, time).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : ProjectConfig
    project : Project

    Returns
    -------
    dict
    """
    from activelab import vision

    maps, answers = image_label_maps(session, config, project.id)
    images, annotations = [], []
    for image_id, path, meta in _image_records(session, project):
        regions_map = _load_regions(config.directory, meta or {})
        height, width = regions_map.shape
        images.append({"id": image_id, "file_name": path, "width": width, "height": height})
        if path not in maps:
            continue
        # Which answer painted each pixel last: the provenance of each component.
        owner = np.full(regions_map.shape, -1, dtype=np.int64)
        for position, row in enumerate(answers[path]):
            single = np.full(regions_map.shape, -1, dtype=np.int64)
            paint(single, regions_map, row.annotation, config.labels)
            owner[single >= 0] = position
        provenance = _provenance(session, answers[path])
        start = len(annotations) + 1
        for annotation in vision.mask_to_coco(maps[path], image_id, start, background=None):
            annotation["category_name"] = config.labels[annotation["category_id"]]
            x, y, w, h = (int(v) for v in annotation["bbox"])
            patch = owner[y : y + h, x : x + w]
            inside = maps[path][y : y + h, x : x + w] == annotation["category_id"]
            sources = np.unique(patch[inside & (patch >= 0)])
            annotation["provenance"] = [provenance[int(s)] for s in sources]
            annotations.append(annotation)
    dataset = vision.coco_dataset(images, annotations, list(config.labels))
    dataset["info"] = {
        "description": f"activelab studio project {config.name}",
        "task": "segmentation",
    }
    return dataset
