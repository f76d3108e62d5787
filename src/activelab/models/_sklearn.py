"""The adapter for scikit-learn estimators and anything else with ``predict_proba``."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from activelab._validation import n_rows
from activelab.models._base import ModelAdapter, align_columns, numeric_features


def _final_step(estimator: Any) -> Any:
    """The last step of a Pipeline, or the estimator itself."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _features_before_final(estimator: Any, X: Any) -> Any:
    """X passed through a Pipeline's steps before the last (X itself otherwise)."""
    if getattr(estimator, "steps", None) and len(estimator.steps) > 1:
        return estimator[:-1].transform(X)
    return X


def _member_view(final: Any) -> tuple[list[Any], list[Any] | None, bool] | None:
    """The fitted members of a supported ensemble, their feature subsets, and encoding.

    Members of forests and bagging were fitted on arrays (no column names), and on class
    indices rather than labels (``encoded``). Returns None when ``final`` is not an
    ensemble whose members give probabilities.
    """
    from sklearn.ensemble import (
        BaggingClassifier,
        ExtraTreesClassifier,
        RandomForestClassifier,
        VotingClassifier,
    )

    if isinstance(final, RandomForestClassifier | ExtraTreesClassifier):
        return list(getattr(final, "estimators_", [])), None, True
    if isinstance(final, BaggingClassifier):
        return (
            list(getattr(final, "estimators_", [])),
            list(getattr(final, "estimators_features_", [])) or None,
            True,
        )
    if isinstance(final, VotingClassifier) and final.voting == "soft":
        return list(getattr(final, "estimators_", [])), None, True
    return None


def _has_softmax_head(final: Any) -> bool:
    """True for models whose probabilities are a softmax/sigmoid of a last linear layer."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.neural_network import MLPClassifier

    if isinstance(final, SGDClassifier):
        return final.loss in ("log_loss", "log")
    return isinstance(final, LogisticRegression | MLPClassifier)


def _has_linear_head(final: Any) -> bool:
    """True for logistic and softmax regressions, whose gradient lengths have a closed form."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    if isinstance(final, SGDClassifier):
        return final.loss in ("log_loss", "log")
    return isinstance(final, LogisticRegression)


def _last_hidden(final: Any, features: Any) -> np.ndarray:
    """The input of the last linear layer, with a column of ones for its bias."""
    from sklearn.neural_network import MLPClassifier

    hidden = numeric_features(features)
    if hasattr(hidden, "toarray"):
        hidden = hidden.toarray()
    if isinstance(final, MLPClassifier):
        activations = {
            "relu": lambda a: np.maximum(a, 0.0),
            "tanh": np.tanh,
            "logistic": lambda a: 1.0 / (1.0 + np.exp(-a)),
            "identity": lambda a: a,
        }[final.activation]
        for weights, bias in zip(final.coefs_[:-1], final.intercepts_[:-1], strict=True):
            hidden = activations(hidden @ weights + bias)
    return np.hstack([hidden, np.ones((hidden.shape[0], 1))]).astype(np.float32)


class SklearnAdapter(ModelAdapter):
    """Adapter around a scikit-learn classifier, a Pipeline, or any object with predict_proba.

    ``sample_proba`` comes from the members of a RandomForestClassifier,
    ExtraTreesClassifier, BaggingClassifier or soft VotingClassifier (also as the last step
    of a Pipeline), or from the wrapped object's own ``sample_proba``. ``embed`` gives a
    Pipeline's features before its last step, or X itself when it is numeric.

    Parameters
    ----------
    estimator : object
        Anything with ``predict_proba``; ``fit`` is needed only if the loop fits it.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> adapter = SklearnAdapter(RandomForestClassifier(n_estimators=5, random_state=0))
    >>> adapter.fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]).sample_proba([[1.5]]).shape
    (5, 1, 2)
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict_proba`` and ``embed`` always; ``sample_proba`` for ensembles."""
        found = {"predict_proba", "embed"}
        final = _final_step(self.estimator)
        if _member_view(final) is not None or callable(getattr(final, "sample_proba", None)):
            found.add("sample_proba")
        if _has_softmax_head(final):
            found.add("grad_embed")
        if _has_linear_head(final):
            found.update(("gradient_lengths", "logistic_head"))
        return frozenset(found)

    def describe(self) -> str:
        """The wrapped estimator's class name (a Pipeline's last step is named too)."""
        final = _final_step(self.estimator)
        if final is self.estimator:
            return type(self.estimator).__name__
        return f"Pipeline(… {type(final).__name__})"

    @property
    def classes_(self) -> np.ndarray:
        """Class labels in the column order of :meth:`predict_proba`."""
        classes = getattr(self.estimator, "classes_", None)
        if classes is None:
            classes = getattr(_final_step(self.estimator), "classes_", None)
        if classes is None:
            raise AttributeError(
                f"{self.describe()} has no classes_; fit it first, or give it a classes_ "
                "attribute listing the labels in predict_proba's column order."
            )
        return np.asarray(classes)

    def fit(self, X: Any, y: Any) -> SklearnAdapter:
        """Fit the wrapped estimator on ``(X, y)`` and return self.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts
        y : array-like of shape (n,)

        Returns
        -------
        SklearnAdapter
        """
        if not callable(getattr(self.estimator, "fit", None)):
            raise TypeError(
                f"{type(self.estimator).__name__} has no fit method; the loop needs to "
                "retrain the model. Pass an estimator with fit(X, y)."
            )
        self.estimator.fit(X, y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, C)``, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        return np.asarray(self.estimator.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The wrapped estimator's ``predict`` when it has one, else the argmax class."""
        if callable(getattr(self.estimator, "predict", None)):
            return np.asarray(self.estimator.predict(X))
        return super().predict(X)

    def sample_proba(self, X: Any) -> np.ndarray:
        """Probabilities of each ensemble member, ``(m, n, C)``, aligned on ``classes_``.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (m, n, C)
        """
        self.require("sample_proba", "sample_proba")
        final = _final_step(self.estimator)
        features = _features_before_final(self.estimator, X)
        view = _member_view(final)
        if view is None:
            return np.asarray(final.sample_proba(features))
        members, feature_subsets, encoded = view
        if not members:
            raise RuntimeError(f"{self.describe()} is not fitted; fit it before sampling.")
        if hasattr(features, "to_numpy") and not hasattr(final, "voting"):
            features = features.to_numpy()
        classes = np.asarray(final.classes_)
        stacked = np.empty((len(members), n_rows(features), len(classes)), dtype=np.float64)
        for position, member in enumerate(members):
            member_X = features
            if feature_subsets is not None:
                member_X = features[:, feature_subsets[position]]
            stacked[position] = align_columns(
                member.predict_proba(member_X), member.classes_, classes, encoded=encoded
            )
        return stacked

    def grad_embed(self, X: Any, factored: bool = False) -> Any:
        r"""BADGE gradient embeddings of the last linear layer at the predicted label.

        For a softmax (or logistic) output :math:`p = \mathrm{softmax}(W h)`, the gradient
        of the cross-entropy at the hallucinated label :math:`\hat y = \arg\max p` with
        respect to :math:`W` is the outer product :math:`(p - e_{\hat y}) \otimes h`,
        where :math:`h` is the last layer's input (with a 1 for the bias). For logistic
        regression :math:`h` is the features; for an MLP, the last hidden layer.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts
        factored : bool
            Return the factors ``(p - e_ŷ, h)`` instead of their ``(n, C·d)`` outer
            product; distances between gradient embeddings follow from the factors in
            O(C + d) per pair instead of O(C·d).

        Returns
        -------
        numpy.ndarray of shape (n, C·d), or a pair of arrays (n, C) and (n, d)

        References
        ----------
        Ash, Zhang, Krishnamurthy, Langford & Agarwal (2020), "Deep batch active learning
        by diverse, uncertain gradient lower bounds", ICLR.
        """
        self.require("grad_embed", "grad_embed")
        final = _final_step(self.estimator)
        proba = self.predict_proba(X).astype(np.float32)
        residual = proba.copy()
        residual[np.arange(proba.shape[0]), np.argmax(proba, axis=1)] -= 1.0
        hidden = _last_hidden(final, _features_before_final(self.estimator, X))
        if factored:
            return residual, hidden
        return (residual[:, :, None] * hidden[:, None, :]).reshape(proba.shape[0], -1)

    def gradient_lengths(self, X: Any) -> np.ndarray:
        """Norm of the log-loss gradient for every row and label, ``(n, C)``.

        Closed form for LogisticRegression and SGDClassifier(loss="log_loss"), alone or as
        a Pipeline's last step (:func:`activelab.strategies._egl.linear_gradient_lengths`).

        Parameters
        ----------
        X : array-like
            Rows in the model's input space.

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        self.require("gradient_lengths", "gradient_lengths")
        from activelab.strategies._egl import linear_gradient_lengths

        return linear_gradient_lengths(self, X)

    def embed(self, X: Any) -> Any:
        """A Pipeline's features before its last step, or numeric X as float64.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray or scipy.sparse matrix of shape (n, d)
        """
        return numeric_features(_features_before_final(self.estimator, X))

    def clone(self) -> SklearnAdapter:
        """An unfitted copy (scikit-learn ``clone``, or a deep copy for other objects)."""
        if hasattr(self.estimator, "get_params"):
            from sklearn.base import clone

            return SklearnAdapter(clone(self.estimator))
        return SklearnAdapter(copy.deepcopy(self.estimator))


def wrap(model: Any) -> ModelAdapter:
    """Return an activelab adapter for ``model``.

    An adapter is returned as is; anything else with ``predict_proba`` (a scikit-learn
    classifier, a Pipeline, or any object that duck-types it) is wrapped in a
    :class:`SklearnAdapter`; a regressor (scikit-learn's ``is_regressor``, a Pipeline
    ending in one, or an object whose ``_estimator_type`` is ``"regressor"``) in a
    :class:`~activelab.models._regression.RegressionAdapter`; a multi-label classifier
    (``MultiOutputClassifier``, ``ClassifierChain``, or a ``OneVsRestClassifier``, forest,
    k-nearest neighbours or MLP fitted on an indicator matrix, see
    :func:`~activelab.models._multilabel.is_multilabel_estimator`) in a
    :class:`~activelab.models._multilabel.MultiLabelAdapter`.

    Parameters
    ----------
    model : object
        A fitted or unfitted classifier with ``predict_proba``, a regressor, or an
        adapter.

    Returns
    -------
    ModelAdapter

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> sorted(wrap(LogisticRegression()).capabilities)
    ['embed', 'grad_embed', 'gradient_lengths', 'logistic_head', 'predict_proba']
    """
    if isinstance(model, ModelAdapter):
        return model
    from activelab.models._multilabel import MultiLabelAdapter, is_multilabel_estimator

    if is_multilabel_estimator(model):
        return MultiLabelAdapter(model)
    if not callable(getattr(model, "predict_proba", None)):
        from activelab.models._regression import RegressionAdapter, is_regressor

        if is_regressor(model):
            return RegressionAdapter(model)
        hint = ""
        if callable(getattr(model, "decision_function", None)):
            hint = (
                " It has decision_function: calibrate it with "
                "sklearn.calibration.CalibratedClassifierCV, or for SVC pass probability=True."
            )
        raise TypeError(
            f"{type(model).__name__} has no predict_proba; classification strategies need "
            f"class probabilities.{hint} For regression, pass a scikit-learn regressor (or a "
            "Pipeline ending in one): it is wrapped in al.models.RegressionAdapter."
        )
    return SklearnAdapter(model)
