"""Embeddings and squared Euclidean distances in bounded memory.

The one place for the distance work of the diversity selectors
(:mod:`activelab._diversity`), the k-means (:mod:`activelab._kmeans`) and the strategies
that work on embeddings:

- :func:`as_embedding` checks and converts an embedding once, at the edge: a finite
  2-D float array (float32 unless asked otherwise; CSR kept when asked), with an error
  that names the first bad row.
- Squared distances come from BLAS as ``|a|² + |b|² − 2 a·b`` (:func:`squared_distances`),
  in row blocks of at most ``_BLOCK_BYTES`` (:func:`block_rows`), so no ``N × N`` matrix
  (nor ``N × k`` for a large ``N``) is ever held. :func:`centred` moves the pool mean to
  the origin first, which changes no distance and keeps the formula accurate in float32.
- :func:`nearest_centres` (arg-min over a few centres) and :func:`k_nearest` (the ``k``
  nearest per row, a heap) run one GEMM and one compiled pass per block;
  :func:`k_nearest_distances` partitions float64 keys when only the distances count.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_embedding",
    "block_rows",
    "centred",
    "check_widths",
    "cross",
    "k_nearest",
    "k_nearest_distances",
    "nearest_centres",
    "rows",
    "squared_distances",
    "squared_norms",
]

_JIT = {"cache": True, "nogil": True}

#: Bytes of one block of distances (or products) held at a time.
_BLOCK_BYTES = 1 << 24
#: Largest dense embedding built from sparse features.
_MAX_DENSE_BYTES = 1 << 31


# ---------------------------------------------------------------------------- embeddings


def as_embedding(
    emb: Any,
    who: str,
    *,
    dtype: Any = np.float32,
    keep_sparse: bool = False,
    what: str = "the embeddings",
) -> Any:
    """An embedding as a finite, C-contiguous 2-D float array, or a ValueError.

    Parameters
    ----------
    emb : array-like or sparse matrix of shape (n, d)
    who : str
        The caller, for messages.
    dtype : numpy dtype or None, default=float32
        The result's dtype; None keeps float32 and float64 and makes anything else
        float64. Values beyond the dtype's range become inf and are refused.
    keep_sparse : bool, default=False
        Return a sparse input as CSR instead of densifying it (dense inputs stay dense).
        A dense copy larger than 2 GiB is refused with a hint to reduce the features.
    what : str, default="the embeddings"
        What ``emb`` is, for messages ("the embeddings of X_pool").

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix of shape (n, d)

    Examples
    --------
    >>> as_embedding([[1, 2], [3, 4]], "demo").dtype
    dtype('float32')
    """
    if sp.issparse(emb):
        n, d = emb.shape
        if keep_sparse:
            with np.errstate(over="ignore"):  # values beyond the dtype become inf, refused below
                matrix = sp.csr_matrix(emb, dtype=np.float64 if dtype is None else dtype)
            _check_finite(matrix.data, matrix.indptr, who, what)
            _check_rows(n, who, what)
            return matrix
        itemsize = np.dtype(np.float64 if dtype is None else dtype).itemsize
        if n * d * itemsize > _MAX_DENSE_BYTES:
            raise ValueError(
                f"{who} works on dense embeddings; the {n} x {d} sparse features of {what} "
                f"would take {n * d * itemsize / 2**30:.1f} GiB. Reduce them first, e.g. "
                "with TruncatedSVD(n_components=100) as a Pipeline step before the classifier."
            )
        emb = emb.toarray()
    array = np.asarray(emb)
    if array.ndim != 2:
        raise ValueError(f"{who} needs {what} of shape (n, d); got shape {array.shape}.")
    _check_rows(array.shape[0], who, what)
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{who} needs real-valued {what}; got dtype {array.dtype}.")
    if dtype is None:
        dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
    try:
        with np.errstate(over="ignore"):  # values beyond the dtype become inf, refused below
            array = np.ascontiguousarray(array, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{who} needs real-valued {what}; got dtype {array.dtype}.") from None
    _check_finite(array, None, who, what)
    return array


def _check_rows(n: int, who: str, what: str) -> None:
    if n == 0:
        raise ValueError(f"{who} needs at least one row in {what}; got none.")


def _check_finite(values: np.ndarray, indptr: np.ndarray | None, who: str, what: str) -> None:
    """Raise naming the first row of ``values`` (dense, or CSR data) holding NaN or inf."""
    finite = np.isfinite(values)
    if finite.all():
        return
    if indptr is None:
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
    else:
        row = int(np.searchsorted(indptr, np.flatnonzero(~finite)[0], side="right") - 1)
    raise ValueError(
        f"{who}: row {row} of {what} contains NaN or inf (or values too large for "
        f"{values.dtype}); "
        "impute or drop missing features, check the model, or scale the features."
    )


def check_widths(pool: Any, labeled: Any, who: str) -> None:
    """Raise a ValueError unless ``pool`` and ``labeled`` have the same number of columns.

    Parameters
    ----------
    pool, labeled : array or sparse matrix of shape (n, d) and (m, d')
    who : str
        The caller, for messages.
    """
    if labeled.shape[1] != pool.shape[1]:
        raise ValueError(
            f"{who}: X_labeled embeds into {labeled.shape[1]} features but X_pool into "
            f"{pool.shape[1]}; pass labeled and pool items with the same columns (and "
            "embed both with the same model)."
        )


def centred(
    pool: np.ndarray, *others: np.ndarray | None, normalize: bool = False
) -> tuple[np.ndarray, ...]:
    """``pool`` and ``others`` minus the mean of ``pool``, as C-contiguous float32.

    Centring changes no distance and keeps ``|a|² + |b|² − 2 a·b`` accurate in float32;
    the mean is taken and subtracted in float64.

    Parameters
    ----------
    pool : array of shape (n, d), float32 or float64
    *others : arrays of shape (m, d), or None (passed through)
    normalize : bool, default=False
        Scale every row to unit length first (zero rows stay zero).

    Returns
    -------
    tuple of numpy.ndarray
        The centred ``pool``, then each of ``others``.

    Examples
    --------
    >>> centred(np.array([[1.0, 2.0], [3.0, 4.0]]))[0].tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    """
    if normalize:
        pool = _l2_normalize(pool)
        others = tuple(None if other is None else _l2_normalize(other) for other in others)
    centre = pool.mean(axis=0, dtype=np.float64)

    def shift(array: np.ndarray | None) -> np.ndarray | None:
        if array is None:
            return None
        out = np.empty(array.shape, dtype=np.float32)
        np.subtract(array, centre, out=out, casting="same_kind")
        return out

    return (shift(pool), *(shift(other) for other in others))


def _l2_normalize(array: np.ndarray) -> np.ndarray:
    lengths = np.sqrt(np.einsum("ij,ij->i", array, array, dtype=np.float64))
    lengths[lengths == 0] = 1.0  # zero rows stay zero, as sklearn.preprocessing.normalize does
    return array / lengths[:, None]


def rows(E: Any, index: Any) -> np.ndarray:
    """Rows of ``E`` (dense or sparse) as a dense 2-D array of ``E``'s dtype.

    Parameters
    ----------
    E : array or sparse matrix of shape (n, d)
    index : int array or list

    Returns
    -------
    numpy.ndarray of shape (len(index), d)
    """
    picked = E[index]
    if sp.issparse(picked):
        picked = picked.toarray()
    return np.asarray(picked).reshape(-1, E.shape[1])


# ----------------------------------------------------------------------------- distances


def block_rows(n_columns: int, itemsize: int = 4) -> int:
    """Rows per block so that a block of ``n_columns`` values fits in ``_BLOCK_BYTES``.

    Parameters
    ----------
    n_columns : int
    itemsize : int, default=4
        Bytes per value (4 for float32, 8 for float64).

    Returns
    -------
    int
        At least 1.
    """
    return max(1, _BLOCK_BYTES // (itemsize * max(1, n_columns)))


def squared_norms(E: Any) -> np.ndarray:
    """``|x|²`` of every row of ``E`` (dense or sparse), in ``E``'s dtype.

    Parameters
    ----------
    E : array or sparse matrix of shape (n, d)

    Returns
    -------
    numpy.ndarray of shape (n,)
    """
    if sp.issparse(E):
        return np.asarray(E.multiply(E).sum(axis=1), dtype=E.dtype).ravel()
    return np.einsum("ij,ij->i", E, E)


def cross(A: Any, B: Any) -> np.ndarray:
    """``A @ B.T`` as a dense array, for dense or sparse ``A`` and ``B``.

    Parameters
    ----------
    A, B : arrays or sparse matrices of shape (m, d) and (n, d)

    Returns
    -------
    numpy.ndarray of shape (m, n)
    """
    if sp.issparse(A) and sp.issparse(B):
        return (A @ B.T).toarray()
    if sp.issparse(B):
        return np.asarray((B @ A.T).T)
    return np.asarray(A @ B.T)


def squared_distances(A: Any, a_norms: np.ndarray, B: Any, b_norms: np.ndarray) -> np.ndarray:
    """``|a|² + |b|² − 2 a·b`` for every pair of rows, clipped at 0 (one GEMM).

    Parameters
    ----------
    A, B : arrays or sparse matrices of shape (m, d) and (n, d)
    a_norms, b_norms : arrays of shape (m,) and (n,)
        Their squared row norms (:func:`squared_norms`).

    Returns
    -------
    numpy.ndarray of shape (m, n)
        Hold it only for blocks (:func:`block_rows`) or small inputs.

    Examples
    --------
    >>> A = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> squared_distances(A, squared_norms(A), A[:1], squared_norms(A[:1])).ravel().tolist()
    [0.0, 25.0]
    """
    distances = cross(A, B)
    distances *= -2.0
    distances += a_norms[:, None]
    distances += b_norms[None, :]
    np.maximum(distances, 0.0, out=distances)
    return distances


@numba.njit(**_JIT)
def _nearest_in_block(products, row_norms, centre_norms, labels, sq_dist):  # pragma: no cover
    """Arg-min of ``products[i, j] + centre_norms[j]`` per row, and ``|x − c|²`` there.

    ``products`` holds ``−2 x·c``; ``|x|²`` does not move the arg-min and is added last.
    Four running minima (over columns ``j mod 4``) break the chain of dependent compares,
    which makes the pass about 1.5× faster; ties go to the lowest centre index.
    """
    k = products.shape[1]
    whole = k - k % 4
    for i in range(products.shape[0]):
        best0 = best1 = best2 = best3 = np.inf
        arg0 = arg1 = arg2 = arg3 = 0
        for j in range(0, whole, 4):
            value0 = products[i, j] + centre_norms[j]
            value1 = products[i, j + 1] + centre_norms[j + 1]
            value2 = products[i, j + 2] + centre_norms[j + 2]
            value3 = products[i, j + 3] + centre_norms[j + 3]
            if value0 < best0:
                best0, arg0 = value0, j
            if value1 < best1:
                best1, arg1 = value1, j + 1
            if value2 < best2:
                best2, arg2 = value2, j + 2
            if value3 < best3:
                best3, arg3 = value3, j + 3
        for j in range(whole, k):
            value0 = products[i, j] + centre_norms[j]
            if value0 < best0:
                best0, arg0 = value0, j
        for best, arg in ((best1, arg1), (best2, arg2), (best3, arg3)):
            if best < best0 or (best == best0 and arg < arg0):
                best0, arg0 = best, arg
        labels[i] = arg0
        sq_dist[i] = max(row_norms[i] + best0, 0.0)


def nearest_centres(
    E: Any, norms: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest of ``centres`` for every row of ``E``, and the squared distance to it.

    One GEMM with ``−2 × centres`` and one compiled pass per block of rows; ties go to
    the lowest centre index.

    Parameters
    ----------
    E : array or sparse matrix of shape (n, d)
    norms : array of shape (n,)
        ``squared_norms(E)``.
    centres : array of shape (k, d), dense

    Returns
    -------
    labels : numpy.ndarray of shape (n,), int64
    sq_dist : numpy.ndarray of shape (n,), float32

    Examples
    --------
    >>> E = np.array([[0.0], [1.0], [9.0]], dtype=np.float32)
    >>> labels, sq_dist = nearest_centres(E, squared_norms(E), np.array([[0.0], [10.0]]))
    >>> labels.tolist(), sq_dist.tolist()
    ([0, 0, 1], [0.0, 1.0, 1.0])
    """
    n = E.shape[0]
    centres = np.asarray(centres, dtype=E.dtype)
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    scaled = -2.0 * centres
    labels = np.empty(n, dtype=np.int64)
    sq_dist = np.empty(n, dtype=np.float32)
    step = block_rows(centres.shape[0])
    for start in range(0, n, step):
        stop = min(start + step, n)
        _nearest_in_block(
            cross(E[start:stop], scaled),
            norms[start:stop],
            centre_norms,
            labels[start:stop],
            sq_dist[start:stop],
        )
    return labels, sq_dist


@numba.njit(**_JIT)
def _k_smallest(products, column_norms, skip, index, keys):  # pragma: no cover - compiled
    """Per row, the ``k`` columns with the smallest ``|b_j|² − 2 products[i, j]``.

    A size-k max-heap per row, one pass over the block; a later column with an equal
    key does not displace an earlier one. With ``skip >= 0``, column ``skip + i`` is
    left out of row ``i`` (the row itself, when rows and columns are the same points).
    ``index`` and ``keys`` are ``(rows, k)`` outputs, in heap order.
    """
    k = index.shape[1]
    for i in range(products.shape[0]):
        size = 0
        for j in range(products.shape[1]):
            if j == skip + i:
                continue
            key = column_norms[j] - 2.0 * products[i, j]
            if size < k:
                position = size
                size += 1
                while position > 0:
                    parent = (position - 1) // 2
                    if keys[i, parent] >= key:
                        break
                    keys[i, position] = keys[i, parent]
                    index[i, position] = index[i, parent]
                    position = parent
            elif key < keys[i, 0]:
                position = 0
                while True:
                    child = 2 * position + 1
                    if child >= k:
                        break
                    if child + 1 < k and keys[i, child + 1] > keys[i, child]:
                        child += 1
                    if keys[i, child] <= key:
                        break
                    keys[i, position] = keys[i, child]
                    index[i, position] = index[i, child]
                    position = child
            else:
                continue
            keys[i, position] = key
            index[i, position] = j


def k_nearest(
    queries: Any,
    query_norms: np.ndarray,
    points: Any,
    point_norms: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``points`` of every query row, and their squared distances.

    Blocked over the queries (one GEMM per block, at most ``_BLOCK_BYTES`` of products),
    then one compiled pass per row keeps the ``k`` nearest in a heap, straight from the
    products: ``O(m·n·d)`` time, ``O(m·k)`` memory beyond the block. Among equidistant
    points the lower index wins; shuffle ``points`` first for random ties.

    Parameters
    ----------
    queries, points : arrays or sparse matrices of shape (m, d) and (n, d)
    query_norms, point_norms : arrays of shape (m,) and (n,)
    k : int
        ``1 <= k <= n`` (``n − 1`` with ``exclude_self``).
    exclude_self : bool, default=False
        ``queries`` are ``points``: leave each row out of its own neighbours.

    Returns
    -------
    index : numpy.ndarray of shape (m, k), int64
        Each row's neighbours, in no particular order.
    sq_dist : numpy.ndarray of shape (m, k), float64
        Their squared distances, clipped at 0.

    Examples
    --------
    >>> P = np.array([[0.0], [1.0], [5.0]])
    >>> index, sq_dist = k_nearest(P, squared_norms(P), P, squared_norms(P), 1, exclude_self=True)
    >>> index.ravel().tolist(), sq_dist.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 16.0])
    """
    m, n = queries.shape[0], points.shape[0]
    index = np.empty((m, k), dtype=np.int64)
    sq_dist = np.empty((m, k), dtype=np.float64)
    step = block_rows(n, np.result_type(queries.dtype, points.dtype).itemsize)
    for start in range(0, m, step):
        stop = min(start + step, m)
        _k_smallest(
            cross(queries[start:stop], points),
            point_norms,
            start if exclude_self else -(n + m),
            index[start:stop],
            sq_dist[start:stop],
        )
    sq_dist += query_norms[:, None]
    return index, np.maximum(sq_dist, 0.0, out=sq_dist)


def k_nearest_distances(
    queries: Any,
    query_norms: np.ndarray,
    points: Any,
    point_norms: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
) -> np.ndarray:
    """The squared distances of :func:`k_nearest`, without the indices.

    Keys ``|b|² − 2 a·b`` in float64 and a values-only ``np.partition`` per block of at
    most ``_BLOCK_BYTES``: faster than the heap when no index is needed and the points
    are float64 already (no conversion), as for small clusters.

    Parameters
    ----------
    queries, query_norms, points, point_norms, k, exclude_self
        As for :func:`k_nearest`.

    Returns
    -------
    numpy.ndarray of shape (m, k), float64
        Each row's ``k`` smallest squared distances, in no particular order.

    Examples
    --------
    >>> P = np.array([[0.0], [1.0], [5.0]])
    >>> k_nearest_distances(P, squared_norms(P), P, squared_norms(P), 1).ravel().tolist()
    [0.0, 0.0, 0.0]
    """
    m, n = queries.shape[0], points.shape[0]
    sq_dist = np.empty((m, k), dtype=np.float64)
    step = block_rows(n, itemsize=8)
    for start in range(0, m, step):
        stop = min(start + step, m)
        keys = cross(queries[start:stop], points).astype(np.float64, copy=False)
        keys *= -2.0
        keys += point_norms[None, :]
        if exclude_self:
            own = np.arange(start, stop)
            keys[own - start, own] = np.inf
        sq_dist[start:stop] = np.partition(keys, k - 1, axis=1)[:, :k]
    sq_dist += query_norms[:, None]
    return np.maximum(sq_dist, 0.0, out=sq_dist)
