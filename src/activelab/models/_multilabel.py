"""The adapter for multi-label classifiers: per-label probabilities ``(n, L)``.

A multi-label model is fitted on a binary indicator matrix ``Y`` of shape ``(n, L)``
(``Y[i, j] = 1`` when item ``i`` has label ``j``). scikit-learn gives its
probabilities in three shapes: one ``(n, L)`` array (``OneVsRestClassifier``,
``ClassifierChain``, ``MLPClassifier``), or a list of ``L`` arrays ``(n, 2)`` — or
``(n, 1)`` for a label seen with one value only — (``MultiOutputClassifier``, the
forests, trees and k-nearest neighbours fitted on a 2-D ``Y``). :class:`MultiLabelAdapter`
turns all of them into ``P(y_j = 1 | x)`` of shape ``(n, L)``.

It also trains on partial labels: entries of ``Y`` that are NaN or -1 are unknown (an
instance-label pair not queried yet). Each label is then fitted on the rows where it is
known, one binary model per label (the base estimator of the meta-estimator, or a copy
of a native multi-label estimator). A label with a single known value (never seen
positive, say) predicts that value; a label with no known value predicts 0.5.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from activelab._data import take_rows
from activelab.models._base import ModelAdapter, numeric_features

__all__ = [
    "MULTILABEL_PROVIDERS",
    "MultiLabelAdapter",
    "check_indicator",
    "is_multilabel_adapter",
    "is_multilabel_estimator",
]

#: What a capability is, and which multi-label model provides it, for TypeErrors.
MULTILABEL_PROVIDERS: dict[str, str] = {
    "predict_proba": (
        "a multi-label classifier with probabilities fitted on an indicator matrix Y "
        "(n, L): OneVsRestClassifier(LogisticRegression()), MultiOutputClassifier(...), "
        "ClassifierChain(...), or RandomForestClassifier / KNeighborsClassifier fitted on "
        "a 2-D Y, wrapped by al.models.MultiLabelAdapter (al.models.wrap does it for a "
        "fitted one)"
    ),
    "decision_function": (
        "a multi-label classifier whose base model has decision_function: "
        "OneVsRestClassifier(LinearSVC()) or OneVsRestClassifier(LogisticRegression()), "
        "ClassifierChain(LogisticRegression()), wrapped by al.models.MultiLabelAdapter"
    ),
    "embed": "numeric features, or a Pipeline whose steps before the last make them",
}

_UNKNOWN_CODE = -1
#: Probabilities of a constant label are clipped to this before their log-odds.
_CLIP = 1e-6


def check_indicator(
    Y: Any, n: int | None, who: str, *, allow_unknown: bool = False, name: str = "Y"
) -> np.ndarray:
    """A binary indicator matrix as float64 ``(n, L)``, unknown entries as NaN.

    Parameters
    ----------
    Y : array-like or sparse matrix of shape (n, L)
        0/1 (or boolean); with ``allow_unknown``, NaN or -1 mark unknown entries.
    n : int or None
        The expected number of rows (None: any).
    who : str
        The caller, for messages.
    allow_unknown : bool, default=False
        Accept NaN / -1 entries.
    name : str, default="Y"
        The argument's name, for messages.

    Returns
    -------
    numpy.ndarray of shape (n, L), float64
        0.0, 1.0 and (with ``allow_unknown``) NaN.

    Examples
    --------
    >>> check_indicator([[1, 0], [-1, 1]], 2, "demo", allow_unknown=True).tolist()
    [[1.0, 0.0], [nan, 1.0]]
    """
    import scipy.sparse as sp

    if sp.issparse(Y):
        Y = Y.toarray()
    if hasattr(Y, "to_numpy"):
        Y = Y.to_numpy()
    array = np.asarray(Y)
    if array.ndim != 2:
        raise ValueError(
            f"{who} needs {name} as a binary indicator matrix of shape (n, L), one column "
            f"per label; got shape {array.shape}. For one label per item use a "
            "classification strategy; to build the matrix from label sets use "
            "sklearn.preprocessing.MultiLabelBinarizer."
        )
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{who}: {name} has {array.shape[0]} rows for {n} items.")
    if array.shape[1] < 1:
        raise ValueError(f"{who}: {name} has no label columns; it needs at least one.")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(
            f"{who}: {name} must hold 0/1 numbers; got dtype {array.dtype}. Encode label "
            "sets with sklearn.preprocessing.MultiLabelBinarizer."
        )
    values = array.astype(np.float64)
    unknown = np.isnan(values) | (values == _UNKNOWN_CODE)
    bad = ~unknown & (values != 0.0) & (values != 1.0)
    if bad.any():
        row, column = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(
            f"{who}: {name}[{row}, {column}] is {array[row, column]!r}; an indicator "
            "matrix holds 0 and 1" + (" (NaN or -1 for unknown entries)." if allow_unknown else ".")
        )
    if unknown.any():
        if not allow_unknown:
            row, column = (int(v) for v in np.argwhere(unknown)[0])
            raise ValueError(
                f"{who}: {name}[{row}, {column}] is unknown (NaN or -1); every labeled "
                "row needs all its labels here. Partial labels go to query_pairs and "
                "MultiLabelAdapter.fit."
            )
        values[unknown] = np.nan
    return values


def _final_step(estimator: Any) -> Any:
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def is_multilabel_estimator(model: Any) -> bool:
    """True for an estimator that gives per-label probabilities of a 2-D indicator ``Y``.

    ``MultiOutputClassifier`` and ``ClassifierChain`` always; ``OneVsRestClassifier``,
    ``MLPClassifier``, forests, trees and k-nearest neighbours once fitted on a 2-D
    ``Y`` (unfitted, they are single-label classifiers until shown one). A Pipeline is
    judged by its last step.

    Parameters
    ----------
    model : object

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn.multioutput import MultiOutputClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> is_multilabel_estimator(MultiOutputClassifier(LogisticRegression()))
    True
    >>> is_multilabel_estimator(LogisticRegression())
    False
    """
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.multioutput import ClassifierChain, MultiOutputClassifier

    final = _final_step(model)
    if isinstance(final, MultiOutputClassifier | ClassifierChain):
        return True
    if isinstance(final, OneVsRestClassifier):
        binarizer = getattr(final, "label_binarizer_", None)
        return bool(binarizer is not None and binarizer.y_type_.startswith("multilabel"))
    if isinstance(getattr(final, "classes_", None), list):  # multi-output forests, kNN
        return True
    binarizer = getattr(final, "_label_binarizer", None)  # MLPClassifier
    return bool(binarizer is not None and str(binarizer.y_type_).startswith("multilabel"))


def is_multilabel_adapter(adapter: Any) -> bool:
    """True when ``adapter`` gives per-label probabilities ``(n, L)`` of a multi-label model.

    Parameters
    ----------
    adapter : ModelAdapter

    Returns
    -------
    bool
    """
    return bool(getattr(adapter, "multilabel", False))


def _base_estimator(estimator: Any) -> Any:
    """A binary estimator for one label: a meta-estimator's base, or the estimator."""
    from sklearn.base import clone
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.multioutput import ClassifierChain, MultiOutputClassifier

    final = _final_step(estimator)
    if isinstance(final, OneVsRestClassifier | MultiOutputClassifier | ClassifierChain):
        base = getattr(final, "estimator", None) or getattr(final, "base_estimator", None)
    else:
        base = final
    base = clone(base) if hasattr(base, "get_params") else copy.deepcopy(base)
    steps = getattr(estimator, "steps", None)
    if steps:
        pipeline = clone(estimator)
        pipeline.steps[-1] = (steps[-1][0], base)
        return pipeline
    return base


def _fitted_outputs(final: Any) -> int | None:
    """The number of labels a multi-label estimator fitted by itself predicts, or None."""
    from sklearn.multiclass import OneVsRestClassifier

    if isinstance(final, OneVsRestClassifier) and hasattr(final, "label_binarizer_"):
        return len(final.label_binarizer_.classes_)
    classes = getattr(final, "classes_", None)
    if isinstance(classes, list):
        return len(classes)
    estimators = getattr(final, "estimators_", None)
    if isinstance(estimators, list) and estimators:  # MultiOutputClassifier, ClassifierChain
        return len(estimators)
    outputs = getattr(final, "n_outputs_", None)
    if isinstance(outputs, int) and hasattr(final, "_label_binarizer"):
        return outputs
    return None


def _positive_column(proba: np.ndarray, classes: Any) -> np.ndarray:
    """``P(y = 1)`` from a binary model's ``(n, c)`` probabilities and its classes."""
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray(classes)
    if proba.ndim == 1:  # a look-alike giving P(y = 1) directly
        return proba
    hit = np.flatnonzero(classes == 1)
    if hit.size:
        return proba[:, int(hit[0])]
    return np.zeros(proba.shape[0])  # a label only ever seen negative


class MultiLabelAdapter(ModelAdapter):
    """Adapter around a multi-label classifier: ``predict_proba`` gives ``P(y_j = 1)``.

    Wraps ``OneVsRestClassifier``, ``MultiOutputClassifier``, ``ClassifierChain``,
    ``MLPClassifier`` and the native multi-output classifiers (forests, trees, k-nearest
    neighbours), alone or last in a Pipeline. ``fit`` takes an indicator matrix ``Y``
    ``(n, L)``; NaN or -1 entries are unknown and are masked out (each label is then
    learned from the rows where it is known, see the module notes). Labels absent from
    the training set (a column with one value) predict that value.

    Capabilities: ``predict_proba`` (``(n, L)``) when the model has probabilities,
    ``decision_function`` (``(n, L)``, positive means the label is predicted) when its
    base model has one, and ``embed``.

    Parameters
    ----------
    estimator : object
        A multi-label classifier (see above); fitted or not.

    Attributes
    ----------
    n_labels_ : int
        The number of label columns of the fitted ``Y``.
    constant_ : numpy.ndarray of shape (L,)
        The probability of each label that is constant in the training data, NaN for
        the labels a model was fitted for.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> Y = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]
    >>> adapter = MultiLabelAdapter(OneVsRestClassifier(LogisticRegression())).fit(X, Y)
    >>> adapter.predict_proba([[0.5]]).shape
    (1, 3)
    """

    multilabel = True

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    # ------------------------------------------------------------------ capabilities

    def _fitted_models(self) -> list[Any]:
        if hasattr(self, "per_label_"):
            return [m for m in self.per_label_ if m is not None] or [self.estimator]
        return [self.estimator]

    @property
    def capabilities(self) -> frozenset[str]:
        """``embed``; ``predict_proba`` and ``decision_function`` where the model has them."""
        found = {"embed"}
        models = self._fitted_models()
        if all(callable(getattr(m, "predict_proba", None)) for m in models):
            found.add("predict_proba")
        if all(callable(getattr(m, "decision_function", None)) for m in models):
            found.add("decision_function")
        return frozenset(found)

    def require(self, capability: str, who: str) -> None:
        """Raise a TypeError naming ``capability`` and its provider if this adapter lacks it.

        Parameters
        ----------
        capability : str
        who : str
            The caller, for the message.
        """
        if capability in self.capabilities:
            return
        raise TypeError(
            f"{who} needs {capability!r}, which {self.describe()} does not provide. It "
            f"comes from {MULTILABEL_PROVIDERS.get(capability, 'a model that has it')}."
        )

    def describe(self) -> str:
        """The wrapped estimator's class name, marked multi-label."""
        final = _final_step(self.estimator)
        name = type(final).__name__
        if final is not self.estimator:
            name = f"Pipeline(… {name})"
        return f"{name} (multi-label)"

    @property
    def classes_(self) -> np.ndarray:
        """Label column indices ``0 … L-1`` (the columns of :meth:`predict_proba`)."""
        if not hasattr(self, "n_labels_"):
            raise AttributeError(f"{self.describe()} is not fitted; fit it on Y (n, L) first.")
        return np.arange(self.n_labels_)

    # --------------------------------------------------------------------- training

    def fit(self, X: Any, Y: Any) -> MultiLabelAdapter:
        """Fit on features ``X`` and an indicator matrix ``Y`` (NaN / -1: unknown).

        Fully known columns that vary are fitted by the wrapped estimator at once; with
        unknown entries (or a single varying column) each varying label gets its own
        binary model, fitted on the rows where it is known.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame
        Y : array-like of shape (n, L)

        Returns
        -------
        MultiLabelAdapter
        """
        from sklearn.base import clone

        from activelab._validation import n_rows

        labels = check_indicator(Y, n_rows(X), "MultiLabelAdapter.fit", allow_unknown=True)
        self.n_labels_ = labels.shape[1]
        known = ~np.isnan(labels)
        constant = np.full(self.n_labels_, np.nan)
        for j in range(self.n_labels_):
            values = np.unique(labels[known[:, j], j])
            if values.size == 0:
                constant[j] = 0.5
            elif values.size == 1:
                constant[j] = values[0]
        varying = np.flatnonzero(np.isnan(constant))
        self.constant_ = constant
        self.varying_ = varying
        for attribute in ("per_label_", "joint_"):
            if hasattr(self, attribute):
                delattr(self, attribute)
        if varying.size == 0:
            return self
        if varying.size >= 2 and known[:, varying].all():
            if not callable(getattr(self.estimator, "fit", None)):
                raise TypeError(
                    f"{type(self.estimator).__name__} has no fit method; the loop needs "
                    "to retrain the model. Pass an estimator with fit(X, Y)."
                )
            self.estimator.fit(X, labels[:, varying].astype(np.int64))
            self.joint_ = True
            return self
        per_label: list[Any] = [None] * self.n_labels_
        template = _base_estimator(self.estimator)
        for j in varying:
            rows = np.flatnonzero(known[:, j])
            model = clone(template) if hasattr(template, "get_params") else copy.deepcopy(template)
            model.fit(take_rows(X, rows), labels[rows, j].astype(np.int64))
            per_label[j] = model
        self.per_label_ = per_label
        return self

    def _check_fitted(self) -> None:
        if hasattr(self, "n_labels_"):
            return
        n_labels = _fitted_outputs(_final_step(self.estimator))
        if n_labels is None:
            raise RuntimeError(
                f"{self.describe()} is not fitted; fit it on X and an indicator matrix Y."
            )
        # Fitted outside the adapter (wrapped by al.models.wrap): every label is modelled.
        self.n_labels_ = n_labels
        self.constant_ = np.full(n_labels, np.nan)
        self.varying_ = np.arange(n_labels)
        self.joint_ = True

    # ------------------------------------------------------------------- prediction

    def _joint_proba(self, X: Any) -> np.ndarray:
        raw = self.estimator.predict_proba(X)
        final = _final_step(self.estimator)
        if isinstance(raw, list):
            classes = getattr(final, "classes_", None)
            if not isinstance(classes, list):  # MultiOutputClassifier: per estimator
                classes = [m.classes_ for m in final.estimators_]
            return np.column_stack(
                [_positive_column(p, c) for p, c in zip(raw, classes, strict=True)]
            )
        return np.asarray(raw, dtype=np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``P(y_j = 1 | x)`` of every row and label, ``(n, L)`` float64.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n, L)
        """
        self.require("predict_proba", "predict_proba")
        self._check_fitted()
        from activelab._validation import n_rows

        out = np.empty((n_rows(X), self.n_labels_), dtype=np.float64)
        constant = ~np.isnan(self.constant_)
        out[:, constant] = self.constant_[constant]
        if getattr(self, "joint_", False):
            out[:, self.varying_] = self._joint_proba(X)
        elif hasattr(self, "per_label_"):
            for j in self.varying_:
                model = self.per_label_[j]
                out[:, j] = _positive_column(model.predict_proba(X), model.classes_)
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """Real-valued score of every row and label, ``(n, L)``: positive predicts the label.

        The base model's ``decision_function``; a constant label gets the log-odds of
        its constant probability, clipped (about ±13.8; 0 for a label never seen).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n, L)
        """
        self.require("decision_function", "decision_function")
        self._check_fitted()
        from activelab._validation import n_rows

        out = np.empty((n_rows(X), self.n_labels_), dtype=np.float64)
        constant = ~np.isnan(self.constant_)
        clipped = np.clip(self.constant_[constant], _CLIP, 1.0 - _CLIP)
        out[:, constant] = np.log(clipped / (1.0 - clipped))
        if getattr(self, "joint_", False):
            values = np.asarray(self.estimator.decision_function(X), dtype=np.float64)
            out[:, self.varying_] = values.reshape(out.shape[0], -1)
        elif hasattr(self, "per_label_"):
            for j in self.varying_:
                model = self.per_label_[j]
                values = np.asarray(model.decision_function(X), dtype=np.float64)
                sign = 1.0 if np.asarray(model.classes_)[-1] == 1 else -1.0
                out[:, j] = sign * values.reshape(-1)
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Predicted indicator matrix ``(n, L)`` of 0/1 ints (the model's own ``predict``).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n, L), int64
        """
        self._check_fitted()
        import scipy.sparse as sp

        from activelab._validation import n_rows

        out = np.empty((n_rows(X), self.n_labels_), dtype=np.int64)
        constant = ~np.isnan(self.constant_)
        out[:, constant] = (self.constant_[constant] > 0.5).astype(np.int64)
        if getattr(self, "joint_", False):
            predicted = self.estimator.predict(X)
            predicted = predicted.toarray() if sp.issparse(predicted) else np.asarray(predicted)
            out[:, self.varying_] = predicted.reshape(out.shape[0], -1)
        elif hasattr(self, "per_label_"):
            for j in self.varying_:
                out[:, j] = np.asarray(self.per_label_[j].predict(X)).reshape(-1)
        return out

    def embed(self, X: Any) -> Any:
        """A Pipeline's features before its last step, or numeric ``X`` itself.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray or scipy.sparse matrix of shape (n, d)
        """
        steps = getattr(self.estimator, "steps", None)
        if steps and len(steps) > 1:
            if hasattr(self, "per_label_") and not getattr(self, "joint_", False):
                model = next((m for m in self.per_label_ if m is not None), None)
                if model is not None:
                    return numeric_features(model[:-1].transform(X))
            return numeric_features(self.estimator[:-1].transform(X))
        return numeric_features(X)

    def clone(self) -> MultiLabelAdapter:
        """An unfitted copy (scikit-learn ``clone``, or a deep copy for other objects)."""
        if hasattr(self.estimator, "get_params"):
            from sklearn.base import clone

            return MultiLabelAdapter(clone(self.estimator))
        return MultiLabelAdapter(copy.deepcopy(self.estimator))
