"""Batch-aware strategies: core-set, BADGE, diverse mini-batch, information density,
facility location, and the ``Diverse`` wrapper that makes any score strategy batch-diverse.

Each combines one model output with a selector of :mod:`activelab.select`; no selection
maths lives here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab import scores
from activelab._distances import (
    as_embedding,
    block_rows,
    k_nearest_distances,
    squared_distances,
    squared_norms,
)
from activelab._diversity import _d2_batch
from activelab._kmeans import lower_by
from activelab.models import ModelAdapter
from activelab.select import cluster_then_pick, facility_location, k_center_greedy
from activelab.strategies._base import ScoreStrategy, Strategy


def _labeled_embedding(model: ModelAdapter, X_labeled: Any) -> np.ndarray | None:
    if X_labeled is None:
        return None
    from activelab._validation import n_rows

    return model.embed(X_labeled) if n_rows(X_labeled) else None


class CoreSet(Strategy):
    """Core-set: the pool points farthest from everything labeled or chosen (k-center greedy).

    Uses :func:`activelab.select.k_center_greedy` on the model's embeddings, with the
    labeled set as the initial centres. Without a model, on the raw features (cold start).

    References
    ----------
    Sener & Savarese (2018), "Active learning for convolutional neural networks: a
    core-set approach", ICLR.

    Examples
    --------
    >>> CoreSet().query(None, [[0.0], [0.1], [9.0]], 1, X_labeled=[[0.0]]).tolist()
    [2]
    """

    name: ClassVar[str] = "coreset"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "k-center greedy on embeddings, labeled set as centres"
    reference: ClassVar[str] = "Sener & Savarese 2018"

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        labeled = _labeled_embedding(model, X_labeled)
        return k_center_greedy(model.embed(X_pool), k, labeled=labeled, random_state=rng)


class BADGE(Strategy):
    r"""BADGE: k-means++ seeding on last-layer gradient embeddings.

    The gradient embedding of a pool point is the loss gradient of the last layer at the
    model's own predicted label, :math:`g = (p - e_{\hat y}) \otimes h`; its norm grows
    with uncertainty and its direction carries the representation. k-means++ seeding
    (first point: the largest norm, as in the authors' code; then D² sampling) picks a
    batch that is both uncertain and diverse.

    Distances are computed from the factors, :math:`\lVert g_i - g_j \rVert^2 =
    \lVert r_i\rVert^2\lVert h_i\rVert^2 + \lVert r_j\rVert^2\lVert h_j\rVert^2
    - 2 (r_i \cdot r_j)(h_i \cdot h_j)`, so the ``(n, C·d)`` embeddings are never built.

    References
    ----------
    Ash, Zhang, Krishnamurthy, Langford & Agarwal (2020), "Deep batch active learning by
    diverse, uncertain gradient lower bounds", ICLR.
    """

    name: ClassVar[str] = "badge"
    needs: ClassVar[tuple[str, ...]] = ("grad_embed",)
    summary: ClassVar[str] = "k-means++ on last-layer gradient embeddings"
    reference: ClassVar[str] = "Ash et al. 2020"

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        residual, hidden = model.grad_embed(X_pool, factored=True)
        residual = np.asarray(residual, dtype=np.float32)
        hidden = np.asarray(hidden, dtype=np.float32)
        residual_sq = np.einsum("ij,ij->i", residual, residual)
        hidden_sq = np.einsum("ij,ij->i", hidden, hidden)
        norms = residual_sq * hidden_sq

        def distance_to(j: int) -> np.ndarray:
            cross = (residual @ residual[j]) * (hidden @ hidden[j])
            return np.maximum(norms + norms[j] - 2.0 * cross, 0.0)

        return _d2_batch(lower_by(distance_to), norms, k, "max_norm", rng)


class Diverse(ScoreStrategy):
    """Make any score strategy batch-diverse: prefilter by its utility, then spread out.

    ``method="cluster"``: Zhdanov's diverse mini-batch — the ``prefilter · k`` most
    informative items, weighted k-means into ``k`` clusters, the item nearest each
    centre (:func:`activelab.select.cluster_then_pick`). ``method="kcenter"``: k-center
    greedy (:func:`activelab.select.k_center_greedy`) among the same candidates.

    Parameters
    ----------
    base : str or ScoreStrategy
        The utility: a registry name or a ScoreStrategy object (e.g. ``Margin()``).
    method : {"cluster", "kcenter"}
    prefilter : int
        Candidates kept per batch slot.

    References
    ----------
    Zhdanov (2019), "Diverse mini-batch active learning", arXiv:1901.05954.

    Examples
    --------
    >>> from activelab.strategies import Margin
    >>> Diverse(Margin(), method="cluster").prefilter
    10
    """

    summary: ClassVar[str] = "utility prefilter, then a diverse batch"
    reference: ClassVar[str] = "Zhdanov 2019"

    def __init__(self, base: Any = "margin", method: str = "cluster", prefilter: int = 10) -> None:
        self.base = base
        self.method = method
        self.prefilter = prefilter

    def _base(self) -> ScoreStrategy:
        from activelab import strategies

        base = strategies.get(self.base) if isinstance(self.base, str) else self.base
        if not isinstance(base, ScoreStrategy):
            raise TypeError(
                f"Diverse needs a score strategy as base (one with utilities); got {base!r}."
            )
        return base

    @property
    def needs(self) -> tuple[str, ...]:  # type: ignore[override]
        """The base strategy's needs plus ``embed``."""
        return (*self._base().needs, "embed")

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        return self._base()._utilities(model, X_pool)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        utilities = self._utilities(model, X_pool)
        if self.method == "cluster":
            shifted = utilities - min(0.0, float(utilities.min()))
            return cluster_then_pick(shifted, model.embed(X_pool), k, self.prefilter, rng)
        if self.method == "kcenter":
            from activelab.select import top_k

            candidates = top_k(utilities, min(utilities.shape[0], self.prefilter * k), rng)
            embeddings = as_embedding(model.embed(X_pool), "Diverse")[candidates]
            labeled = _labeled_embedding(model, X_labeled)
            return candidates[k_center_greedy(embeddings, k, labeled, rng)]
        raise ValueError(f"Diverse: method must be 'cluster' or 'kcenter'; got {self.method!r}.")


class DiverseMiniBatch(Diverse):
    """Zhdanov's diverse mini-batch on margin utilities (``Diverse("margin", "cluster")``).

    Parameters
    ----------
    prefilter : int
        Candidates kept per batch slot (β = 10 in the paper).

    References
    ----------
    Zhdanov (2019), "Diverse mini-batch active learning", arXiv:1901.05954.
    """

    name: ClassVar[str] = "diverse_minibatch"
    summary: ClassVar[str] = "margin prefilter, weighted k-means, nearest to each centre"
    reference: ClassVar[str] = "Zhdanov 2019"

    def __init__(self, prefilter: int = 10) -> None:
        super().__init__("margin", "cluster", prefilter)

    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")  # type: ignore[assignment]


def density(emb: Any, metric: str = "cosine", n_neighbors: int | None = None) -> np.ndarray:
    r"""Mean similarity of each item to the pool (information density's weight).

    - ``"cosine"``: :math:`\frac1N \sum_j \frac{1 + \cos(x_i, x_j)}{2}
      = \frac{1 + \hat x_i \cdot \bar{\hat x}}{2}`, exact in O(N·d) because the mean of
      cosines is the cosine with the mean unit vector. The shift to ``[0, 1]`` keeps the
      weight meaningful on signed (e.g. standardised) features, where the plain mean
      cosine is near 0 (and clipping it zeroes about half the pool). The density ranks
      items as the plain mean cosine does; in the product with uncertainty it weighs a
      little less sharply (raise ``beta`` to compensate).
    - ``"euclidean"``: :math:`\frac1N \sum_j 1 / (1 + \lVert x_i - x_j \rVert)`, the
      similarity modAL uses; exact over the pool in float64 blocks (O(N²·d) time, bounded
      memory), or over the ``n_neighbors`` nearest points when given.

    Parameters
    ----------
    emb : array-like of shape (n, d)
    metric : {"cosine", "euclidean"}
    n_neighbors : int, optional

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    Examples
    --------
    >>> density([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]).round(3)
    array([0.833, 0.833, 0.667])
    """
    points = as_embedding(emb, "density")
    if metric == "cosine":
        lengths = np.linalg.norm(points, axis=1, keepdims=True)
        unit = np.divide(points, lengths, out=np.zeros_like(points), where=lengths > 0)
        return ((1.0 + unit @ unit.mean(axis=0)) / 2.0).astype(np.float64)
    if metric != "euclidean":
        raise ValueError(f"metric must be 'cosine' or 'euclidean'; got {metric!r}.")
    # float64: sqrt amplifies the cancellation in |a|² + |b|² − 2ab for near neighbours.
    points = points.astype(np.float64)
    norms = squared_norms(points)
    if n_neighbors is not None and n_neighbors < points.shape[0]:
        nearest = k_nearest_distances(points, norms, points, norms, n_neighbors)
        return (1.0 / (1.0 + np.sqrt(nearest))).mean(axis=1)
    n = points.shape[0]
    out = np.empty(n, dtype=np.float64)
    step = block_rows(n, itemsize=8)
    for start in range(0, n, step):
        block = squared_distances(
            points[start : start + step], norms[start : start + step], points, norms
        )
        np.sqrt(block, out=block)
        block += 1.0
        np.reciprocal(block, out=block)
        out[start : start + step] = block.mean(axis=1, dtype=np.float64)
    return out


class InformationDensity(ScoreStrategy):
    r"""Information density: uncertainty weighted by how representative an item is.

    .. math:: u(x) = \phi(x) \cdot \left(\frac1N \sum_{x' \in U} \mathrm{sim}(x, x')\right)^\beta

    with :math:`\phi` an uncertainty score and :math:`\mathrm{sim}` cosine similarity (the
    paper; shifted to ``(1 + cos) / 2`` so signed features work) or modAL's
    :math:`1 / (1 + \lVert x - x' \rVert)`; see :func:`density`.

    Parameters
    ----------
    uncertainty : {"entropy", "margin", "least_confidence", "ratio"}
    beta : float
        Weight of the density term.
    metric : {"cosine", "euclidean"}
    n_neighbors : int, optional
        Density over the nearest neighbours only (large pools, euclidean).
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Settles & Craven (2008), "An analysis of active learning strategies for sequence
    labeling tasks", EMNLP.
    """

    name: ClassVar[str] = "information_density"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "uncertainty × mean similarity to the pool^β"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def __init__(
        self,
        uncertainty: str = "entropy",
        beta: float = 1.0,
        metric: str = "cosine",
        n_neighbors: int | None = None,
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.uncertainty = uncertainty
        self.beta = beta
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.sampling = sampling
        self.temperature = temperature

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        base = scores.uncertainty(self.uncertainty, self.name)(model.predict_proba(X_pool))
        weight = density(model.embed(X_pool), self.metric, self.n_neighbors)
        return base * weight**self.beta


class FacilityLocation(Strategy):
    """Facility location: the batch that best covers the pool (lazy greedy, submodular).

    :func:`activelab.select.facility_location` on the model's embeddings, labeled points
    covering from the start. Without a model, on the raw features (cold start).

    Parameters
    ----------
    n_neighbors : int
        Neighbours per point in the sparse similarity used on large pools.

    References
    ----------
    Wei, Iyer & Bilmes (2015), "Submodularity in data subset selection and active
    learning", ICML.
    """

    name: ClassVar[str] = "facility_location"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "submodular coverage of the pool, lazy greedy"
    reference: ClassVar[str] = "Wei et al. 2015"

    def __init__(self, n_neighbors: int = 50) -> None:
        self.n_neighbors = n_neighbors

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        labeled = _labeled_embedding(model, X_labeled)
        return facility_location(
            model.embed(X_pool), k, labeled, n_neighbors=self.n_neighbors, random_state=rng
        )
