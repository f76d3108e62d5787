"""Exports for annotation tools: PNG label masks and COCO JSON (polygons and boxes)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab._extras import require

__all__ = [
    "coco_dataset",
    "detections_to_coco",
    "load_mask_png",
    "mask_to_coco",
    "mask_to_polygons",
    "save_mask_png",
]


def save_mask_png(mask: Any, path: str | os.PathLike[str]) -> None:
    """Write a label map as a lossless grey-level PNG (8-bit up to 255 classes, else 16-bit).

    Parameters
    ----------
    mask : array of shape (H, W), int
        Classes ``0 .. 65535``.
    path : str or path-like
    """
    array = np.asarray(mask)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"save_mask_png needs a 2-D int label map; got {array.dtype} {array.shape}."
        )
    if array.size and (array.min() < 0 or array.max() > 65535):
        raise ValueError("save_mask_png stores classes 0..65535; map unlabelled (-1) first.")
    dtype = np.uint8 if (array.size == 0 or array.max() < 256) else np.uint16
    imageio = require("imageio.v3", "vision", "save_mask_png")
    imageio.imwrite(os.fspath(path), array.astype(dtype), extension=".png")


def load_mask_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a label map written by :func:`save_mask_png`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    numpy.ndarray of shape (H, W), int64
    """
    imageio = require("imageio.v3", "vision", "load_mask_png")
    array = np.asarray(imageio.imread(os.fspath(path)))
    if array.ndim != 2:
        raise ValueError(f"{path} is not a grey-level label PNG (shape {array.shape}).")
    return array.astype(np.int64)


def mask_to_polygons(mask: Any, tolerance: float = 1.0) -> list[list[float]]:
    """Outlines of a binary mask as COCO polygons ``[x0, y0, x1, y1, ...]``.

    Parameters
    ----------
    mask : array of shape (H, W), bool
    tolerance : float
        Douglas-Peucker tolerance in pixels (as in :func:`click_cost`).

    Returns
    -------
    list of list of float

    Examples
    --------
    >>> square = np.zeros((6, 6), bool); square[1:4, 2:5] = True
    >>> len(mask_to_polygons(square)[0]) // 2
    4
    """
    measure = require("skimage.measure", "vision", "mask_to_polygons")
    padded = np.pad(np.asarray(mask, dtype=bool), 1).astype(np.float32)
    polygons = []
    for contour in measure.find_contours(padded, 0.5):
        simple = measure.approximate_polygon(contour, tolerance=tolerance)[:-1] - 1.0
        if len(simple) >= 3:
            # (row, col) at half-pixel boundaries -> (x, y) in COCO's pixel-corner frame.
            polygons.append(
                np.column_stack([simple[:, 1] + 0.5, simple[:, 0] + 0.5]).ravel().round(2).tolist()
            )
    return polygons


def mask_to_coco(
    mask: Any,
    image_id: int,
    start_id: int = 1,
    background: int | None = 0,
    tolerance: float = 1.0,
) -> list[dict[str, Any]]:
    """COCO annotations of a label map: one per connected component of every class.

    Parameters
    ----------
    mask : array of shape (H, W), int
        Classes; negative values are unlabelled and skipped.
    image_id : int
    start_id : int
        Id of the first annotation.
    background : int or None
        Class not exported (None exports every class).
    tolerance : float
        Polygon simplification, pixels.

    Returns
    -------
    list of dict
        ``id``, ``image_id``, ``category_id`` (the class), ``segmentation`` (polygons),
        ``bbox`` ``[x, y, w, h]``, ``area`` (pixels), ``iscrowd`` 0.

    Examples
    --------
    >>> mask = np.zeros((6, 6), int); mask[1:3, 1:4] = 2
    >>> ann = mask_to_coco(mask, image_id=7)[0]
    >>> ann["category_id"], ann["bbox"], ann["area"]
    (2, [1.0, 1.0, 3.0, 2.0], 6)
    """
    measure = require("skimage.measure", "vision", "mask_to_coco")
    array = np.asarray(mask)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"mask_to_coco needs a 2-D int label map; got {array.dtype} {array.shape}."
        )
    annotations = []
    next_id = int(start_id)
    for value in np.unique(array):
        if value < 0 or (background is not None and value == background):
            continue
        for prop in measure.regionprops(measure.label(array == value, connectivity=1)):
            r0, c0, r1, c1 = prop.bbox
            polygons = [
                (np.asarray(p).reshape(-1, 2) + np.array([c0, r0])).ravel().round(2).tolist()
                for p in mask_to_polygons(prop.image, tolerance)
            ]
            annotations.append(
                {
                    "id": next_id,
                    "image_id": int(image_id),
                    "category_id": int(value),
                    "segmentation": polygons,
                    "bbox": [float(c0), float(r0), float(c1 - c0), float(r1 - r0)],
                    "area": int(prop.area),
                    "iscrowd": 0,
                }
            )
            next_id += 1
    return annotations


def detections_to_coco(
    detections: Any, image_id: int, start_id: int = 1, min_score: float = 0.0
) -> list[dict[str, Any]]:
    """COCO annotations (results format, with ``score``) of a :class:`Detections`.

    Parameters
    ----------
    detections : Detections
    image_id : int
    start_id : int
    min_score : float
        Boxes with a lower confidence are left out.

    Returns
    -------
    list of dict
        ``id``, ``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``, ``area``,
        ``score``, ``iscrowd`` 0.
    """
    out = []
    next_id = int(start_id)
    for box, score, label in zip(
        detections.boxes, detections.scores, detections.labels, strict=True
    ):
        if score < min_score:
            continue
        x0, y0, x1, y1 = (float(v) for v in box)
        out.append(
            {
                "id": next_id,
                "image_id": int(image_id),
                "category_id": int(label),
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "area": (x1 - x0) * (y1 - y0),
                "score": float(score),
                "iscrowd": 0,
            }
        )
        next_id += 1
    return out


def coco_dataset(
    images: Sequence[dict[str, Any]],
    annotations: Sequence[dict[str, Any]],
    categories: Sequence[str],
) -> dict[str, Any]:
    """A COCO dataset dict (``json.dump`` it) from image records, annotations, class names.

    Parameters
    ----------
    images : sequence of dict
        ``{"id", "file_name", "width", "height"}`` per image.
    annotations : sequence of dict
        From :func:`mask_to_coco` or :func:`detections_to_coco`.
    categories : sequence of str
        Class names; class ``i`` gets ``{"id": i, "name": categories[i]}``.

    Returns
    -------
    dict

    Examples
    --------
    >>> coco_dataset([{"id": 1, "file_name": "a.png", "width": 4, "height": 4}], [],
    ...              ["background", "cell"])["categories"][1]
    {'id': 1, 'name': 'cell'}
    """
    known = set()
    for record in images:
        missing = {"id", "file_name", "width", "height"} - set(record)
        if missing:
            raise ValueError(f"coco_dataset: image record {record!r} lacks {sorted(missing)}.")
        known.add(record["id"])
    for ann in annotations:
        if ann.get("image_id") not in known:
            raise ValueError(
                f"Annotation {ann.get('id')} refers to unknown image {ann.get('image_id')}."
            )
    return {
        "images": [dict(r) for r in images],
        "annotations": [dict(a) for a in annotations],
        "categories": [{"id": i, "name": str(name)} for i, name in enumerate(categories)],
    }
