"""Adapters for regressors: point predictions, predictive spread, members, leaves.

``wrap(regressor)`` gives a :class:`RegressionAdapter`; :class:`RegressionCommittee`
builds query-by-committee / query-by-bagging ensembles of any regressors. Regression
strategies read these capabilities:

- ``predict``: numeric predictions ``(n,)`` (every regressor);
- ``predict_std``: the predictive standard deviation ``(n,)``: a Gaussian process,
  ``BayesianRidge`` / ``ARDRegression`` or anything whose ``predict`` takes
  ``return_std``; for ensembles, the spread of the members' predictions;
- ``sample_predict``: each member's predictions ``(m, n)``: random forests, extra trees,
  bagging and voting regressors, :class:`RegressionCommittee`;
- ``apply``: the leaf of each row in each tree ``(n, T)``: regression trees and forests;
- ``posterior_covariance``: a Gaussian process's posterior in closed form
  (:meth:`RegressionAdapter.gaussian_posterior`), which lets expected-change strategies
  condition on a new label without refitting.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._data import take_rows
from activelab._validation import RandomStateLike, check_random_state, n_rows
from activelab.models._base import ModelAdapter, numeric_features

__all__ = [
    "REGRESSION_CAPABILITIES",
    "GaussianPosterior",
    "RegressionAdapter",
    "RegressionCommittee",
    "is_regression_adapter",
    "is_regressor",
]

#: Capabilities only regression adapters provide.
REGRESSION_CAPABILITIES: frozenset[str] = frozenset(
    {"predict", "predict_std", "sample_predict", "apply", "posterior_covariance"}
)

_CLASSIFICATION_CAPABILITIES = frozenset({"predict_proba", "sample_proba", "grad_embed"})


def is_regressor(model: Any) -> bool:
    """True for a scikit-learn regressor (or a Pipeline ending in one) or a look-alike.

    Parameters
    ----------
    model : object

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression, LogisticRegression
    >>> is_regressor(LinearRegression()), is_regressor(LogisticRegression())
    (True, False)
    """
    if callable(getattr(model, "predict_proba", None)):
        return False
    try:
        from sklearn.base import is_regressor as sklearn_is_regressor

        if sklearn_is_regressor(model):
            return True
    except Exception:  # a look-alike without scikit-learn tags
        pass
    return getattr(model, "_estimator_type", None) == "regressor"


def is_regression_adapter(adapter: Any) -> bool:
    """True when ``adapter`` gives numeric predictions rather than class probabilities.

    Parameters
    ----------
    adapter : ModelAdapter

    Returns
    -------
    bool
    """
    capabilities = getattr(adapter, "capabilities", frozenset())
    return "predict" in capabilities and "predict_proba" not in capabilities


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _features(estimator: Any, X: Any) -> Any:
    """X through a Pipeline's steps before the last (X itself otherwise)."""
    if getattr(estimator, "steps", None) and len(estimator.steps) > 1:
        return estimator[:-1].transform(X)
    return X


def _takes_return_std(final: Any) -> bool:
    predict = getattr(final, "predict", None)
    if not callable(predict):
        return False
    try:
        return "return_std" in inspect.signature(predict).parameters
    except (TypeError, ValueError):
        return False


def _members(final: Any) -> tuple[list[Any], list[Any] | None] | None:
    """The fitted members of a supported ensemble and their feature subsets, or None."""
    from sklearn.ensemble import (
        BaggingRegressor,
        ExtraTreesRegressor,
        RandomForestRegressor,
        VotingRegressor,
    )

    if isinstance(final, RandomForestRegressor | ExtraTreesRegressor | VotingRegressor):
        return list(getattr(final, "estimators_", [])), None
    if isinstance(final, BaggingRegressor):
        subsets = list(getattr(final, "estimators_features_", [])) or None
        return list(getattr(final, "estimators_", [])), subsets
    return None


def _trees(final: Any) -> list[Any] | None:
    """The fitted trees of a regression tree or forest, or None for other models."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor, ExtraTreeRegressor

    if isinstance(final, DecisionTreeRegressor | ExtraTreeRegressor):
        return [final]
    if isinstance(final, RandomForestRegressor | ExtraTreesRegressor):
        return list(getattr(final, "estimators_", []))
    return None


def _is_gaussian_process(final: Any) -> bool:
    from sklearn.gaussian_process import GaussianProcessRegressor

    return isinstance(final, GaussianProcessRegressor)


def _as_values(predictions: Any, who: str) -> np.ndarray:
    values = np.asarray(predictions, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"{who} needs one numeric prediction per row; the model gave shape "
            f"{values.shape}. Multi-output regression is not supported: fit one target."
        )
    return values


class GaussianPosterior:
    r"""A fitted Gaussian process's posterior, for conditioning on new labels in closed form.

    With training inputs :math:`X`, kernel :math:`k` (the fitted ``kernel_``), noise
    :math:`\alpha` on the diagonal and :math:`L L^\top = k(X, X) + \alpha I`, the
    posterior covariance of two inputs is
    :math:`c(a, b) = s^2\,[k(a, b) - w_a^\top w_b]` with :math:`w_a = L^{-1} k(X, a)` and
    :math:`s` the target scale (``normalize_y``). Adding a label at :math:`x^*` with the
    hyperparameters held fixed changes the mean by
    :math:`c(e, x^*) / v^* \cdot (y^* - \mu(x^*))` and the variance by
    :math:`-c(e, x^*)^2 / v^*`, where :math:`v^* = c(x^*, x^*) + s^2 \alpha` is the
    variance of :math:`x^*` as a training point (Rasmussen & Williams 2006, eq. 2.19;
    Käding et al. 2016). That is exactly what refitting scikit-learn's
    ``GaussianProcessRegressor(kernel=kernel_, optimizer=None)`` on the extra point gives
    when ``normalize_y=False``.

    Parameters
    ----------
    gp : sklearn.gaussian_process.GaussianProcessRegressor
        Fitted, with a scalar ``alpha``.

    References
    ----------
    Rasmussen & Williams (2006), "Gaussian Processes for Machine Learning", MIT Press.
    """

    def __init__(self, gp: Any) -> None:
        if not hasattr(gp, "L_"):
            raise RuntimeError(
                "the Gaussian process is not fitted; fit it before asking for its posterior."
            )
        alpha = np.asarray(gp.alpha, dtype=np.float64)
        if alpha.size != 1:
            raise TypeError(
                "the closed-form update needs a scalar alpha (one noise level for every "
                f"point); this GaussianProcessRegressor has {alpha.size} values. Pass "
                "refit=True to the strategy, or use a WhiteKernel for the noise."
            )
        self.gp = gp
        self.alpha = float(alpha.reshape(-1)[0])
        self.scale = float(np.asarray(gp._y_train_std, dtype=np.float64).reshape(-1)[0])

    def whiten(self, X: Any) -> np.ndarray:
        """:math:`L^{-1} k(X_{train}, X)`, shape ``(n_train, n)``."""
        from scipy.linalg import solve_triangular

        cross = self.gp.kernel_(self.gp.X_train_, X)
        return solve_triangular(self.gp.L_, cross, lower=True, check_finite=False)

    def covariance(self, A: Any, B: Any, whitened_a: np.ndarray, whitened_b: np.ndarray) -> Any:
        """Posterior covariance :math:`c(a, b)` of two sets of inputs, shape ``(n_a, n_b)``."""
        return (self.gp.kernel_(A, B) - whitened_a.T @ whitened_b) * self.scale**2

    def variance(self, X: Any, whitened: np.ndarray) -> np.ndarray:
        """Predictive variance, as ``predict(return_std=True)`` gives it squared."""
        values = self.gp.kernel_.diag(X) - np.einsum("ij,ij->j", whitened, whitened)
        return np.maximum(values, 0.0) * self.scale**2

    def training_variance(self, X: Any, whitened: np.ndarray) -> np.ndarray:
        """:math:`v^*`: the variance of each row of ``X`` as a new noisy training point."""
        values = self.gp.kernel_.diag(X) + self.alpha
        values = values - np.einsum("ij,ij->j", whitened, whitened)
        return np.maximum(values, self.alpha) * self.scale**2


class _RegressionRequire(ModelAdapter):
    """``require`` that tells a classification strategy it was given a regressor."""

    def require(self, capability: str, who: str) -> None:
        """Raise a TypeError naming ``capability``; for a class capability, say why."""
        if capability in self.capabilities:
            return
        if capability in _CLASSIFICATION_CAPABILITIES:
            from activelab.models._base import CAPABILITY_PROVIDERS

            raise TypeError(
                f"{who} needs {capability!r} (class probabilities), and {self.describe()} is "
                "a regressor. Pass a classifier — it comes from "
                f"{CAPABILITY_PROVIDERS[capability]} — or use a regression strategy "
                "(variance, qbc_regression, interval_width, gsx, gsy, igs, emoc, emvr, "
                "kl_max, rt_al)."
            )
        super().require(capability, who)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Regressors have no class probabilities: a TypeError that says so."""
        self.require("predict_proba", "predict_proba")
        raise AssertionError  # pragma: no cover - require raised


class RegressionAdapter(_RegressionRequire):
    """Adapter around a scikit-learn regressor, a Pipeline ending in one, or a look-alike.

    ``predict_std`` comes from a Gaussian process, ``BayesianRidge``, ``ARDRegression``
    or any model whose ``predict`` takes ``return_std`` (also as the last step of a
    Pipeline), or from the spread of an ensemble's members; ``sample_predict`` from the
    members of a RandomForestRegressor, ExtraTreesRegressor, BaggingRegressor or
    VotingRegressor (or the model's own ``sample_predict``); ``apply`` from regression
    trees and forests.

    Parameters
    ----------
    estimator : object
        A regressor with ``predict``; ``fit`` is needed only if the loop fits it.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> adapter = RegressionAdapter(RandomForestRegressor(n_estimators=5, random_state=0))
    >>> adapter.fit([[0.0], [1.0], [2.0], [3.0]], [0.0, 1.0, 2.0, 3.0]).sample_predict(
    ...     [[1.5]]
    ... ).shape
    (5, 1)
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict`` and ``embed`` always; the rest as the model allows."""
        found = {"predict", "embed"}
        final = _final_step(self.estimator)
        ensemble = _members(final) is not None or callable(getattr(final, "sample_predict", None))
        if ensemble:
            found.add("sample_predict")
        if ensemble or _takes_return_std(final):
            found.add("predict_std")
        if _trees(final) is not None:
            found.add("apply")
        if _is_gaussian_process(final):
            found.add("posterior_covariance")
        return frozenset(found)

    def describe(self) -> str:
        """The wrapped regressor's class name (a Pipeline's last step is named too)."""
        final = _final_step(self.estimator)
        if final is self.estimator:
            return type(self.estimator).__name__
        return f"Pipeline(… {type(final).__name__})"

    def fit(self, X: Any, y: Any, **fit_params: Any) -> RegressionAdapter:
        """Fit the wrapped regressor on ``(X, y)`` and return self.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame
        y : array-like of shape (n,)
            Numeric targets.
        **fit_params
            Passed to the estimator's ``fit`` (e.g. ``sample_weight``).

        Returns
        -------
        RegressionAdapter
        """
        if not callable(getattr(self.estimator, "fit", None)):
            raise TypeError(
                f"{type(self.estimator).__name__} has no fit method; the loop needs to "
                "retrain the model. Pass an estimator with fit(X, y)."
            )
        self.estimator.fit(X, y, **fit_params)
        return self

    def features(self, X: Any) -> Any:
        """``X`` through a Pipeline's steps before the last (``X`` itself otherwise).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        What the final step reads.
        """
        return _features(self.estimator, X)

    def predict(self, X: Any) -> np.ndarray:
        """Numeric predictions, float64 of shape ``(n,)``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return _as_values(self.estimator.predict(X), self.describe())

    def predict_std(self, X: Any) -> np.ndarray:
        """Predictive standard deviation of each row, float64 of shape ``(n,)``.

        The model's own (``predict(X, return_std=True)``) when it has one, else the
        standard deviation of the members' predictions (``ddof=0``).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        self.require("predict_std", "predict_std")
        final = _final_step(self.estimator)
        if _takes_return_std(final):
            _, std = final.predict(self.features(X), return_std=True)
            return _as_values(std, self.describe())
        return self.sample_predict(X).std(axis=0)

    def sample_predict(self, X: Any) -> np.ndarray:
        """Each ensemble member's predictions, shape ``(m, n)``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (m, n)
        """
        self.require("sample_predict", "sample_predict")
        final = _final_step(self.estimator)
        features = self.features(X)
        view = _members(final)
        if view is None:
            samples = np.asarray(final.sample_predict(features), dtype=np.float64)
            if samples.ndim != 2 or samples.shape[1] != n_rows(X):
                raise ValueError(
                    f"{self.describe()}.sample_predict must return shape (m, n={n_rows(X)}); "
                    f"got {samples.shape}."
                )
            return samples
        members, subsets = view
        if not members:
            raise RuntimeError(f"{self.describe()} is not fitted; fit it before sampling.")
        from sklearn.ensemble import VotingRegressor

        if hasattr(features, "to_numpy") and not isinstance(final, VotingRegressor):
            features = features.to_numpy()
        stacked = np.empty((len(members), n_rows(features)), dtype=np.float64)
        for position, member in enumerate(members):
            member_X = features if subsets is None else features[:, subsets[position]]
            stacked[position] = _as_values(member.predict(member_X), self.describe())
        return stacked

    def apply(self, X: Any) -> np.ndarray:
        """The leaf each row reaches in each tree, int64 of shape ``(n, T)``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n, T)
        """
        self.require("apply", "apply")
        final = _final_step(self.estimator)
        features = self.features(X)
        leaves = np.asarray(final.apply(features), dtype=np.int64)
        return leaves.reshape(leaves.shape[0], -1)

    def trees(self) -> list[Any]:
        """The fitted trees (one for a single tree), each with ``tree_``.

        Returns
        -------
        list
        """
        self.require("apply", "trees")
        return list(_trees(_final_step(self.estimator)) or [])

    def gaussian_posterior(self) -> GaussianPosterior:
        """The Gaussian process's posterior for closed-form conditioning.

        Returns
        -------
        GaussianPosterior
        """
        self.require("posterior_covariance", "gaussian_posterior")
        return GaussianPosterior(_final_step(self.estimator))

    def embed(self, X: Any) -> Any:
        """A Pipeline's features before its last step, or numeric X.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray or scipy.sparse matrix of shape (n, d)
        """
        return numeric_features(self.features(X))

    def clone(self) -> RegressionAdapter:
        """An unfitted copy (scikit-learn ``clone``, or a deep copy for other objects)."""
        if hasattr(self.estimator, "get_params"):
            return RegressionAdapter(clone(self.estimator))
        return RegressionAdapter(copy.deepcopy(self.estimator))


def _check_regression_member(estimator: Any, position: int) -> None:
    name = type(estimator).__name__
    if not callable(getattr(estimator, "fit", None)) or not callable(
        getattr(estimator, "predict", None)
    ):
        raise TypeError(f"committee member {position} ({name}) needs fit and predict.")
    if callable(getattr(estimator, "predict_proba", None)):
        raise TypeError(
            f"committee member {position} ({name}) is a classifier; a RegressionCommittee "
            "takes regressors. For classifiers use al.models.Committee."
        )


class RegressionCommittee(_RegressionRequire):
    """A committee of regressors: query-by-committee / query-by-bagging for regression.

    Members are different regressors (Burbidge, Rowland & King 2007 use a committee of
    networks) or copies of one regressor fitted on bootstrap samples (:meth:`bagging`).
    ``predict`` is the members' mean; ``sample_predict`` stacks their predictions;
    ``predict_std`` is the spread of the mixture: the members' variance around their
    mean plus, when every member gives a predictive std, the mean of their variances.

    Parameters
    ----------
    estimators : list of estimators
        Unfitted regressors with fit and predict; each is cloned at fit.
    bootstrap : bool
        Fit each member on a bootstrap sample of the labeled set.
    random_state : int, numpy.random.Generator or None
        Seeds the bootstrap samples.

    References
    ----------
    Burbidge, Rowland & King (2007), "Active learning for regression based on query by
    committee", IDEAL. RayChaudhuri & Hamey (1995), "Minimisation of data collection by
    active learning", ICNN.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> committee = RegressionCommittee([LinearRegression(), DecisionTreeRegressor()])
    >>> committee.fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 4.0]).sample_predict([[1.5]]).shape
    (2, 1)
    """

    def __init__(
        self,
        estimators: list[Any],
        bootstrap: bool = False,
        random_state: RandomStateLike = None,
    ) -> None:
        self.estimators = estimators
        self.bootstrap = bootstrap
        self.random_state = random_state

    @classmethod
    def bagging(
        cls, estimator: Any, n_members: int = 10, random_state: RandomStateLike = None
    ) -> RegressionCommittee:
        """Query-by-bagging: ``n_members`` copies of ``estimator`` on bootstrap samples.

        Parameters
        ----------
        estimator : regressor
        n_members : int
            Committee size, at least 2.
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        RegressionCommittee
        """
        if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 2:
            raise ValueError(f"a committee needs at least 2 members; got n_members={n_members}.")
        _check_regression_member(estimator, 0)
        return cls([clone(estimator) for _ in range(n_members)], True, random_state)

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict``, ``predict_std``, ``sample_predict`` and ``embed``."""
        return frozenset({"predict", "predict_std", "sample_predict", "embed"})

    def describe(self) -> str:
        """``RegressionCommittee(m × Name)`` or the members' names."""
        names = [type(e).__name__ for e in self.estimators]
        if len(set(names)) == 1:
            return f"RegressionCommittee({len(names)} × {names[0]})"
        return f"RegressionCommittee({', '.join(names)})"

    def fit(self, X: Any, y: Any) -> RegressionCommittee:
        """Fit every member (on a bootstrap sample when ``bootstrap``) and return self.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame
        y : array-like of shape (n,)

        Returns
        -------
        RegressionCommittee
        """
        if not isinstance(self.estimators, list | tuple) or len(self.estimators) < 2:
            count = len(self.estimators) if isinstance(self.estimators, list | tuple) else 0
            raise ValueError(f"a committee needs a list of at least 2 members; got {count}.")
        for position, estimator in enumerate(self.estimators):
            _check_regression_member(estimator, position)
        targets = np.asarray(y, dtype=np.float64)
        rng = check_random_state(self.random_state)
        members = []
        for estimator in self.estimators:
            rows = np.arange(targets.shape[0])
            if self.bootstrap:
                rows = rng.integers(0, targets.shape[0], size=targets.shape[0])
            members.append(clone(estimator).fit(take_rows(X, rows), targets[rows]))
        self.members_ = members
        return self

    def _fitted(self) -> list[Any]:
        if not hasattr(self, "members_"):
            raise RuntimeError("the committee is not fitted; call fit(X, y) first.")
        return self.members_

    def sample_predict(self, X: Any) -> np.ndarray:
        """Each member's predictions, shape ``(m, n)``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (m, n)
        """
        members = self._fitted()
        return np.stack([_as_values(m.predict(X), type(m).__name__) for m in members])

    def predict(self, X: Any) -> np.ndarray:
        """The members' mean prediction, shape ``(n,)``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return self.sample_predict(X).mean(axis=0)

    def predict_std(self, X: Any) -> np.ndarray:
        r"""Standard deviation of the members' mixture, shape ``(n,)``.

        :math:`\sqrt{\operatorname{Var}_m[\mu_m] + \mathbb{E}_m[\sigma_m^2]}`, the second
        term only when every member gives a predictive std.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        members = self._fitted()
        if all(_takes_return_std(m) for m in members):
            pairs = [m.predict(X, return_std=True) for m in members]
            means = np.stack([_as_values(p[0], "predict") for p in pairs])
            variances = np.stack([_as_values(p[1], "predict_std") ** 2 for p in pairs])
            return np.sqrt(means.var(axis=0) + variances.mean(axis=0))
        return self.sample_predict(X).std(axis=0)

    def clone(self) -> RegressionCommittee:
        """An unfitted copy with the same parameters."""
        return RegressionCommittee(
            [clone(e) for e in self.estimators], self.bootstrap, self.random_state
        )
