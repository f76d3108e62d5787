"""Expected-change strategies for regression: EMOC, EMVR and KL-divergence maximisation.

Each asks, for a pool item :math:`x^*`, what labelling it would do to the model: move its
predictions (EMOC), shrink its predictive variance (EMVR), or move its predictive
distributions (KL). The unknown label is integrated over the model's predictive
distribution :math:`y^* \\sim N(\\mu(x^*), \\sigma(x^*)^2)` by Gauss–Hermite quadrature, or
replaced by its mean (``integration="assume_linear"``, scikit-activeml's default).

For a Gaussian process the model after the new label follows in closed form with the
hyperparameters held fixed (:class:`~activelab.models._regression.GaussianPosterior`):
no refit, and the integral over :math:`y^*` is exact. Any other model with a predictive
std is refitted on the labeled set plus :math:`(x^*, y^*)` for every pool item and every
quadrature node, as scikit-activeml does (``refit=True`` forces that for a GP too, and
then the GP's hyperparameters are re-optimised when its optimizer is set).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._data import concat_rows, take_rows
from activelab._validation import check_int, n_rows
from activelab.models import ModelAdapter
from activelab.select import top_k
from activelab.strategies._regression import RegressionStrategy, labeled_targets

__all__ = [
    "ExpectedModelOutputChange",
    "ExpectedModelVarianceReduction",
    "KLDivergenceMaximization",
    "gaussian_kl",
    "integration_nodes",
]

_BLOCK_CELLS = 2_000_000


def integration_nodes(integration: str, n_integration: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Standardised nodes and weights for the expectation over the unknown target.

    The target is :math:`y^* = \\mu + \\sigma r` with :math:`r \\sim N(0, 1)`;
    :math:`E[g(y^*)] \\approx \\sum_q w_q\\, g(\\mu + \\sigma r_q)`.

    Parameters
    ----------
    integration : {"gauss_hermite", "assume_linear"}
        Gauss–Hermite quadrature of ``n_integration`` nodes (exact for polynomials of
        degree below ``2 n_integration``), or the single node :math:`r = 0`.
    n_integration : int

    Returns
    -------
    nodes, weights : numpy.ndarray of shape (q,); the weights sum to 1

    Examples
    --------
    >>> nodes, weights = integration_nodes("gauss_hermite", 3)
    >>> round(float(weights @ nodes**2), 12)
    1.0
    """
    if integration == "assume_linear":
        return np.zeros(1), np.ones(1)
    if integration != "gauss_hermite":
        raise ValueError(
            f"integration must be 'gauss_hermite' or 'assume_linear'; got {integration!r}."
        )
    from scipy.special import roots_hermitenorm

    n = check_int(n_integration, "n_integration", "integration_nodes", 1)
    nodes, weights = roots_hermitenorm(n)
    return nodes, weights / weights.sum()


def gaussian_kl(
    mean_new: np.ndarray, var_new: np.ndarray, mean_old: np.ndarray, var_old: np.ndarray
) -> np.ndarray:
    """KL(N(mean_new, var_new) ‖ N(mean_old, var_old)), elementwise.

    :math:`\\tfrac12 \\log(\\sigma_0^2/\\sigma_1^2) + (\\sigma_1^2 + (\\mu_1 -
    \\mu_0)^2)/(2\\sigma_0^2) - \\tfrac12`.

    Parameters
    ----------
    mean_new, var_new, mean_old, var_old : arrays of one shape; variances positive

    Returns
    -------
    numpy.ndarray, non-negative

    Examples
    --------
    >>> float(gaussian_kl(np.array(0.0), np.array(1.0), np.array(0.0), np.array(1.0)))
    0.0
    """
    var_new = np.asarray(var_new, dtype=np.float64)
    var_old = np.asarray(var_old, dtype=np.float64)
    if (var_new <= 0).any() or (var_old <= 0).any():
        raise ValueError("gaussian_kl needs positive variances.")
    shift = np.asarray(mean_new, dtype=np.float64) - np.asarray(mean_old, dtype=np.float64)
    kl = 0.5 * np.log(var_old / var_new) + (var_new + shift**2) / (2.0 * var_old) - 0.5
    return np.maximum(kl, 0.0)


def _dense(X: Any) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    return np.asarray(X, dtype=np.float64)


class _ExpectedChange(RegressionStrategy):
    """Shared machinery: closed form on a GP, refit per candidate otherwise."""

    needs: ClassVar[tuple[str, ...]] = ("predict_std",)

    def __init__(
        self,
        integration: str = "gauss_hermite",
        n_integration: int = 10,
        evaluate_on: str = "pool",
        refit: bool = False,
    ) -> None:
        self.integration = integration
        self.n_integration = n_integration
        self.evaluate_on = evaluate_on
        self.refit = refit

    def utilities(
        self, model: Any, X_pool: Any, X_labeled: Any = None, y_labeled: Any = None
    ) -> np.ndarray:
        """Utility of each pool item, higher is more informative.

        Parameters
        ----------
        model : fitted regressor with a predictive std, or an adapter
        X_pool : array-like
        X_labeled, y_labeled : optional
            The labeled set: refitted on (models without a closed form) and evaluated on
            (``evaluate_on="all"``).

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._utilities(self._adapter(model), X_pool, X_labeled, y_labeled)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(self._utilities(model, X_pool, X_labeled, y_labeled), k, rng)

    def _check(self) -> tuple[np.ndarray, np.ndarray]:
        if self.evaluate_on not in ("pool", "all"):
            raise ValueError(
                f"{self.name}: evaluate_on must be 'pool' or 'all'; got {self.evaluate_on!r}."
            )
        if not isinstance(self.refit, bool | np.bool_):
            raise ValueError(f"{self.name}: refit must be True or False; got {self.refit!r}.")
        return integration_nodes(self.integration, self.n_integration)

    def _utilities(self, model: ModelAdapter, X_pool, X_labeled, y_labeled) -> np.ndarray:
        nodes, weights = self._check()
        targets = labeled_targets(X_labeled, y_labeled, self.name)
        X_eval = X_pool
        if self.evaluate_on == "all" and targets is not None:
            X_eval = concat_rows(X_labeled, X_pool)
        if not self.refit and "posterior_covariance" in model.capabilities:
            return self._closed_form(model, X_pool, X_eval, nodes, weights)
        if targets is None:
            raise ValueError(
                f"{self.name} refits the model with each candidate label, so it needs the "
                "labeled set (X_labeled, y_labeled); pass them (a Gaussian process needs "
                "none: it is updated in closed form unless refit=True)."
            )
        return self._by_refit(model, X_pool, X_labeled, targets, X_eval, nodes, weights)

    # -- Gaussian process, closed form ---------------------------------------------------

    def _closed_form(self, model, X_pool, X_eval, nodes, weights) -> np.ndarray:
        posterior = model.gaussian_posterior()
        pool = _dense(model.features(X_pool))
        evaluation = _dense(model.features(X_eval))
        whitened_eval = posterior.whiten(evaluation)
        var_eval = posterior.variance(evaluation, whitened_eval)
        second_moment = float(weights @ nodes**2)
        absolute_moment = float(weights @ np.abs(nodes))
        n = pool.shape[0]
        block = max(1, _BLOCK_CELLS // max(evaluation.shape[0], 1))
        out = np.empty(n)
        for start in range(0, n, block):
            rows = pool[start : start + block]
            whitened = posterior.whiten(rows)
            cov = posterior.covariance(evaluation, rows, whitened_eval, whitened)
            train_var = posterior.training_variance(rows, whitened)
            std = np.sqrt(posterior.variance(rows, whitened))
            out[start : start + block] = self._from_covariance(
                cov, train_var, std, var_eval, second_moment, absolute_moment
            )
        return out

    def _from_covariance(
        self, cov, train_var, std, var_eval, second_moment, absolute_moment
    ) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- any model, by refitting -----------------------------------------------------------

    def _by_refit(self, model, X_pool, X_labeled, targets, X_eval, nodes, weights) -> np.ndarray:
        mean_eval = model.predict(X_eval)
        var_eval = model.predict_std(X_eval) ** 2
        mean_pool = model.predict(X_pool)
        std_pool = model.predict_std(X_pool) if np.any(nodes != 0) else np.zeros_like(mean_pool)
        out = np.zeros(n_rows(X_pool))
        for i in range(out.shape[0]):
            X_new = concat_rows(X_labeled, take_rows(X_pool, np.array([i])))
            for node, weight in zip(nodes, weights, strict=True):
                y_new = np.append(targets, mean_pool[i] + std_pool[i] * node)
                updated = model.clone().fit(X_new, y_new)
                out[i] += weight * self._from_refit(updated, X_eval, mean_eval, var_eval)
        return out

    def _from_refit(self, updated, X_eval, mean_eval, var_eval) -> float:  # pragma: no cover
        raise NotImplementedError


class ExpectedModelOutputChange(_ExpectedChange):
    r"""EMOC for regression: how much labelling an item is expected to move the predictions.

    :math:`u(x^*) = E_{y^* \sim p(y \mid x^*)}\big[L(f(X_e), f^{+(x^*, y^*)}(X_e))\big]`,
    the loss between the model's predictions on the evaluation set :math:`X_e` (the pool,
    as Käding et al. propose) before and after adding the label. For a Gaussian process
    the change is :math:`c(e, x^*)/v^* \cdot (y^* - \mu(x^*))`, so with the squared loss
    :math:`u = \sigma^2(x^*)\,\overline{c(e, x^*)^2} / {v^*}^2` and with the absolute loss
    :math:`u = \sigma(x^*)\,\overline{|c(e, x^*)|}/v^* \cdot E|r|` (Käding et al. 2016).

    With ``integration="assume_linear"`` (scikit-activeml's default) :math:`y^*` is the
    predicted mean, which leaves a Gaussian process's predictions unchanged (every
    utility 0); the default here is the expectation the paper defines.

    Parameters
    ----------
    loss : {"squared", "absolute"}
        Mean squared (scikit-activeml's default) or mean absolute (the paper's L1)
        change over the evaluation set.
    integration : {"gauss_hermite", "assume_linear"}
    n_integration : int
        Gauss–Hermite nodes.
    evaluate_on : {"pool", "all"}
        The pool, or the labeled set and the pool.
    refit : bool
        Refit per candidate even when a closed form exists.

    References
    ----------
    Käding, Rodner, Freytag, Mothes, Barz & Denzler (2016/2018), "Active learning for
    regression tasks with expected model output changes", BMVC 2018 (ACCV 2016 for
    classification).

    Examples
    --------
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> gp = GaussianProcessRegressor().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> ExpectedModelOutputChange().query(gp, [[0.5], [2.0], [2.2]], 1, random_state=0).shape
    (1,)
    """

    name: ClassVar[str] = "emoc"
    summary: ClassVar[str] = "largest expected change of the predictions on the pool"
    reference: ClassVar[str] = "Käding et al. 2016"

    def __init__(
        self,
        loss: str = "squared",
        integration: str = "gauss_hermite",
        n_integration: int = 10,
        evaluate_on: str = "pool",
        refit: bool = False,
    ) -> None:
        self.loss = loss
        super().__init__(integration, n_integration, evaluate_on, refit)

    def _check(self):
        if self.loss not in ("squared", "absolute"):
            raise ValueError(
                f"{self.name}: loss must be 'squared' or 'absolute'; got {self.loss!r}."
            )
        return super()._check()

    def _from_covariance(self, cov, train_var, std, var_eval, second_moment, absolute_moment):
        if self.loss == "squared":
            return (cov**2).mean(axis=0) / train_var**2 * std**2 * second_moment
        return np.abs(cov).mean(axis=0) / train_var * std * absolute_moment

    def _from_refit(self, updated, X_eval, mean_eval, var_eval) -> float:
        change = updated.predict(X_eval) - mean_eval
        return float(np.mean(change**2) if self.loss == "squared" else np.mean(np.abs(change)))


class ExpectedModelVarianceReduction(_ExpectedChange):
    r"""EMVR: the expected reduction of the mean predictive variance (Cohn et al. 1996).

    :math:`u(x^*) = \overline{\sigma^2}(X_e) - E_{y^*}\big[\overline{\sigma^2_{+(x^*,
    y^*)}}(X_e)\big]` over the evaluation set (the labeled set and the pool, as
    scikit-activeml). For a Gaussian process the variance does not depend on
    :math:`y^*`: :math:`u = \overline{c(e, x^*)^2}/v^*`, the integrated variance
    reduction of Seo et al. (2000)'s ALC.

    Parameters
    ----------
    integration : {"gauss_hermite", "assume_linear"}
        For refitted models (scikit-activeml's default ``"assume_linear"``).
    n_integration : int
    evaluate_on : {"all", "pool"}
    refit : bool

    References
    ----------
    Cohn, Ghahramani & Jordan (1996), "Active learning with statistical models", JAIR 4.
    Seo, Wallat, Graepel & Obermayer (2000), "Gaussian process regression: active data
    selection and test point rejection", IJCNN.

    Examples
    --------
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> gp = GaussianProcessRegressor().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> ExpectedModelVarianceReduction().query(gp, [[0.5], [2.0]], 1, random_state=0).shape
    (1,)
    """

    name: ClassVar[str] = "emvr"
    summary: ClassVar[str] = "largest expected reduction of the mean predictive variance"
    reference: ClassVar[str] = "Cohn et al. 1996"

    def __init__(
        self,
        integration: str = "assume_linear",
        n_integration: int = 10,
        evaluate_on: str = "all",
        refit: bool = False,
    ) -> None:
        super().__init__(integration, n_integration, evaluate_on, refit)

    def _from_covariance(self, cov, train_var, std, var_eval, second_moment, absolute_moment):
        reduced = np.maximum(var_eval[:, None] - cov**2 / train_var[None, :], 0.0)
        return var_eval.mean() - reduced.mean(axis=0)

    def _from_refit(self, updated, X_eval, mean_eval, var_eval) -> float:
        return float(var_eval.mean() - np.mean(updated.predict_std(X_eval) ** 2))


class KLDivergenceMaximization(_ExpectedChange):
    r"""Expected KL divergence between the predictive distributions after and before a label.

    :math:`u(x^*) = E_{y^*}\big[\sum_{e \in X_e} KL\big(p_{+(x^*, y^*)}(y \mid e) \,\|\,
    p(y \mid e)\big)\big]` over the pool :math:`X_e` (as scikit-activeml 1.0), with
    Gaussian predictive distributions (Elreedy, Atiya & Shaheen 2019; scikit-activeml's
    ``KLDivergenceMaximization``). For a Gaussian process,
    :math:`\sigma^2_+ = \sigma^2 - c^2/v^*` and the mean moves by
    :math:`c/v^* \cdot (y^* - \mu(x^*))`, so the expectation is exact:
    :math:`\sum_e \tfrac12\log(\sigma^2_e/\sigma^2_{+,e}) + (\sigma^2_{+,e} + c_e^2
    \sigma^2(x^*)/{v^*}^2\, E[r^2])/(2\sigma^2_e) - \tfrac12`.

    Parameters
    ----------
    integration : {"gauss_hermite", "assume_linear"}
        Over :math:`y^*`; scikit-activeml's default is ``"assume_linear"`` (no mean
        shift term).
    n_integration : int
    evaluate_on : {"pool", "all"}
    refit : bool

    References
    ----------
    Elreedy, Atiya & Shaheen (2019), "A novel active learning regression framework for
    balancing the exploration-exploitation trade-off", Entropy 21(7):651.

    Examples
    --------
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> gp = GaussianProcessRegressor(alpha=0.01).fit([[0.0], [1.0]], [0.0, 1.0])
    >>> KLDivergenceMaximization().query(gp, [[0.5], [2.0]], 1, random_state=0).shape
    (1,)
    """

    name: ClassVar[str] = "kl_max"
    summary: ClassVar[str] = "largest expected KL divergence of the predictive distributions"
    reference: ClassVar[str] = "Elreedy et al. 2019"

    def __init__(
        self,
        integration: str = "gauss_hermite",
        n_integration: int = 10,
        evaluate_on: str = "pool",
        refit: bool = False,
    ) -> None:
        super().__init__(integration, n_integration, evaluate_on, refit)

    @staticmethod
    def _floor(variance: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return np.maximum(variance, max(1e-12 * float(reference.max(initial=0.0)), 1e-300))

    def _from_covariance(self, cov, train_var, std, var_eval, second_moment, absolute_moment):
        old = self._floor(var_eval, var_eval)[:, None]
        new = self._floor(var_eval[:, None] - cov**2 / train_var[None, :], var_eval)
        shift_sq = (cov / train_var[None, :]) ** 2 * (std**2 * second_moment)[None, :]
        kl = 0.5 * np.log(old / new) + (new + shift_sq) / (2.0 * old) - 0.5
        return np.maximum(kl, 0.0).sum(axis=0)

    def _from_refit(self, updated, X_eval, mean_eval, var_eval) -> float:
        new_var = self._floor(updated.predict_std(X_eval) ** 2, var_eval)
        old_var = self._floor(var_eval, var_eval)
        return float(gaussian_kl(updated.predict(X_eval), new_var, mean_eval, old_var).sum())
