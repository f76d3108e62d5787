"""Segmentation metrics: intersection over union per class and averaged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["confusion_matrix", "mean_iou"]


def _as_list(maps: Any) -> list[np.ndarray]:
    if isinstance(maps, np.ndarray) and maps.ndim == 2:
        return [maps]
    return [np.asarray(m) for m in maps]


def confusion_matrix(
    y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray, n_classes: int
) -> np.ndarray:
    """Pixel confusion matrix over one label map or a list of them.

    Pixels whose true class is negative (unlabelled) are ignored.

    Parameters
    ----------
    y_true, y_pred : array of shape (H, W), or sequences of them
    n_classes : int

    Returns
    -------
    numpy.ndarray of shape (C, C), int64
        Rows are true classes, columns predicted classes.

    Examples
    --------
    >>> confusion_matrix(np.array([[0, 1]]), np.array([[1, 1]]), 2).tolist()
    [[0, 1], [0, 1]]
    """
    trues, preds = _as_list(y_true), _as_list(y_pred)
    if len(trues) != len(preds):
        raise ValueError(f"Got {len(trues)} true maps but {len(preds)} predicted maps.")
    matrix = np.zeros(n_classes * n_classes, dtype=np.int64)
    for i, (t, p) in enumerate(zip(trues, preds, strict=True)):
        if t.shape != p.shape:
            raise ValueError(f"Map {i}: true shape {t.shape} differs from predicted {p.shape}.")
        keep = t >= 0
        t, p = t[keep].astype(np.int64), p[keep].astype(np.int64)
        if t.size and (t.max() >= n_classes or p.min() < 0 or p.max() >= n_classes):
            raise ValueError(f"Map {i} has classes outside 0..{n_classes - 1}.")
        matrix += np.bincount(t * n_classes + p, minlength=n_classes * n_classes)
    return matrix.reshape(n_classes, n_classes)


def mean_iou(
    y_true: Sequence[Any] | np.ndarray,
    y_pred: Sequence[Any] | np.ndarray,
    n_classes: int,
    labels: Sequence[int] | None = None,
    average: str | None = "macro",
) -> float | np.ndarray:
    """Intersection over union, per class or averaged over classes (mIoU).

    IoU of class c is ``TP / (TP + FP + FN)`` over all pixels of all maps; a class absent
    from both truth and prediction has an undefined IoU (NaN) and is left out of the mean.

    Parameters
    ----------
    y_true, y_pred : array of shape (H, W), or sequences of them
    n_classes : int
    labels : sequence of int, optional
        Classes to average (for example ``[1]``: the foreground IoU of a binary task).
    average : {"macro", None}
        None returns the IoU of every class.

    Returns
    -------
    float, or numpy.ndarray of shape (C,)

    Examples
    --------
    >>> mean_iou(np.array([[0, 1, 1]]), np.array([[0, 1, 0]]), 2, labels=[1])
    0.5
    """
    matrix = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    tp = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, tp / union, np.nan)
    if average is None:
        return per_class
    if average != "macro":
        raise ValueError(f"average must be 'macro' or None; got {average!r}.")
    chosen = per_class[np.asarray(labels if labels is not None else range(n_classes))]
    return float(np.nanmean(chosen)) if np.any(np.isfinite(chosen)) else float("nan")
