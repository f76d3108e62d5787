"""Hybrid strategies: model outputs combined with embeddings, clusters or a discriminator.

CLUE (uncertainty-weighted k-means), FALCUN (uncertainty plus diversity in probability
space), DropQuery (dropout-inconsistent candidates, then k-means), CAL (KL divergence to
the labeled neighbours) and DAL (a labeled-vs-unlabeled discriminator).

The distance work is done in float32 with BLAS (``|a|² + |b|² − 2ab``), in row blocks of
at most ``_BLOCK_ELEMENTS`` distances, so no ``N × N`` (or ``N × k`` for large ``N``)
matrix is ever held. Ties are broken at random under the query's generator.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from activelab import _kernels, scores
from activelab._parallel import map_row_blocks
from activelab._validation import (
    RandomStateLike,
    as_float_array,
    check_random_state,
    n_rows,
    raise_row_problem,
)
from activelab.models import Features, ModelAdapter, SklearnAdapter
from activelab.select import top_k
from activelab.strategies._base import Strategy

__all__ = ["CLUE", "Contrastive", "Discriminative", "DropQuery", "Falcun"]

_JIT = {"cache": True, "nogil": True}

#: Distances held at once by a blocked pass (float32: 16 MiB).
_BLOCK_ELEMENTS = 1 << 22
_PROBA = "probabilities of shape (n, C)"


# --------------------------------------------------------------------------- validation


def _check_int(value: Any, name: str, who: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def _check_float(
    value: Any, name: str, who: str, low: float, high: float = np.inf, *, open_low: bool = False
) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"> {low}" if open_low else f">= {low}"
        if np.isfinite(high):
            bound += f" and <= {high}"
        raise ValueError(f"{who}: {name} must be a finite number {bound}; got {value!r}.")
    return float(value)


def _probabilities(proba: Any, who: str) -> np.ndarray:
    """``predict_proba`` output as a validated float64 ``(n, C)`` array."""
    array = as_float_array(proba, name=who, ndim=2, what=_PROBA).astype(np.float64, copy=False)
    bad_row, problem = _kernels.check_rows(array)
    raise_row_problem(who, bad_row, problem, array)
    return array


def _require_labeled(X_labeled: Any, who: str) -> int:
    """Number of labeled rows; a ValueError when there are none."""
    count = 0 if X_labeled is None else n_rows(X_labeled)
    if count == 0:
        found = "None" if X_labeled is None else "an empty labeled set"
        raise ValueError(
            f"{who} compares the pool with the labeled set, so it needs X_labeled; got "
            f"{found}. Pass the labeled rows: query(model, X_pool, k, X_labeled, y_labeled)."
        )
    return count


# ---------------------------------------------------------------------------- embeddings


def _embedding(model: ModelAdapter, X: Any, who: str, *, dtype: Any = np.float32) -> Any:
    """``model.embed(X)`` as a C-contiguous ``dtype`` array (CSR when sparse), checked finite."""
    return _as_embedding(model.embed(X), who, dtype=dtype)


def _as_embedding(embedded: Any, who: str, *, dtype: Any = np.float32) -> Any:
    """An embedding as a C-contiguous ``dtype`` array (CSR when sparse), checked finite."""
    if sp.issparse(embedded):
        embedded = sp.csr_matrix(embedded, dtype=dtype)
        values = embedded.data
    else:
        embedded = np.ascontiguousarray(embedded, dtype=dtype)
        values = embedded
    if embedded.ndim != 2:
        raise ValueError(f"{who}: the embedding must be 2-D (n, d); got {embedded.shape}.")
    if not np.isfinite(values).all():
        raise ValueError(
            f"{who}: the embedding holds NaN or inf (or values beyond float32); "
            "check the features, or scale them."
        )
    return embedded


def _rows(E: Any, index: Any) -> np.ndarray:
    """Rows of ``E`` (dense or sparse) as a dense float32 array."""
    rows = E[index]
    if sp.issparse(rows):
        rows = rows.toarray()
    return np.asarray(rows, dtype=np.float32).reshape(-1, E.shape[1])


def _squared_norms(E: Any) -> np.ndarray:
    if sp.issparse(E):
        return np.asarray(E.multiply(E).sum(axis=1), dtype=np.float32).ravel()
    return np.einsum("ij,ij->i", E, E)


def _cross(A: Any, B: Any) -> np.ndarray:
    """``A @ B.T`` as a dense float32 array, for dense or sparse ``A`` and ``B``."""
    if sp.issparse(A) and sp.issparse(B):
        product = (A @ B.T).toarray()
    elif sp.issparse(B):
        product = (B @ A.T).T
    else:
        product = A @ B.T
    return np.asarray(product, dtype=np.float32)


def _squared_distances(A: Any, a_norms: np.ndarray, B: Any, b_norms: np.ndarray) -> np.ndarray:
    """``|a|² + |b|² − 2ab`` for every row pair, ``(len(A), len(B))``, clipped at 0."""
    distances = _cross(A, B)
    distances *= -2.0
    distances += a_norms[:, None]
    distances += b_norms[None, :]
    np.maximum(distances, 0.0, out=distances)
    return distances


def _block_rows(n: int, columns: int) -> int:
    return max(1, min(n, _BLOCK_ELEMENTS // max(columns, 1)))


# ------------------------------------------------------------------------------- k-means


@numba.njit(**_JIT)
def _nearest_centres(products, centre_norms, labels):  # pragma: no cover - compiled
    """``labels[i] = argmin_j (products[i, j] + centre_norms[j])`` in one pass over the block.

    ``products`` holds ``−2 x·c``; ``|x|²`` is left out as it does not move a row's arg-min.
    """
    for i in range(products.shape[0]):
        best = np.inf
        arg = 0
        for j in range(products.shape[1]):
            value = products[i, j] + centre_norms[j]
            if value < best:
                best = value
                arg = j
        labels[i] = arg


@numba.njit(**_JIT)
def _weighted_sums(E, labels, weights, sums, mass):  # pragma: no cover - compiled
    """Per-cluster ``Σ w_i x_i`` and ``Σ w_i`` (the Lloyd update's numerators and masses)."""
    for i in range(E.shape[0]):
        cluster = labels[i]
        weight = weights[i]
        mass[cluster] += weight
        for j in range(E.shape[1]):
            sums[cluster, j] += weight * E[i, j]


@numba.njit(**_JIT)
def _seeding_potentials(  # pragma: no cover - compiled
    products, norms, candidate_norms, closest, weights, potentials
):
    """k-means++ candidates: ``min(closest, |x − c|²)`` in place, weighted sums per candidate.

    ``products`` holds ``x·c`` on entry and the new nearest-centre distances on return.
    """
    for i in range(products.shape[0]):
        for t in range(products.shape[1]):
            distance = norms[i] + candidate_norms[t] - 2.0 * products[i, t]
            distance = min(max(distance, 0.0), closest[i])
            products[i, t] = distance
            potentials[t] += weights[i] * distance


def _kmeans_plus_plus(
    E: Any, norms: np.ndarray, k: int, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Greedy weighted k-means++ seeding (Arthur & Vassilvitskii 2007).

    Each new centre is the best of ``2 + ln k`` candidates drawn with probability
    proportional to ``weight × squared distance to the nearest centre``, as scikit-learn
    seeds KMeans. When every weighted distance is zero (duplicates, or fewer weighted
    points than centres) the candidates are drawn uniformly.
    """
    n = E.shape[0]
    trials = 2 + int(np.log(k))
    centres = np.empty((k, E.shape[1]), dtype=np.float32)
    total = float(weights.sum())
    first = (
        int(np.searchsorted(np.cumsum(weights), rng.random() * total, side="right"))
        if total > 0
        else int(rng.integers(n))
    )
    centres[0] = _rows(E, [min(first, n - 1)])[0]
    closest = _squared_distances(E, norms, centres[:1], norms[[min(first, n - 1)]])[:, 0]
    closest = closest.astype(np.float64)
    block = _block_rows(n, trials)
    for c in range(1, k):
        cumulative = np.cumsum(weights * closest)
        if cumulative[-1] > 0:
            draws = rng.random(trials) * cumulative[-1]
            candidates = np.minimum(np.searchsorted(cumulative, draws, side="right"), n - 1)
        else:
            candidates = rng.integers(n, size=trials)
        candidate_rows = _rows(E, candidates)
        candidate_norms = norms[candidates]
        potentials = np.zeros(trials)
        if block >= n:  # one block: keep it, no second pass for the winner
            products = _cross(E, candidate_rows)
            _seeding_potentials(products, norms, candidate_norms, closest, weights, potentials)
            best = int(np.argmin(potentials))
            closest = products[:, best].astype(np.float64)
        else:
            for start in range(0, n, block):
                stop = min(start + block, n)
                products = _cross(E[start:stop], candidate_rows)
                _seeding_potentials(
                    products,
                    norms[start:stop],
                    candidate_norms,
                    closest[start:stop],
                    weights[start:stop],
                    potentials,
                )
            best = int(np.argmin(potentials))
            distances = _squared_distances(
                E, norms, candidate_rows[best : best + 1], candidate_norms[[best]]
            )
            np.minimum(closest, distances[:, 0], out=closest)
        centres[c] = candidate_rows[best]
    return centres


def _scan(
    E: Any, norms: np.ndarray, centres: np.ndarray, priority: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest centre of every row; with ``priority``, also the nearest row of every centre.

    Rows tie for a centre by the lowest ``priority`` (random numbers), never by index.
    For the labels alone ``|x|²`` is left out (it does not change a row's arg-min) and
    ``−2`` is folded into the centres, so a block costs one GEMM and one add.
    """
    n, k = E.shape[0], centres.shape[0]
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    scaled = -2.0 * centres
    labels = np.empty(n, dtype=np.int64)
    nearest = best = None
    if priority is not None:
        nearest = np.zeros(k, dtype=np.int64)
        best = np.full(k, np.inf, dtype=np.float32)
    block = _block_rows(n, k)
    for start in range(0, n, block):
        stop = min(start + block, n)
        distances = _cross(E[start:stop], scaled)
        _nearest_centres(distances, centre_norms, labels[start:stop])
        if priority is None:
            continue
        distances += centre_norms[None, :]
        distances += norms[start:stop, None]
        np.maximum(distances, 0.0, out=distances)
        column_min = distances.min(axis=0)
        ranked = np.where(distances == column_min, priority[start:stop, None], np.inf)
        rows = start + ranked.argmin(axis=0)
        better = (column_min < best) | ((column_min == best) & (priority[rows] < priority[nearest]))
        nearest[better] = rows[better]
        best[better] = column_min[better]
    return labels, nearest


def _lloyd(
    E: Any,
    norms: np.ndarray,
    centres: np.ndarray,
    weights: np.ndarray,
    max_iter: int,
    tol: float,
) -> np.ndarray:
    """Weighted Lloyd iterations from ``centres``; stops when labels repeat or centres settle.

    ``tol`` is relative to the mean feature variance, as in scikit-learn's KMeans. A
    cluster that loses all its weight keeps its centre.
    """
    n, k = E.shape[0], centres.shape[0]
    mean = np.asarray(E.mean(axis=0), dtype=np.float64).ravel()
    variance = max(float(norms.mean(dtype=np.float64)) - float(mean @ mean), 0.0) / E.shape[1]
    threshold = tol * variance
    previous = None
    columns = np.arange(n) if sp.issparse(E) else None
    for _ in range(max_iter):
        labels, _ = _scan(E, norms, centres)
        if previous is not None and np.array_equal(labels, previous):
            break
        previous = labels
        if sp.issparse(E):
            membership = sp.csr_matrix((weights, (labels, columns)), shape=(k, n))
            sums = np.asarray((membership @ E).toarray())
            mass = np.bincount(labels, weights=weights, minlength=k)
        else:
            sums = np.zeros((k, E.shape[1]))
            mass = np.zeros(k)
            _weighted_sums(E, labels, weights, sums, mass)
        updated = centres.copy()
        filled = mass > 0
        updated[filled] = sums[filled] / mass[filled, None]
        shift = float(((updated - centres) ** 2).sum())
        centres = updated
        if shift <= threshold:
            break
    return centres


def _cluster_representatives(
    E: Any,
    k: int,
    weights: np.ndarray,
    rng: np.random.Generator,
    max_iter: int,
    tol: float,
) -> np.ndarray:
    """Weighted k-means with ``k`` centres, then the nearest unpicked row of each centre.

    Centres are visited heaviest cluster first (total weight; ties at random), so the
    batch is ordered most informative first. A centre whose nearest row was taken by an
    earlier centre (duplicate rows, coinciding centres) takes its nearest untaken row.
    """
    n = E.shape[0]
    norms = _squared_norms(E)
    centres = _kmeans_plus_plus(E, norms, k, weights, rng)
    centres = _lloyd(E, norms, centres, weights, max_iter, tol)
    priority = rng.random(n)
    labels, nearest = _scan(E, norms, centres, priority)
    mass = np.bincount(labels, weights=weights, minlength=k)
    order = np.lexsort((rng.random(k), -mass))
    taken = np.zeros(n, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    for position, centre in enumerate(order):
        row = int(nearest[centre])
        if taken[row]:
            distances = _squared_distances(
                E, norms, centres[centre : centre + 1], centre_norms[centre : centre + 1]
            )[:, 0]
            distances[taken] = np.inf
            tied = np.flatnonzero(distances == distances.min())
            row = int(tied[np.argmin(priority[tied])])
        taken[row] = True
        picks[position] = row
    return picks


# ---------------------------------------------------------------------------- FALCUN kernels


@numba.njit(**_JIT)
def _falcun_distances(proba, query, distances, start, stop):  # pragma: no cover - compiled
    """``d_i = min(d_i, ‖p_i − p_q‖₁)`` on rows ``start:stop``; returns their min and max."""
    low = np.inf
    high = -np.inf
    for i in range(start, stop):
        total = 0.0
        for c in range(proba.shape[1]):
            total += abs(proba[i, c] - query[c])
        if total < distances[i]:
            distances[i] = total
        low = min(low, distances[i])
        high = max(high, distances[i])
    return low, high


@numba.njit(**_JIT)
def _power(value, gamma, integer):
    if integer < 0:
        return value**gamma
    result = 1.0
    base = value
    exponent = integer
    while exponent > 0:
        if exponent & 1:
            result *= base
        base *= base
        exponent >>= 1
    return result


@numba.njit(**_JIT)
def _falcun_relevance(  # pragma: no cover - compiled
    uncertainty, distances, taken, low, span, gamma, integer, scale, relevance, start, stop
):
    """Relevance ``((u_i + d_i) · scale)^γ`` of rows ``start:stop``, 0 for taken rows.

    With ``span >= 0`` the distances are first min-max normalised in place,
    ``d_i ← (d_i − low) / span`` (no division when ``span == 0``). ``scale == 0`` means
    uniform: relevance 1 for every untaken row. Returns the rows' total relevance and
    the largest ``u_i + d_i`` among untaken rows.
    """
    total = 0.0
    largest = 0.0
    for i in range(start, stop):
        if span >= 0.0:
            distances[i] -= low
            if span > 0.0:
                distances[i] /= span
        if taken[i]:
            relevance[i] = 0.0
            continue
        value = uncertainty[i] + distances[i]
        largest = max(largest, value)
        if scale == 0.0:
            relevance[i] = 1.0
        else:
            relevance[i] = _power(value * scale, gamma, integer)
        total += relevance[i]
    return total, largest


@numba.njit(**_JIT)
def _draw_in_block(relevance, target, start, stop):  # pragma: no cover - compiled
    """First row whose running relevance exceeds ``target``; the last positive row if none."""
    running = 0.0
    last = -1
    for i in range(start, stop):
        if relevance[i] > 0.0:
            running += relevance[i]
            last = i
            if running > target:
                return i
    return last


# ------------------------------------------------------------------------------ CAL kernel


@numba.njit(**_JIT)
def _contrastive_block(  # pragma: no cover - compiled
    products, labeled_norms, n_neighbors, labeled_proba, neg_entropy, log_pool, out
):
    """CAL scores of a block of pool rows from ``products = x·l`` (block × labeled).

    Per row, a size-K max-heap keeps the K smallest keys ``|l|² − 2 x·l`` (``|x|²`` does
    not change the ranking) in one pass; a later row with an equal key does not displace
    an earlier one. Then ``mean_j Σ_c q_jc log q_jc − Σ_c (mean_j q_jc) log p_c``.
    """
    n_classes = labeled_proba.shape[1]
    keys = np.empty(n_neighbors)
    index = np.empty(n_neighbors, dtype=np.int64)
    for i in range(products.shape[0]):
        size = 0
        for j in range(products.shape[1]):
            key = labeled_norms[j] - 2.0 * products[i, j]
            if size < n_neighbors:
                position = size
                size += 1
                while position > 0:
                    parent = (position - 1) // 2
                    if keys[parent] >= key:
                        break
                    keys[position] = keys[parent]
                    index[position] = index[parent]
                    position = parent
            elif key < keys[0]:
                position = 0
                while True:
                    child = 2 * position + 1
                    if child >= n_neighbors:
                        break
                    if child + 1 < n_neighbors and keys[child + 1] > keys[child]:
                        child += 1
                    if keys[child] <= key:
                        break
                    keys[position] = keys[child]
                    index[position] = index[child]
                    position = child
            else:
                continue
            keys[position] = key
            index[position] = j
        score = 0.0
        for t in range(n_neighbors):
            neighbour = index[t]
            score += neg_entropy[neighbour]
            for c in range(n_classes):
                score -= labeled_proba[neighbour, c] * log_pool[i, c]
        out[i] = max(score / n_neighbors, 0.0)


# ---------------------------------------------------------------------------- strategies


class CLUE(Strategy):
    r"""Clustering Uncertainty-weighted Embeddings (CLUE).

    Runs k-means with ``k`` centres on the pool's embeddings, each item weighted by the
    entropy of its predicted class distribution, and queries the item nearest each
    centre. It minimises the uncertainty-weighted k-means objective

    .. math:: \min_{\mu_1..\mu_k} \sum_{x \in \text{pool}} H(Y \mid x)
              \min_j \lVert \phi(x) - \mu_j \rVert^2,
              \qquad H(Y \mid x) = -\sum_c p(c \mid x) \log p(c \mid x)

    so the batch is diverse (one item per cluster) and drawn towards uncertain regions.
    Seeding is greedy weighted k-means++; Lloyd iterations run in float32 with BLAS
    distances in bounded row blocks. The batch is ordered by cluster weight, heaviest
    first; a centre whose nearest item is already taken takes its nearest free item.
    If every weight is zero (a model certain about every item) all weights become 1.

    Differences from scikit-activeml's ``Clue``: the same objective and the same
    nearest-to-centre rule, but our own k-means (theirs is ``sklearn.cluster.KMeans``,
    float64, at most 300 iterations, with its own seed), so the picks differ by the
    clustering's random start; they order the batch by centre index, we by cluster
    weight. The paper's softmax
    temperature on the logits is not applied (we only see probabilities).

    Parameters
    ----------
    max_iter : int, default=100
        Most Lloyd iterations.
    tol : float, default=1e-4
        Stop when the squared centre shift is at most ``tol`` times the mean feature
        variance (scikit-learn's convention), or when no label changes.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the representative of the heaviest cluster first.

    References
    ----------
    Prabhu, Chandrasekaran, Saenko & Hoffman (2021), "Active domain adaptation via
    clustering uncertainty-weighted embeddings", ICCV, pp. 8505–8514.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1], [2.0], [2.1]])
    >>> model = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1])
    >>> CLUE().query(model, X, 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "clue"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "entropy-weighted k-means on embeddings, item nearest each centre"
    reference: ClassVar[str] = "Prabhu et al. 2021 (ICCV)"

    def __init__(self, max_iter: int = 100, tol: float = 1e-4) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        max_iter = _check_int(self.max_iter, "max_iter", self.name, 1)
        tol = _check_float(self.tol, "tol", self.name, 0.0)
        weights = scores.entropy(model.predict_proba(X_pool))
        n = weights.shape[0]
        if k == n:  # every item is picked: order by uncertainty alone
            return top_k(weights, k, rng)
        if not weights.sum() > 0:
            weights = np.ones(n)
        embedded = _embedding(model, X_pool, self.name)
        return _cluster_representatives(embedded, k, weights, rng, max_iter, tol)


class Falcun(Strategy):
    r"""FALCUN: uncertainty plus diversity in class-probability space, sampled item by item.

    With :math:`u(x) = 1 - (p_{1}(x) - p_{2}(x))` the margin uncertainty and
    :math:`d(x)` a diversity term initialised to :math:`u(x)`, each of the ``k`` picks

    1. (after the first pick :math:`q`) updates
       :math:`d(x) \leftarrow \min\left(d(x), \lVert p(x) - p(q) \rVert_1\right)` and
       min-max normalises :math:`d` to ``[0, 1]`` over the pool,
    2. draws the next item with probability
       :math:`\propto (u(x) + d(x))^{\gamma}` among the items not yet picked
       (uniformly if every relevance is zero).

    ``gamma = 0`` is random sampling; large ``gamma`` approaches the arg-max. This is the
    definition of scikit-activeml's ``Falcun`` (Eqs. 1–6 of the paper), including that
    the running minimum is taken between the new raw L1 distance and the previously
    normalised distances. With the same random stream (one uniform number per pick) our
    picks equal theirs. Each pick is one fused pass over the ``(n, C)`` probabilities in
    a compiled kernel (split over threads for large pools); integer ``gamma`` is
    computed by repeated squaring instead of ``pow``. Where ``(u + d)^γ`` would under-
    or overflow float64 (very large ``gamma``), the relevances are rescaled by the
    largest one first, which leaves the distribution unchanged.

    Parameters
    ----------
    gamma : float, default=10
        Sharpness of the draw, ``>= 0``.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the items in the order they were drawn.

    References
    ----------
    Gilhuber, Beer, Ma & Seidl (2024), "FALCUN: A simple and efficient deep active
    learning strategy", ECML PKDD, pp. 421–439.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.5], [1.0], [1.5], [2.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1, 1])
    >>> Falcun(gamma=5).query(model, X, 3, random_state=0).shape
    (3,)
    """

    name: ClassVar[str] = "falcun"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)
    summary: ClassVar[str] = "margin + L1 diversity in probability space, sampled ∝ relevance^γ"
    reference: ClassVar[str] = "Gilhuber et al. 2024 (ECML PKDD)"

    def __init__(self, gamma: float = 10.0) -> None:
        self.gamma = gamma

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        gamma = _check_float(self.gamma, "gamma", self.name, 0.0)
        proba = np.ascontiguousarray(_probabilities(model.predict_proba(X_pool), self.name))
        return falcun_select(proba, k, gamma, rng)


def falcun_select(proba: np.ndarray, k: int, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """FALCUN's ``k`` draws from validated probabilities (see :class:`Falcun`).

    Parameters
    ----------
    proba : array of shape (n, C), float64, C-contiguous
    k : int
    gamma : float
    rng : numpy.random.Generator
        One ``rng.random()`` per pick.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In order of the draws.
    """
    n = proba.shape[0]
    uncertainty = scores.margin(proba)
    distances = uncertainty.copy()
    relevance = np.empty(n)
    taken = np.zeros(n, dtype=np.bool_)
    integer = int(gamma) if float(gamma).is_integer() and gamma <= 4096 else -1
    picks = np.empty(k, dtype=np.int64)

    def relevance_blocks(low: float, span: float, scale: float) -> list[tuple]:
        """Relevance of every row in row blocks: ``(total, largest, start, stop)`` each."""

        def block(start: int, stop: int) -> tuple:
            total, largest = _falcun_relevance(
                uncertainty,
                distances,
                taken,
                low,
                span,
                gamma,
                integer,
                scale,
                relevance,
                start,
                stop,
            )
            return total, largest, start, stop

        return map_row_blocks(block, n)

    def distance_bounds(query: np.ndarray) -> tuple[float, float]:
        bounds = map_row_blocks(
            lambda start, stop: _falcun_distances(proba, query, distances, start, stop), n
        )
        return min(b[0] for b in bounds), max(b[1] for b in bounds)

    for position in range(k):
        low, span = 0.0, -1.0  # the first pick sees d = u, not normalised
        if position > 0:
            low, high = distance_bounds(proba[picks[position - 1]])
            span = high - low
        blocks = relevance_blocks(low, span, 1.0)
        total = sum(b[0] for b in blocks)
        if not 0.0 < total < np.inf:
            # under- or overflow of (u + d)^γ: rescale by the largest u + d (the same
            # distribution), or draw uniformly when every relevance is zero
            largest = max(b[1] for b in blocks)
            blocks = relevance_blocks(0.0, -1.0, 1.0 / largest if largest > 0.0 else 0.0)
            total = sum(b[0] for b in blocks)
        chosen = _locate(relevance, blocks, rng.random() * total)
        picks[position] = chosen
        taken[chosen] = True
    return picks


def _locate(relevance: np.ndarray, blocks: list[tuple], target: float) -> int:
    """The row where the running relevance first exceeds ``target`` (inverse-CDF draw)."""
    running = 0.0
    last = -1
    for total, _, start, stop in blocks:
        if total > 0.0:
            if running + total > target:
                row = _draw_in_block(relevance, target - running, start, stop)
                if row >= 0:
                    return int(row)
            last = int(_draw_in_block(relevance, np.inf, start, stop))
        running += total
    return last  # rounding put the target past the end: the last row that can be drawn


class DropQuery(Strategy):
    r"""DropQuery: items whose prediction flips under feature dropout, clustered.

    For ``n_masks`` random dropout masks :math:`m` (each feature kept with probability
    :math:`1 - r`, kept features scaled by :math:`1/(1-r)` as in inverted dropout) the
    model's classifier head predicts the masked embedding,
    :math:`\hat y_m(x) = \arg\max_c f(m \odot \phi(x))_c`. An item is a *candidate* when
    its prediction differs from the unperturbed :math:`\hat y(x)` in more than half the
    masks. If there are more than ``k`` candidates, k-means with ``k`` centres runs on the
    candidates' embeddings and the candidate nearest each centre is queried (largest
    cluster first); otherwise every candidate is queried (most flips first) and the
    batch is filled with random non-candidates.

    For a scikit-learn model the embedding is :meth:`embed` (a Pipeline's features
    before its last step, or the numeric input) and the head is the final estimator; any
    other adapter must provide ``head_proba(embedding)``.

    Differences from scikit-activeml's ``DropQuery``: they drop features of the raw input
    without rescaling (``rescale=False`` here), default to 5 masks (the paper uses 3),
    and when there are too few candidates they cluster the ``k`` items with the highest
    flip rate instead of filling at random as the paper does; their k-means is
    ``sklearn.cluster.KMeans``, so picks differ by the clustering's random start.

    Parameters
    ----------
    dropout_rate : float, default=0.75
        Probability of zeroing each feature, in ``(0, 1)``.
    n_masks : int, default=3
        Dropout masks per item.
    rescale : bool, default=True
        Scale kept features by ``1 / (1 - dropout_rate)``.
    max_iter : int, default=100
        Most Lloyd iterations of the candidate clustering.
    tol : float, default=1e-4
        k-means tolerance (see :class:`CLUE`).

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the largest cluster's representative first, or the
        candidates by decreasing flips, then the random fill.

    References
    ----------
    Gupte, Aklilu, Nirschl & Yeung-Levy (2024), "Revisiting active learning in the era of
    vision foundation models", TMLR.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    >>> DropQuery().query(model, X, 4, random_state=0).shape
    (4,)
    """

    name: ClassVar[str] = "dropquery"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "items whose prediction flips under feature dropout, k-means on them"
    reference: ClassVar[str] = "Gupte et al. 2024 (TMLR)"

    def __init__(
        self,
        dropout_rate: float = 0.75,
        n_masks: int = 3,
        rescale: bool = True,
        max_iter: int = 100,
        tol: float = 1e-4,
    ) -> None:
        self.dropout_rate = dropout_rate
        self.n_masks = n_masks
        self.rescale = rescale
        self.max_iter = max_iter
        self.tol = tol

    def _head(self, model: ModelAdapter) -> tuple[Any, Any]:
        """The classifier head's ``predict_proba`` and the feature names it was fitted on."""
        if isinstance(model, SklearnAdapter):
            steps = getattr(model.estimator, "steps", None)
            head = steps[-1][1] if steps else model.estimator
            if callable(getattr(head, "predict_proba", None)):
                return head.predict_proba, getattr(head, "feature_names_in_", None)
        head_proba = getattr(model, "head_proba", None)
        if callable(head_proba):
            return head_proba, None
        raise TypeError(
            f"{self.name} perturbs the embedding and predicts it with the classifier head; "
            f"{model.describe()} has no head to call. Use a scikit-learn classifier or "
            "Pipeline (the final step is the head), or an adapter with head_proba(embedding)."
        )

    def flip_counts(
        self, model: Any, X_pool: Any, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """How many of the ``n_masks`` dropout masks flip each item's prediction.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool : array-like, sparse matrix or DataFrame
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (n,), int64
        """
        adapter = self._adapter(model)
        return self._flips(adapter, adapter.embed(X_pool), check_random_state(random_state))

    def _flips(self, model: ModelAdapter, embedded: Any, rng: np.random.Generator) -> np.ndarray:
        rate = _check_float(self.dropout_rate, "dropout_rate", self.name, 0.0, open_low=True)
        if rate >= 1.0:
            raise ValueError(f"{self.name}: dropout_rate must be below 1; got {rate!r}.")
        n_masks = _check_int(self.n_masks, "n_masks", self.name, 1)
        head_proba, names = self._head(model)
        sparse = sp.issparse(embedded)
        embedded = sp.csr_matrix(embedded) if sparse else np.asarray(embedded)
        keep_scale = 1.0 / (1.0 - rate) if self.rescale else 1.0

        def predict(block: Any) -> np.ndarray:
            if names is not None and not sparse and len(names) == block.shape[1]:
                import pandas as pd

                block = pd.DataFrame(block, columns=names)
            return np.asarray(head_proba(block)).argmax(axis=1)

        n = embedded.shape[0]
        flips = np.zeros(n, dtype=np.int64)
        rows = _block_rows(n, max(embedded.shape[1], 1))
        for start in range(0, n, rows):
            block = embedded[start : start + rows]
            unperturbed = predict(block)
            for _ in range(n_masks):
                if sparse:
                    masked = block.copy()
                    keep = rng.random(masked.data.shape[0], dtype=np.float32) >= rate
                    masked.data = masked.data * keep * keep_scale
                else:
                    keep = rng.random(block.shape, dtype=np.float32) >= rate
                    masked = block * keep
                    if keep_scale != 1.0:
                        masked *= keep_scale
                flips[start : start + rows] += predict(masked) != unperturbed
        return flips

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        max_iter = _check_int(self.max_iter, "max_iter", self.name, 1)
        tol = _check_float(self.tol, "tol", self.name, 0.0)
        embedded = model.embed(X_pool)
        flips = self._flips(model, embedded, rng)
        n = flips.shape[0]
        candidates = np.flatnonzero(2 * flips > int(self.n_masks))
        if candidates.shape[0] <= k:
            first = candidates
            if candidates.shape[0]:
                first = candidates[
                    top_k(flips[candidates].astype(np.float64), len(candidates), rng)
                ]
            others = np.setdiff1d(np.arange(n), candidates, assume_unique=True)
            fill = rng.choice(others, size=k - candidates.shape[0], replace=False)
            return np.concatenate([first, fill]).astype(np.int64)
        if not sp.issparse(embedded):
            embedded = np.asarray(embedded)
        subset = _as_embedding(embedded[candidates], self.name)
        picks = _cluster_representatives(
            subset, k, np.ones(candidates.shape[0]), rng, max_iter, tol
        )
        return candidates[picks].astype(np.int64)


class Contrastive(Strategy):
    r"""Contrastive Active Learning (CAL): items that disagree with their labeled neighbours.

    For each pool item :math:`x` with predicted distribution :math:`p(\cdot \mid x)`, find
    its ``K`` nearest labeled items :math:`x_1..x_K` in embedding space (Euclidean) and
    score

    .. math:: s(x) = \frac{1}{K} \sum_{j=1}^{K}
              \mathrm{KL}\left(p(\cdot \mid x_j) \,\Vert\, p(\cdot \mid x)\right)

    where, as in the paper, :math:`p(\cdot \mid x_j)` is the model's *predicted*
    distribution for the labeled neighbour. The ``k`` highest scores are queried (ties at
    random). Probabilities are clipped at ``eps`` and renormalised first, so the
    divergence stays finite. The search is blocked over the pool: float32 BLAS products
    ``x·l`` for a block of pool rows against the labeled set (at most ``_BLOCK_ELEMENTS``
    at once), then one compiled pass per row keeps the K nearest in a heap and sums
    :math:`\sum_c q_{jc} \log q_{jc} - \sum_c q_{jc} \log p_c` over them. Equidistant
    neighbours are taken in a random order.

    Differences from the peers: scikit-activeml's ``ContrastiveAL`` computes the same
    score (same clipping) with ``K = 5`` by default; pass ``n_neighbors=5`` to match. The
    paper and small-text use ``K = 10``; small-text's ``ContrastiveActiveLearning``
    searches the neighbours among *all* items, unlabeled ones and the item itself
    included, and L2-normalises the embeddings, so its scores differ from the paper's.

    Parameters
    ----------
    n_neighbors : int, default=10
        Labeled neighbours per item (fewer if fewer items are labeled).
    eps : float, default=1e-7
        Probabilities are clipped to ``[eps, 1]`` and renormalised.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the highest score first.

    References
    ----------
    Margatina, Vernikos, Barrault & Aletras (2021), "Active learning by acquiring
    contrastive examples", EMNLP, pp. 650–663.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.2], [1.8], [2.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.array([[0.1], [1.0], [1.9]])
    >>> Contrastive(n_neighbors=2).query(model, pool, 1, X, [0, 0, 1, 1]).tolist()
    [1]
    """

    name: ClassVar[str] = "contrastive"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "mean KL(labeled neighbour ‖ item) over the K nearest labeled items"
    reference: ClassVar[str] = "Margatina et al. 2021 (EMNLP)"

    def __init__(self, n_neighbors: int = 10, eps: float = 1e-7) -> None:
        self.n_neighbors = n_neighbors
        self.eps = eps

    def utilities(
        self, model: Any, X_pool: Any, X_labeled: Any, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """CAL score of every pool item, higher is more informative.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool, X_labeled : array-like, sparse matrix or DataFrame
        random_state : int, numpy.random.Generator or None
            Orders equidistant neighbours.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._scores(
            self._adapter(model), X_pool, X_labeled, check_random_state(random_state)
        )

    def _scores(self, model, X_pool, X_labeled, rng) -> np.ndarray:
        n_labeled = _require_labeled(X_labeled, self.name)
        n_neighbors = min(_check_int(self.n_neighbors, "n_neighbors", self.name, 1), n_labeled)
        eps = _check_float(self.eps, "eps", self.name, 0.0, 0.1, open_low=True)
        pool_proba = _probabilities(model.predict_proba(X_pool), self.name)
        labeled_proba = _probabilities(model.predict_proba(X_labeled), self.name)
        pool_proba = np.clip(pool_proba, eps, 1.0)
        pool_proba /= pool_proba.sum(axis=1, keepdims=True)
        labeled_proba = np.clip(labeled_proba, eps, 1.0)
        labeled_proba /= labeled_proba.sum(axis=1, keepdims=True)
        log_pool = np.log(pool_proba)
        pool = _embedding(model, X_pool, self.name)
        labeled = _embedding(model, X_labeled, self.name)
        if labeled.shape[1] != pool.shape[1]:
            raise ValueError(
                f"{self.name}: the labeled rows embed to {labeled.shape[1]} features and the "
                f"pool to {pool.shape[1]}; pass X_labeled with the pool's columns."
            )
        # A random order of the labeled rows makes equidistant neighbours random.
        order = rng.permutation(n_labeled)
        labeled = labeled[order]
        labeled_proba = labeled_proba[order]
        neg_entropy = np.einsum("ij,ij->i", labeled_proba, np.log(labeled_proba))
        labeled_norms = _squared_norms(labeled).astype(np.float64)
        n = pool.shape[0]
        utilities = np.empty(n, dtype=np.float64)
        rows = _block_rows(n, n_labeled)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            _contrastive_block(
                _cross(pool[start:stop], labeled),
                labeled_norms,
                n_neighbors,
                labeled_proba,
                neg_entropy,
                log_pool[start:stop],
                utilities[start:stop],
            )
        return utilities

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(self._scores(model, X_pool, X_labeled, rng), k, rng)


class Discriminative(Strategy):
    r"""Discriminative Active Learning (DAL): query what looks least like the labeled set.

    A binary classifier (the *discriminator*) learns to tell labeled embeddings (class 0)
    from unlabeled ones (class 1); the pool items it rates most confidently "unlabeled",
    :math:`\arg\max_x P(\text{unlabeled} \mid \phi(x))`, are the ones the labeled set
    represents worst. As in the paper, the batch is built in ``n_subrounds`` sub-batches:
    after each, the chosen items move to the labeled side and the discriminator is
    trained again. Each training set has the labeled side and at most
    ``unlabeled_factor ×`` as many pool items drawn at random (the authors' code uses 10),
    and the default discriminators weight the two classes to balance them (the authors'
    ``class_weight``). Every remaining pool item is scored, and ties are broken at random.

    Needs only embeddings: with ``model=None`` the numeric features are used.

    Differences from the peers: scikit-activeml's ``DiscriminativeAL`` trains on the whole
    pool without class balancing and refits after every single pick (``n_subrounds=k``,
    ``unlabeled_factor=None``, ``discriminator=LogisticRegression()`` reproduces it; its
    ``greedy_selection=True`` is ``n_subrounds=1``). small-text's
    ``DiscriminativeActiveLearning`` scores the whole pool like us but puts the rounding
    remainder into the last sub-batch and draws its subsample from numpy's global
    generator. The authors' code scores only the training subsample.

    Parameters
    ----------
    discriminator : {"logistic", "mlp"} or scikit-learn classifier, default="logistic"
        ``"logistic"``: ``LogisticRegression(class_weight="balanced")``; ``"mlp"``: an
        ``MLPClassifier`` with one hidden layer of 64 units, trained for 20 epochs (the
        authors train 10–20) with balanced sample weights. An estimator is cloned for
        every sub-round (its ``random_state``, if None, is seeded from the query's
        generator).
    n_subrounds : int, default=10
        Sub-batches per query (at most ``k``); sizes differ by at most one.
    unlabeled_factor : float or None, default=10
        Pool items per labeled item in each training set; None trains on the whole pool.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: sub-batch by sub-batch, each most confidently "unlabeled"
        first.

    References
    ----------
    Gissin & Shalev-Shwartz (2019), "Discriminative active learning", arXiv:1907.06347.

    Examples
    --------
    >>> import numpy as np
    >>> X_labeled = np.zeros((5, 2))
    >>> X_pool = np.vstack([np.zeros((5, 2)), np.full((5, 2), 4.0)])
    >>> picks = Discriminative().query(None, X_pool, 3, X_labeled, random_state=0)
    >>> bool((picks >= 5).all())
    True
    """

    name: ClassVar[str] = "discriminative"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "items a labeled-vs-unlabeled classifier rates most 'unlabeled'"
    reference: ClassVar[str] = "Gissin & Shalev-Shwartz 2019"

    def __init__(
        self,
        discriminator: Any = "logistic",
        n_subrounds: int = 10,
        unlabeled_factor: float | None = 10.0,
    ) -> None:
        self.discriminator = discriminator
        self.n_subrounds = n_subrounds
        self.unlabeled_factor = unlabeled_factor

    def _new_discriminator(self, rng: np.random.Generator) -> tuple[Any, bool]:
        """A fresh discriminator and whether to pass balanced sample weights to ``fit``."""
        from sklearn.base import clone

        seed = int(rng.integers(2**31 - 1))
        if isinstance(self.discriminator, str):
            if self.discriminator == "logistic":
                from sklearn.linear_model import LogisticRegression

                return LogisticRegression(class_weight="balanced", max_iter=1000), False
            if self.discriminator == "mlp":
                from sklearn.neural_network import MLPClassifier

                mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=20, random_state=seed)
                return mlp, True
        elif callable(getattr(self.discriminator, "fit", None)) and callable(
            getattr(self.discriminator, "predict_proba", None)
        ):
            estimator = clone(self.discriminator)
            params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
            if "random_state" in params and params["random_state"] is None:
                estimator.set_params(random_state=seed)
            return estimator, False
        raise ValueError(
            f"{self.name}: discriminator must be 'logistic', 'mlp' or a classifier with fit "
            f"and predict_proba; got {self.discriminator!r}."
        )

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        n_labeled = _require_labeled(X_labeled, self.name)
        n_subrounds = min(_check_int(self.n_subrounds, "n_subrounds", self.name, 1), k)
        factor = self.unlabeled_factor
        if factor is not None:
            factor = _check_float(factor, "unlabeled_factor", self.name, 0.0, open_low=True)
        if model is None:
            model = Features()
        pool = _embedding(model, X_pool, self.name, dtype=np.float64)
        labeled = _embedding(model, X_labeled, self.name, dtype=np.float64)
        if labeled.shape[1] != pool.shape[1]:
            raise ValueError(
                f"{self.name}: the labeled rows embed to {labeled.shape[1]} features and the "
                f"pool to {pool.shape[1]}; pass X_labeled with the pool's columns."
            )
        stack = sp.vstack if sp.issparse(pool) or sp.issparse(labeled) else np.vstack
        sizes = [len(part) for part in np.array_split(np.arange(k), n_subrounds)]
        remaining = np.arange(pool.shape[0])
        chosen: list[np.ndarray] = []
        for size in sizes:
            labeled_side = n_labeled + sum(len(c) for c in chosen)
            n_train = remaining.shape[0]
            if factor is not None:
                n_train = min(n_train, max(1, int(np.ceil(factor * labeled_side))))
            train_pool = (
                remaining
                if n_train == remaining.shape[0]
                else rng.choice(remaining, size=n_train, replace=False)
            )
            parts = [labeled]
            if chosen:
                parts.append(pool[np.concatenate(chosen)])
            parts.append(pool[train_pool])
            X_train = stack(parts)
            y_train = np.concatenate(
                [np.zeros(labeled_side, dtype=np.int64), np.ones(n_train, dtype=np.int64)]
            )
            estimator, weigh = self._new_discriminator(rng)
            if weigh:  # the MLP: balanced sample weights, a fixed 20 epochs as the authors
                import warnings

                from sklearn.exceptions import ConvergenceWarning
                from sklearn.utils.class_weight import compute_sample_weight

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    estimator.fit(
                        X_train, y_train, sample_weight=compute_sample_weight("balanced", y_train)
                    )
            else:
                estimator.fit(X_train, y_train)
            column = list(np.asarray(estimator.classes_)).index(1)
            unlabeled_proba = np.asarray(estimator.predict_proba(pool[remaining]))[:, column]
            picked = top_k(unlabeled_proba.astype(np.float64), size, rng)
            chosen.append(remaining[picked])
            keep = np.ones(remaining.shape[0], dtype=bool)
            keep[picked] = False
            remaining = remaining[keep]
        return np.concatenate(chosen).astype(np.int64)
