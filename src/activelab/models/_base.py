"""What every model adapter provides, and the helpers adapters share."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

#: What a capability is, and which adapter provides it, for the TypeError a strategy raises.
CAPABILITY_PROVIDERS: dict[str, str] = {
    "predict_proba": (
        "a fitted classifier with predict_proba (any scikit-learn classifier; for SVC pass "
        "probability=True), wrapped by al.models.wrap"
    ),
    "sample_proba": (
        "posterior samples or committee members: al.models.Committee.bagging(estimator, "
        "n_members=10), al.models.Committee([...]) of different estimators, or a "
        "RandomForestClassifier / ExtraTreesClassifier / BaggingClassifier / soft "
        "VotingClassifier through al.models.wrap, or al.models.TorchClassifier (MC dropout, "
        "ensemble=M)"
    ),
    "grad_embed": (
        "a softmax or logistic last layer: LogisticRegression, SGDClassifier(loss="
        "'log_loss') or MLPClassifier, alone or as the last step of a Pipeline, or "
        "al.models.TorchClassifier"
    ),
    "embed": (
        "numeric features (an array or DataFrame of numbers), or a scikit-learn Pipeline "
        "whose steps before the last turn the input into features"
    ),
    "predict": (
        "a fitted regressor with numeric predictions (any scikit-learn regressor, or a "
        "Pipeline ending in one), wrapped by al.models.wrap; a classifier's labels do not "
        "count"
    ),
    "predict_std": (
        "a regressor with a predictive standard deviation: GaussianProcessRegressor, "
        "BayesianRidge, ARDRegression or any model whose predict takes return_std; or an "
        "ensemble (RandomForestRegressor, ExtraTreesRegressor, BaggingRegressor, "
        "al.models.RegressionCommittee), whose members' spread is used"
    ),
    "sample_predict": (
        "an ensemble of regressors: RandomForestRegressor, ExtraTreesRegressor, "
        "BaggingRegressor or VotingRegressor through al.models.wrap, or "
        "al.models.RegressionCommittee.bagging(regressor, n_members=10) / "
        "al.models.RegressionCommittee([...]) of different regressors"
    ),
    "apply": (
        "a regression tree or forest with leaves: DecisionTreeRegressor (set "
        "min_samples_leaf >= 2), RandomForestRegressor or ExtraTreesRegressor, alone or last "
        "in a Pipeline"
    ),
    "posterior_covariance": (
        "a fitted GaussianProcessRegressor with a scalar alpha (alone or last in a Pipeline)"
    ),
    "gradient_lengths": (
        "per-label gradient norms: LogisticRegression or SGDClassifier(loss='log_loss') "
        "(closed form, alone or as a Pipeline's last step), or al.models.TorchClassifier "
        "(per-sample gradients with torch.func)"
    ),
    "logistic_head": (
        "a fitted logistic or softmax regression whose Fisher information has a closed "
        "form: LogisticRegression or SGDClassifier(loss='log_loss'), alone or as a "
        "Pipeline's last step"
    ),
    "predict_loss": (
        "a loss-prediction module trained with the network: a fitted "
        "al.models.TorchClassifier(module, auxiliary=LossPredictionHead(layers=[...]))"
    ),
}


class ModelAdapter(BaseEstimator):
    """Base of activelab's model adapters: the one place that knows a framework.

    Strategies read from an adapter and never fit it; the loop fits it once per round.
    Subclasses implement :meth:`fit`, :meth:`predict_proba` and whichever of
    :meth:`sample_proba` and :meth:`embed` their model supports, and list them in
    :attr:`capabilities`.
    """

    @property
    def capabilities(self) -> frozenset[str]:
        """The model outputs this adapter can give (``"predict_proba"``, ``"sample_proba"``, …)."""
        return frozenset({"predict_proba", "embed"})

    def require(self, capability: str, who: str) -> None:
        """Raise a TypeError naming ``capability`` and its provider if this adapter lacks it.

        Parameters
        ----------
        capability : str
            E.g. ``"sample_proba"``.
        who : str
            The strategy (or other caller) that needs it, for the message.
        """
        if capability in self.capabilities:
            return
        raise TypeError(
            f"{who} needs {capability!r}, which {self.describe()} does not provide. "
            f"It comes from {CAPABILITY_PROVIDERS.get(capability, 'an adapter that has it')}."
        )

    def describe(self) -> str:
        """A short name of the wrapped model, for messages and tables."""
        return type(self).__name__

    def fit(self, X: Any, y: Any) -> ModelAdapter:  # pragma: no cover - abstract
        """Fit the model on labeled data and return self."""
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Class probabilities ``(n, C)``, columns in the order of ``classes_``."""
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """Most likely class label of each row.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[np.argmax(proba, axis=1)]

    def sample_proba(self, X: Any) -> np.ndarray:
        """Posterior samples or member probabilities ``(m, n, C)``."""
        self.require("sample_proba", "sample_proba")
        raise NotImplementedError  # pragma: no cover

    def embed(self, X: Any) -> Any:
        """Features of each row for distance-based strategies, ``(n, d)``."""
        return numeric_features(X)

    def grad_embed(self, X: Any, factored: bool = False) -> Any:
        """Last-layer loss gradients at the predicted label (BADGE), ``(n, C·d)``."""
        self.require("grad_embed", "grad_embed")
        raise NotImplementedError  # pragma: no cover

    def clone(self) -> ModelAdapter:
        """An unfitted copy with the same parameters."""
        from sklearn.base import clone

        return clone(self)


def numeric_features(X: Any) -> Any:
    """Return ``X`` as a numeric 2-D float array (sparse input stays sparse).

    Float32 and float64 arrays are returned as they are (no copy); other numbers become
    float64.

    Parameters
    ----------
    X : array-like, sparse matrix or DataFrame

    Returns
    -------
    numpy.ndarray or scipy.sparse matrix
    """
    import scipy.sparse as sp

    if sp.issparse(X):
        return X
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    array = np.asarray(X)
    if array.ndim != 2 or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        found = f"dtype {array.dtype}" if array.ndim == 2 else f"shape {array.shape}"
        raise TypeError(
            f"embed needs numeric features of shape (n, d); got {found}. "
            "For texts or other raw input use a scikit-learn Pipeline whose steps before the "
            "last make features (e.g. TfidfVectorizer), and wrap the Pipeline."
        )
    if array.dtype in (np.float32, np.float64):
        return array  # no copy: float32 embeddings stay float32
    return array.astype(np.float64)


def align_columns(
    proba: np.ndarray, member_classes: np.ndarray, classes: np.ndarray, *, encoded: bool
) -> np.ndarray:
    """Place a member's probability columns under the committee's classes.

    A member that saw fewer classes than the committee gets zero columns for the classes
    it never saw, in the right place, never shifted columns.

    Parameters
    ----------
    proba : array of shape (n, c)
        The member's ``predict_proba``.
    member_classes : array of shape (c,)
        The member's ``classes_``.
    classes : array of shape (C,)
        The committee's classes.
    encoded : bool
        True when the member was fitted on class indices ``0..C-1`` (scikit-learn's
        forests, bagging and voting ensembles do this), False when on the labels.

    Returns
    -------
    numpy.ndarray of shape (n, C)
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[1] == len(classes) and (
        encoded or np.array_equal(np.asarray(member_classes), classes)
    ):
        return proba
    if encoded:
        positions = np.asarray(member_classes).astype(np.int64)
    else:
        positions = np.searchsorted(classes, member_classes)
        positions = np.clip(positions, 0, len(classes) - 1)
        if not np.array_equal(np.asarray(classes)[positions], np.asarray(member_classes)):
            unknown = sorted(set(np.asarray(member_classes).tolist()) - set(classes.tolist()))
            raise ValueError(
                f"a member predicts classes {unknown} that the committee does not know "
                f"(committee classes: {classes.tolist()}). Fit members on the same labels."
            )
    aligned = np.zeros((proba.shape[0], len(classes)), dtype=np.float64)
    aligned[:, positions] = proba
    return aligned


class Features(ModelAdapter):
    """The no-model adapter: numeric features serve as the embedding (cold start).

    Strategies that need only ``embed`` (core-set, k-means, TypiClust, …) run on it
    before any label exists; it has no probabilities.

    Examples
    --------
    >>> Features().embed([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """

    @property
    def capabilities(self) -> frozenset[str]:
        """Only ``embed``."""
        return frozenset({"embed"})

    def describe(self) -> str:
        """``"features (no model)"``."""
        return "features (no model)"

    def fit(self, X: Any, y: Any) -> Features:
        """Nothing to fit; returns self."""
        return self
