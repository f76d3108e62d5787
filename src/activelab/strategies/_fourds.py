r"""4DS: distance, density, diversity and distribution (Reitmaier & Sick 2013).

4DS was designed for a classifier built on a Gaussian mixture model of the input space
(the CMM). It scores each pool item by four measures, weighted by how far active
learning has come:

- **distance** to the decision boundary: the log ratio of the two largest class
  posteriors (small: uncertain), min-max normalised;
- **density** of the mixture at the item, min-max normalised;
- **distribution**: how well the labeled set plus the item would match the mixture's
  component weights :math:`\pi` — :math:`1 - \sum_j \max(0, \pi_j - \bar r_j)` with
  :math:`\bar r` the mean component responsibility of those items;
- **diversity** (batches only): :math:`-\log` of the item's density plus the density
  already taken into the batch, min-max normalised.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from activelab._validation import check_int, check_probabilities
from activelab.models import ModelAdapter
from activelab.strategies._base import Strategy, embeddings

__all__ = ["FourDS", "fourds_select"]


def _normalise(values: np.ndarray) -> np.ndarray:
    """``(v - min + 1e-5) / (max - min + 1e-5)``, the paper's min-max with a floor."""
    return (values - values.min() + 1e-5) / (values.max() - values.min() + 1e-5)


def _distribution(weights, responsibilities, labeled_sum, count) -> np.ndarray:
    mean = (responsibilities + labeled_sum) / (count + 1)
    return 1.0 - np.maximum(weights[None, :] - mean, 0.0).sum(axis=1)


def _argmax(values: np.ndarray, rng: np.random.Generator) -> int:
    best = np.flatnonzero(values == np.nanmax(values))
    return int(best[rng.integers(best.shape[0])]) if best.shape[0] > 1 else int(best[0])


def fourds_select(
    proba: Any,
    log_density: Any,
    responsibilities: Any,
    labeled_responsibilities: Any,
    weights: Any,
    k: int,
    lmbda: float | None = None,
    random_state: Any = None,
) -> np.ndarray:
    r"""The 4DS batch: ``k`` items picked one by one by the utilities of Reitmaier & Sick.

    With :math:`d` the normalised distance (Eq. 9), :math:`\delta` the normalised
    density (Eq. 10), :math:`D` the distribution measure (Eq. 11) and the weights

    .. math:: \rho = \min\big(1, \lVert \pi - \bar r_L \rVert_1\big), \quad
              \alpha = (1 - \rho)\, e_{dwus}, \quad \beta = 1 - \rho - \alpha,

    (Eq. 13 and 15, :math:`e_{dwus}` the mean of :math:`(1 - p_{max})\delta` over the
    pool), the first item maximises :math:`\alpha (1 - d) + \beta \delta + \rho D`. Each
    further item maximises :math:`\alpha (1 - d) + \beta \delta + \lambda \mathrm{div}
    + \rho D` with :math:`\rho \leftarrow \min(\rho, 1 - \lambda)`,
    :math:`\alpha = (1 - \rho - \lambda)(1 - e_{us})` (Eq. 14, :math:`e_{us}` the mean
    of :math:`1 - p_{max}`), :math:`\beta = 1 - \rho - \lambda - \alpha`, the
    distribution recomputed with the items chosen so far counted as labeled, and the
    diversity :math:`\mathrm{div} = -\log(\delta + \sum_{\text{chosen}} \delta)`
    (Eq. 12) min-max normalised.

    Parameters
    ----------
    proba : array-like of shape (n, C)
        Class posteriors of the pool.
    log_density : array-like of shape (n,)
        Log density of the mixture at each pool item.
    responsibilities : array-like of shape (n, J)
        Component responsibilities of the pool items.
    labeled_responsibilities : array-like of shape (m, J)
        Of the labeled items (``m`` may be 0).
    weights : array-like of shape (J,)
        Mixture weights :math:`\pi`.
    k : int
    lmbda : float, optional
        Weight of the diversity; default :math:`\min(0.05 (k - 1), 0.5)`.
    random_state : int, numpy.random.Generator or None
        Breaks ties.

    Returns
    -------
    numpy.ndarray of shape (k,), int64

    References
    ----------
    Reitmaier & Sick (2013), "Let us know your decision: pool-based active training of a
    generative classifier with the selection strategy 4DS", Information Sciences 230,
    pp. 106–131.

    Examples
    --------
    >>> proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
    >>> fourds_select(proba, np.zeros(3), np.full((3, 1), 1.0), np.ones((1, 1)), [1.0], 1)
    array([1])
    """
    from activelab._validation import check_random_state

    rng = check_random_state(random_state)
    p = check_probabilities(proba, "4ds")
    density_log = np.asarray(log_density, dtype=np.float64)
    R = np.asarray(responsibilities, dtype=np.float64)
    R_L = np.asarray(labeled_responsibilities, dtype=np.float64).reshape(-1, R.shape[1])
    pi = np.asarray(weights, dtype=np.float64)
    n = p.shape[0]
    if density_log.shape != (n,) or R.shape[0] != n or pi.shape != (R.shape[1],):
        raise ValueError(
            "4ds needs log densities (n,), responsibilities (n, J) and weights (J,) for the "
            f"n = {n} pool items; got {density_log.shape}, {R.shape} and {pi.shape}."
        )
    if lmbda is None:
        lmbda = min((k - 1) * 0.05, 0.5)
    ok = isinstance(lmbda, numbers.Real) and not isinstance(lmbda, bool)
    if not (ok and 0 <= lmbda <= 1):
        raise ValueError(f"4ds: lmbda must be a number in [0, 1] (or None); got {lmbda!r}.")
    top_two = np.sort(p, axis=1)[:, -2:]
    distance = _normalise(np.log((top_two[:, 1] + 1e-5) / (top_two[:, 0] + 1e-5)))
    density = _normalise(density_log)
    labeled_sum, n_labeled = R_L.sum(axis=0), R_L.shape[0]
    distribution = _distribution(pi, R, labeled_sum, n_labeled)
    labeled_mean = labeled_sum / n_labeled if n_labeled else np.zeros_like(pi)
    rho = min(1.0, float(np.abs(pi - labeled_mean).sum()))
    e_dwus = float(np.mean((1.0 - top_two[:, 1]) * density))
    alpha = (1.0 - rho) * e_dwus
    beta = 1.0 - rho - alpha
    utilities = alpha * (1.0 - distance) + beta * density + rho * distribution
    picks = [_argmax(utilities, rng)]
    if k > 1:
        e_us = float(np.mean(1.0 - top_two[:, 1]))
        rho = min(rho, 1.0 - lmbda)
        alpha = (1.0 - (rho + lmbda)) * (1.0 - e_us)
        beta = 1.0 - (rho + lmbda) - alpha
        chosen = np.zeros(n, dtype=bool)
        chosen[picks[0]] = True
        for _ in range(1, k):
            taken = R[chosen].sum(axis=0)
            distribution = _distribution(pi, R, labeled_sum + taken, n_labeled + chosen.sum())
            diversity = -np.log(density + density[chosen].sum())
            spread = diversity.max() - diversity.min()
            diversity = (diversity - diversity.min()) / spread if spread > 0 else diversity * 0
            utilities = (
                alpha * (1.0 - distance) + beta * density + lmbda * diversity + rho * distribution
            )
            utilities[chosen] = np.nan
            picks.append(_argmax(utilities, rng))
            chosen[picks[-1]] = True
    return np.asarray(picks, dtype=np.int64)


class FourDS(Strategy):
    r"""4DS: distance, density, diversity and distribution over a Gaussian mixture.

    Fits a Gaussian mixture to the embeddings of the pool and the labeled set (or uses
    ``mixture``), reads the class posteriors from the model, and picks the batch by
    :func:`fourds_select` (Reitmaier & Sick 2013): early on, while the labeled set
    does not yet reflect the mixture's components, the *distribution* term dominates
    (items of under-sampled components); later the *distance* (uncertainty) and
    *density* terms take over, with *diversity* spreading a batch.

    The paper trains a classifier on the same mixture (the CMM); here any model with
    ``predict_proba`` provides the posteriors and the mixture is fitted on
    ``model.embed`` (the features before a Pipeline's last step, or ``X`` itself).

    Differences from scikit-activeml's ``FourDs`` (which needs its ``CMM`` classifier
    and reads the mixture from it): with the same posteriors and mixture the first pick
    is the same; for later picks of a batch it divides the summed responsibilities by
    ``|L| + k + 1`` (``k`` the whole batch size) where Eq. 11 counts the items chosen so
    far, so batch picks can differ.

    Parameters
    ----------
    n_components : int or None, default=None
        Mixture components; None: the number of classes of the model.
    mixture : estimator, optional
        A scikit-learn mixture (``GaussianMixture``, ``BayesianGaussianMixture``); used
        as is when fitted, else cloned and fitted on the embeddings.
    lmbda : float or None, default=None
        Diversity weight in [0, 1]; None: :math:`\min(0.05 (k - 1), 0.5)`.
    covariance_type : str, default="full"
        Of the mixture fitted when ``mixture`` is None.

    References
    ----------
    Reitmaier & Sick (2013), "Let us know your decision: pool-based active training of a
    generative classifier with the selection strategy 4DS", Information Sciences 230,
    pp. 106–131.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.2], [3.0], [3.2]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.array([[0.1], [1.6], [3.1], [1.5]])
    >>> FourDS().query(model, pool, 2, X, [0, 0, 1, 1], random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "fourds"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "distance, density, diversity and distribution on a mixture"
    reference: ClassVar[str] = "Reitmaier & Sick 2013"

    def __init__(
        self,
        n_components: int | None = None,
        mixture: Any = None,
        lmbda: float | None = None,
        covariance_type: str = "full",
    ) -> None:
        self.n_components = n_components
        self.mixture = mixture
        self.lmbda = lmbda
        self.covariance_type = covariance_type

    def _fitted_mixture(self, model: ModelAdapter, pool, labeled, rng):
        from sklearn.base import clone
        from sklearn.mixture import GaussianMixture

        if self.mixture is not None:
            if hasattr(self.mixture, "weights_"):
                return self.mixture
            mixture = clone(self.mixture)
        else:
            if self.n_components is None:
                n_components = len(model.classes_)
            else:
                n_components = check_int(self.n_components, "n_components", self.name, 1)
            mixture = GaussianMixture(
                n_components=n_components,
                covariance_type=self.covariance_type,
                reg_covar=1e-4,
                random_state=int(rng.integers(2**31 - 1)),
            )
        everything = pool if labeled is None else np.vstack([pool, labeled])
        n_components = getattr(mixture, "n_components", 1)
        if everything.shape[0] < n_components:
            mixture.set_params(n_components=everything.shape[0])
        return mixture.fit(everything)

    def _select(self, model: ModelAdapter, X_pool, k, X_labeled, y_labeled, rng):
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        if hasattr(pool, "toarray") or (labeled is not None and hasattr(labeled, "toarray")):
            raise TypeError(
                f"{self.name} fits a Gaussian mixture and needs dense features; got a sparse "
                "matrix. Reduce it first (e.g. TruncatedSVD in a Pipeline before the model)."
            )
        mixture = self._fitted_mixture(model, pool, labeled, rng)
        n_components = mixture.weights_.shape[0]
        labeled_resp = (
            np.zeros((0, n_components)) if labeled is None else mixture.predict_proba(labeled)
        )
        return fourds_select(
            model.predict_proba(X_pool),
            mixture.score_samples(pool),
            mixture.predict_proba(pool),
            labeled_resp,
            mixture.weights_,
            k,
            self.lmbda,
            rng,
        )
