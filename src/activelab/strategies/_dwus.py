"""Density-weighted uncertainty sampling (DWUS) with a pre-clustered Gaussian mixture."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab import scores
from activelab._distances import block_rows, centred, squared_norms
from activelab._kmeans import kmeans
from activelab._validation import check_int, check_number
from activelab.models import ModelAdapter
from activelab.strategies._base import ScoreStrategy, embeddings

__all__ = ["DWUS", "mixture_density"]


def _log_components(points, norms, centres, variance):
    """``log N(x; μ_k, σ² I)`` for every row and centre, blocked over the rows."""
    n, d = points.shape
    centre_norms = squared_norms(centres)
    out = np.empty((n, centres.shape[0]))
    step = block_rows(centres.shape[0], itemsize=8)
    constant = -0.5 * d * np.log(2.0 * np.pi * variance)
    for start in range(0, n, step):
        stop = start + step
        sq = (
            norms[start:stop, None] + centre_norms[None, :] - 2.0 * (points[start:stop] @ centres.T)
        )
        out[start:stop] = constant - np.maximum(sq, 0.0) / (2.0 * variance)
    return out


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


def mixture_density(
    emb: Any,
    n_clusters: int = 10,
    variance: float | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    random_state: Any = None,
    fit_on: Any = None,
) -> np.ndarray:
    r"""Log density of each item under a pre-clustered isotropic Gaussian mixture.

    Nguyen & Smeulders' density model: the data are clustered (k-means here, k-medoids
    in the paper) and :math:`p(x) = \sum_k P(k)\, \mathcal N(x; c_k, \sigma^2 I)` with
    the cluster centres :math:`c_k` fixed and one shared variance; the mixing weights
    :math:`P(k)` are fitted by EM (E-step: responsibilities :math:`P(k \mid x)`; M-step:
    :math:`P(k) = \frac1n \sum_x P(k \mid x)`), as in the paper and libact's ``DWUS``.

    Parameters
    ----------
    emb : array-like of shape (n, d)
        The items to score.
    n_clusters : int, default=10
        Mixture components (at most the number of items the mixture is fitted on).
    variance : float, optional
        :math:`\sigma^2`; default the maximum-likelihood value for the k-means
        clusters, the mean squared distance to the nearest centre divided by ``d``.
    max_iter : int, default=100
        EM iterations at most.
    tol : float, default=1e-6
        Stop when the mean log-likelihood improves by less.
    random_state : int, numpy.random.Generator or None
        Seeds the k-means.
    fit_on : array-like of shape (m, d), optional
        Items to fit the mixture on (default: ``emb``) — the pool and the labeled set,
        say.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        :math:`\log p(x)` for every row of ``emb``.

    References
    ----------
    Nguyen & Smeulders (2004), "Active learning using pre-clustering", ICML.

    Examples
    --------
    >>> X = [[0.0], [0.1], [0.2], [5.0]]
    >>> log_p = mixture_density(X, n_clusters=2, random_state=0)
    >>> int(np.argmin(log_p))
    3
    """
    from activelab._distances import as_embedding
    from activelab._validation import check_random_state

    rng = check_random_state(random_state)
    target = as_embedding(emb, "dwus", dtype=np.float64)
    data = target if fit_on is None else as_embedding(fit_on, "dwus", dtype=np.float64)
    n_clusters = min(check_int(n_clusters, "n_clusters", "dwus", 1), data.shape[0])
    max_iter = check_int(max_iter, "max_iter", "dwus", 1)
    tol = check_number(tol, "tol", "dwus", 0.0)
    centred_data, centred_target = centred(data, target)
    clusters = kmeans(centred_data, n_clusters, rng)
    centres = clusters.centres.astype(np.float64)
    data64 = centred_data.astype(np.float64)
    d = data64.shape[1]
    if variance is None:
        variance = float(np.mean(clusters.sq_dist, dtype=np.float64)) / d
        if variance <= 0:  # every item sits on a centre
            variance = 1.0
    else:
        variance = check_number(variance, "variance", "dwus", 0.0, open_low=True)
    log_components = _log_components(data64, squared_norms(data64), centres, variance)
    log_prior = np.full(centres.shape[0], -np.log(centres.shape[0]))
    previous = -np.inf
    for _ in range(max_iter):
        joint = log_components + log_prior
        log_evidence = _logsumexp_rows(joint)
        mean_ll = float(log_evidence.mean())
        responsibilities = np.exp(joint - log_evidence[:, None])
        with np.errstate(divide="ignore"):
            log_prior = np.log(responsibilities.mean(axis=0))
        if mean_ll - previous < tol:
            break
        previous = mean_ll
    target64 = centred_target.astype(np.float64)
    target_components = _log_components(target64, squared_norms(target64), centres, variance)
    return _logsumexp_rows(target_components + log_prior)


class DWUS(ScoreStrategy):
    r"""Density-weighted uncertainty sampling: uncertainty × density of a Gaussian mixture.

    .. math:: u(x) = \phi(x)\; \frac{p(x)}{\max_{x'} p(x')}

    with :math:`\phi` the model's uncertainty and :math:`p` the pre-clustered mixture
    density of :func:`mixture_density`, fitted on the pool and the labeled set. Items
    that are uncertain *and* lie in dense regions come first, so an outlier, however
    uncertain, waits. The scale :math:`1 / \max p` leaves the ranking unchanged and
    keeps the utility in :math:`[0, \max\phi]`.

    The paper estimates :math:`P(y \mid x)` through a cluster-level logistic model, as
    libact's binary ``DWUS`` does; here the uncertainty comes from the model the loop
    trains (any classifier, any number of classes), and only the density is the
    paper's. Its expected error :math:`\min(p, 1 - p)` is least confidence for two
    classes, the default.

    Parameters
    ----------
    uncertainty : {"least_confidence", "margin", "ratio", "entropy"}
    n_clusters : int, default=10
    variance : float, optional
        Shared variance :math:`\sigma^2` of the components; default from the clusters.
    max_iter : int, default=100
        EM iterations at most.
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Nguyen & Smeulders (2004), "Active learning using pre-clustering", ICML.
    Donmez, Carbonell & Bennett (2007), "Dual strategy active learning", ECML.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> DWUS(n_clusters=2).query(model, [[1.9], [2.0], [2.1], [40.0]], 1, random_state=0)[0] < 3
    np.True_
    """

    name: ClassVar[str] = "dwus"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "uncertainty × pre-clustered Gaussian-mixture density (EM)"
    reference: ClassVar[str] = "Nguyen & Smeulders 2004"
    pointwise: ClassVar[bool] = False

    def __init__(
        self,
        uncertainty: str = "least_confidence",
        n_clusters: int = 10,
        variance: float | None = None,
        max_iter: int = 100,
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.uncertainty = uncertainty
        self.n_clusters = n_clusters
        self.variance = variance
        self.max_iter = max_iter
        self.sampling = sampling
        self.temperature = temperature

    def _density(self, model: ModelAdapter, X_pool: Any, X_labeled: Any, rng) -> np.ndarray:
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        both = pool if labeled is None else np.concatenate([pool, labeled])
        log_p = mixture_density(
            pool, self.n_clusters, self.variance, self.max_iter, random_state=rng, fit_on=both
        )
        return np.exp(log_p - log_p.max())

    def _utilities(
        self, model: ModelAdapter, X_pool: Any, X_labeled: Any = None, rng: Any = None
    ) -> np.ndarray:
        base = scores.uncertainty(self.uncertainty, self.name)(model.predict_proba(X_pool))
        rng = np.random.default_rng(0) if rng is None else rng
        return base * self._density(model, X_pool, X_labeled, rng)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        from activelab.select import SAMPLING_MODES, sample

        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )
        utilities = self._utilities(model, X_pool, X_labeled, rng)
        return sample(utilities, k, self.sampling, self.temperature, rng)
