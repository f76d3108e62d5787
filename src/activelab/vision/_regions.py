"""Regions of images: a fixed grid and SLIC superpixels, indexed across a pool of images.

A region map is an ``int64`` array of the image's height and width whose values are
``0 .. R-1``; every pixel belongs to exactly one region. :class:`RegionIndex` numbers the
regions of many images in one global range, computes each region once (the cache per
image) and keeps what the loop reads every round: sizes, the image of each region, a
pixel ordering that makes per-region reductions one ``reduceat`` pass, and the click cost
of each region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab._extras import require

__all__ = ["RegionIndex", "click_cost", "grid_regions", "region_click_costs", "slic_regions"]


def _skimage(purpose: str, module: str = "skimage") -> Any:
    return require(module, "vision", purpose)


def _check_shape(shape: Any, who: str) -> tuple[int, int]:
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    if len(shape) < 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{who} needs an image shape (height, width, ...); got {shape}.")
    return shape[0], shape[1]


def grid_regions(shape: Sequence[int], size: int = 16) -> np.ndarray:
    """Cut an image into square cells of ``size`` pixels (the last row/column may be smaller).

    Parameters
    ----------
    shape : sequence of int
        The image's ``(height, width)`` (further entries, such as channels, are ignored).
    size : int
        Side of a cell in pixels, at least 1.

    Returns
    -------
    numpy.ndarray of shape (height, width), int64
        Region ids ``0 .. R-1`` in row-major order of the cells.

    Examples
    --------
    >>> grid_regions((4, 6), size=2)
    array([[0, 0, 1, 1, 2, 2],
           [0, 0, 1, 1, 2, 2],
           [3, 3, 4, 4, 5, 5],
           [3, 3, 4, 4, 5, 5]])
    """
    height, width = _check_shape(shape, "grid_regions")
    if int(size) < 1:
        raise ValueError(f"grid_regions needs size >= 1 pixel; got {size}.")
    size = int(size)
    rows = np.arange(height) // size
    cols = np.arange(width) // size
    n_cols = -(-width // size)
    return (rows[:, None] * n_cols + cols[None, :]).astype(np.int64)


def slic_regions(
    image: Any,
    n_segments: int = 400,
    compactness: float = 0.1,
    sigma: float = 1.0,
    channel_axis: int | None = None,
) -> np.ndarray:
    """SLIC superpixels (Achanta et al. 2012) of an image, numbered ``0 .. R-1``.

    A thin wrapper around :func:`skimage.segmentation.slic` that rescales the image to
    [0, 1] (so ``compactness`` means the same for any dtype), and renumbers the segments
    so the ids are contiguous: every pixel belongs to exactly one region.

    Parameters
    ----------
    image : array of shape (H, W) or (H, W, channels)
    n_segments : int
        Approximate number of superpixels.
    compactness : float
        Balance of colour and space; small values follow edges closely. 0.1 suits
        fluorescence images scaled to [0, 1]; use ~10 for RGB photographs.
    sigma : float
        Gaussian smoothing before segmentation.
    channel_axis : int or None
        The channel axis of a colour image; None for a grey-level image.

    Returns
    -------
    numpy.ndarray of shape (H, W), int64

    References
    ----------
    Achanta, R. et al. (2012). SLIC superpixels compared to state-of-the-art superpixel
    methods. IEEE TPAMI 34(11), 2274-2282.

    Examples
    --------
    >>> image = np.zeros((32, 32)); image[8:24, 8:24] = 1.0
    >>> labels = slic_regions(image, n_segments=16)
    >>> labels.shape, int(labels.min())
    ((32, 32), 0)
    """
    segmentation = _skimage("SLIC superpixels", "skimage.segmentation")
    array = np.asarray(image, dtype=np.float64)
    expected = 2 if channel_axis is None else 3
    if array.ndim != expected:
        raise ValueError(
            f"slic_regions needs a {'grey-level (H, W)' if expected == 2 else 'colour'} image "
            f"for channel_axis={channel_axis}; got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("slic_regions got an image with NaN or infinite pixels; clean it first.")
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    labels = segmentation.slic(
        scaled,
        n_segments=int(n_segments),
        compactness=float(compactness),
        sigma=float(sigma),
        channel_axis=channel_axis,
        start_label=0,
        enforce_connectivity=True,
    )
    _, contiguous = np.unique(labels, return_inverse=True)
    return contiguous.reshape(labels.shape).astype(np.int64)


def click_cost(mask: Any, tolerance: float = 1.0) -> int:
    """Clicks needed to draw a binary region as polygons: the vertices of its outlines.

    The outlines are traced at the half-pixel boundary (:func:`skimage.measure.find_contours`
    on the zero-padded mask), then simplified with the Douglas-Peucker algorithm
    (:func:`skimage.measure.approximate_polygon`) at ``tolerance`` pixels, the precision an
    annotator's clicks have. Holes and separate parts add their own outlines. A square or
    rectangle costs 4 clicks; a superpixel with a ragged border costs more. This is the
    click-based cost of Cai et al. (2021).

    Parameters
    ----------
    mask : array of shape (H, W), bool
    tolerance : float
        Largest distance, in pixels, between an outline and its polygon.

    Returns
    -------
    int
        0 for an empty mask.

    References
    ----------
    Cai, L., Xu, X., Liew, J. H. and Foo, C. S. (2021). Revisiting superpixels for active
    learning in semantic segmentation with realistic annotation costs. CVPR.

    Examples
    --------
    >>> square = np.zeros((12, 12), bool); square[2:10, 3:9] = True
    >>> click_cost(square)
    4
    """
    measure = _skimage("click costs", "skimage.measure")
    array = np.asarray(mask, dtype=bool)
    if array.ndim != 2:
        raise ValueError(f"click_cost needs a 2-D mask; got shape {array.shape}.")
    if not array.any():
        return 0
    padded = np.pad(array, 1).astype(np.float32)
    clicks = 0
    for contour in measure.find_contours(padded, 0.5):
        polygon = measure.approximate_polygon(contour, tolerance=float(tolerance))
        clicks += max(len(polygon) - 1, 3)  # closed: the last point repeats the first
    return clicks


def region_click_costs(labels: Any, tolerance: float = 1.0) -> np.ndarray:
    """:func:`click_cost` of every region of a region map.

    Parameters
    ----------
    labels : array of shape (H, W), int
        Region ids ``0 .. R-1``.
    tolerance : float

    Returns
    -------
    numpy.ndarray of shape (R,), int64

    Examples
    --------
    >>> region_click_costs(grid_regions((8, 8), size=4)).tolist()
    [4, 4, 4, 4]
    """
    measure = _skimage("click costs", "skimage.measure")
    array = _check_labels(labels, "region_click_costs")
    costs = np.zeros(int(array.max()) + 1, dtype=np.int64)
    for prop in measure.regionprops(array + 1):
        costs[prop.label - 1] = click_cost(prop.image, tolerance)
    return costs


def _check_labels(labels: Any, who: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{who} needs a region map: a 2-D integer array; got {array.dtype} of shape "
            f"{array.shape}. Make one with grid_regions() or slic_regions()."
        )
    if array.size == 0 or array.min() < 0:
        raise ValueError(f"{who} needs region ids >= 0 in a non-empty map.")
    return array.astype(np.int64, copy=False)


class RegionIndex:
    """The regions of a pool of images, numbered globally and computed once per image.

    Parameters
    ----------
    label_maps : sequence of arrays of shape (H_i, W_i), int
        One region map per image (ids ``0 .. R_i-1``); images may differ in size.
    click_tolerance : float
        Passed to :func:`click_cost` when the click costs are first asked for.

    Attributes
    ----------
    n_regions : int
    offsets : numpy.ndarray of shape (n_images + 1,)
        Region ``r`` of image ``i`` has the global id ``offsets[i] + r``.
    image_of : numpy.ndarray of shape (n_regions,)
        The image each global region lies in.
    sizes : numpy.ndarray of shape (n_regions,)
        Pixels per region.

    Examples
    --------
    >>> index = RegionIndex.grid([(8, 8), (4, 8)], size=4)
    >>> index.n_regions, index.sizes.tolist()
    (6, [16, 16, 16, 16, 16, 16])
    >>> index.aggregate([np.ones((8, 8)), np.zeros((4, 8))], "mean").tolist()
    [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, label_maps: Sequence[Any], click_tolerance: float = 1.0) -> None:
        if len(label_maps) == 0:
            raise ValueError("RegionIndex needs at least one region map.")
        self.label_maps = [_check_labels(m, "RegionIndex") for m in label_maps]
        self.click_tolerance = click_tolerance
        counts = [int(m.max()) + 1 for m in self.label_maps]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n_regions = int(self.offsets[-1])
        self.image_of = np.repeat(np.arange(len(counts)), counts)
        flat = np.concatenate(
            [m.ravel() + off for m, off in zip(self.label_maps, self.offsets[:-1], strict=True)]
        )
        self.sizes = np.bincount(flat, minlength=self.n_regions).astype(np.int64)
        if np.any(self.sizes == 0):
            empty = np.flatnonzero(self.sizes == 0)[:5].tolist()
            raise ValueError(
                f"RegionIndex got region ids with no pixels (global ids {empty}); number "
                "the regions of each map 0 .. R-1 without gaps (np.unique(..., "
                "return_inverse=True) does it)."
            )
        self._order = np.argsort(flat, kind="stable")
        self._starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self._clicks: np.ndarray | None = None

    @classmethod
    def grid(cls, shapes: Sequence[Sequence[int]], size: int = 16) -> RegionIndex:
        """Grid cells of ``size`` pixels for images of the given shapes.

        Parameters
        ----------
        shapes : sequence of (height, width)
        size : int

        Returns
        -------
        RegionIndex
        """
        return cls([grid_regions(shape, size) for shape in shapes])

    @classmethod
    def slic(cls, images: Sequence[Any], n_segments: int = 400, **params: Any) -> RegionIndex:
        """SLIC superpixels of every image (see :func:`slic_regions` for ``params``).

        Parameters
        ----------
        images : sequence of arrays
        n_segments : int
            Superpixels per image (approximately).
        **params
            ``compactness``, ``sigma``, ``channel_axis``.

        Returns
        -------
        RegionIndex
        """
        return cls([slic_regions(image, n_segments, **params) for image in images])

    @property
    def n_images(self) -> int:
        """Number of images."""
        return len(self.label_maps)

    @property
    def clicks(self) -> np.ndarray:
        """Click cost of every region (polygon vertices, :func:`click_cost`), computed once."""
        if self._clicks is None:
            self._clicks = np.concatenate(
                [region_click_costs(m, self.click_tolerance) for m in self.label_maps]
            )
        return self._clicks

    def cost(self, unit: str) -> np.ndarray:
        """Cost of labelling each region in ``unit``: "pixels", "regions" or "clicks".

        Parameters
        ----------
        unit : str

        Returns
        -------
        numpy.ndarray of shape (n_regions,), float64
        """
        if unit == "pixels":
            return self.sizes.astype(np.float64)
        if unit == "regions":
            return np.ones(self.n_regions)
        if unit == "clicks":
            return self.clicks.astype(np.float64)
        raise ValueError(f"unit must be one of {COST_UNITS}; got {unit!r}.")

    def _flat(self, per_image: Sequence[Any], who: str) -> np.ndarray:
        if len(per_image) != self.n_images:
            raise ValueError(
                f"{who} got {len(per_image)} images for a RegionIndex of {self.n_images}."
            )
        arrays = []
        for i, (values, labels) in enumerate(zip(per_image, self.label_maps, strict=True)):
            array = np.asarray(values)
            if array.shape[:2] != labels.shape:
                raise ValueError(
                    f"{who}: image {i} has shape {array.shape[:2]} but its region map has "
                    f"{labels.shape}; pass arrays of the image's height and width."
                )
            arrays.append(array.reshape(labels.size, *array.shape[2:]))
        return np.concatenate(arrays)

    def aggregate(self, per_image: Sequence[Any], how: str = "mean") -> np.ndarray:
        """Reduce per-pixel values over each region: "mean", "max", "sum" or "min".

        Parameters
        ----------
        per_image : sequence of arrays of shape (H_i, W_i) or (H_i, W_i, d)
            Pixel values of each image (for example pixel scores or pixel features).
        how : str

        Returns
        -------
        numpy.ndarray of shape (n_regions,) or (n_regions, d), float64
        """
        ufuncs = {"max": np.maximum, "min": np.minimum, "sum": np.add, "mean": np.add}
        if how not in ufuncs:
            raise ValueError(f"how must be one of {sorted(ufuncs)}; got {how!r}.")
        values = self._flat(per_image, "RegionIndex.aggregate")[self._order]
        out = ufuncs[how].reduceat(values.astype(np.float64, copy=False), self._starts, axis=0)
        if how == "mean":
            out /= self.sizes.reshape(-1, *([1] * (out.ndim - 1)))
        return out

    def dominant(self, per_image: Sequence[Any], n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """The most frequent class of each region and its share of the region's pixels.

        Pixels with a negative class (unlabelled) are not counted; a region with none
        gets class -1 and share 0. Ties go to the smaller class id.

        Parameters
        ----------
        per_image : sequence of int arrays of shape (H_i, W_i)
        n_classes : int

        Returns
        -------
        classes : numpy.ndarray of shape (n_regions,), int64
        share : numpy.ndarray of shape (n_regions,), float64
        """
        values = self._flat(per_image, "RegionIndex.dominant").astype(np.int64)
        region = np.concatenate(
            [m.ravel() + off for m, off in zip(self.label_maps, self.offsets[:-1], strict=True)]
        )
        keep = values >= 0
        if np.any(values[keep] >= n_classes):
            raise ValueError(f"RegionIndex.dominant got class ids >= n_classes={n_classes}.")
        counts = np.bincount(
            region[keep] * n_classes + values[keep], minlength=self.n_regions * n_classes
        ).reshape(self.n_regions, n_classes)
        classes = counts.argmax(axis=1)
        top = counts[np.arange(self.n_regions), classes]
        classes = np.where(top > 0, classes, -1)
        return classes, top / self.sizes

    def mask(self, region_ids: Any) -> list[np.ndarray]:
        """Boolean masks, one per image, of the pixels in ``region_ids``.

        Parameters
        ----------
        region_ids : array-like of int
            Global region ids.

        Returns
        -------
        list of numpy.ndarray of shape (H_i, W_i), bool
        """
        chosen = np.zeros(self.n_regions, dtype=bool)
        chosen[np.asarray(region_ids, dtype=np.int64)] = True
        return [chosen[m + off] for m, off in zip(self.label_maps, self.offsets[:-1], strict=True)]

    def locate(self, region_id: int) -> tuple[int, np.ndarray]:
        """The image of a global region and its mask in that image.

        Parameters
        ----------
        region_id : int

        Returns
        -------
        image : int
        mask : numpy.ndarray of shape (H, W), bool
        """
        image = int(self.image_of[region_id])
        local = int(region_id) - int(self.offsets[image])
        return image, self.label_maps[image] == local


#: Cost units of region labelling.
COST_UNITS: tuple[str, ...] = ("pixels", "regions", "clicks")
