"""Expected gradient length against gradients taken by finite differences, item by item."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from activelab.models import wrap
from activelab.strategies._egl import ExpectedGradientLength, expected_gradient_length, linear_head


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=120,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=3,
    )
    return X[:40], y[:40], X[40:]


# ------------------------------------------------------------------ plain references


def model_loss(model, X, label_index):
    """The log loss the model minimises, per row, for the label at ``label_index``.

    LogisticRegression: ``-log predict_proba[y]``. SGDClassifier: one binary
    cross-entropy per one-vs-rest weight vector (its multi-class training loss).
    """
    if isinstance(model, SGDClassifier):
        decision = np.atleast_2d(model.decision_function(X).T).T
        if decision.shape[1] == 1:
            target = np.full((X.shape[0], 1), float(label_index == 1))
        else:
            target = np.zeros_like(decision)
            target[:, label_index] = 1.0
        # -[t log σ(z) + (1 - t) log(1 - σ(z))] = log(1 + e^z) - t z
        return (np.logaddexp(0.0, decision) - target * decision).sum(axis=1)
    return -np.log(model.predict_proba(X)[:, label_index])


def finite_difference_egl(model, X, step=1e-6):
    """sum_y p(y|x) ||grad loss(x, y)||, the gradient by central differences in every weight.

    The weights are those the solver optimises: ``coef_`` and ``intercept_ / bias``
    (liblinear's bias feature is ``intercept_scaling``).
    """
    bias = float(model.intercept_scaling) if getattr(model, "solver", "") == "liblinear" else 1.0
    n_outputs, width = np.atleast_2d(model.coef_).shape
    n_classes = model.classes_.shape[0]
    gradients = np.zeros((X.shape[0], n_classes, n_outputs, width + model.fit_intercept))
    for a in range(n_outputs):
        for d in range(width + model.fit_intercept):
            losses = []
            for sign in (1.0, -1.0):
                moved = copy.deepcopy(model)
                coef = np.array(moved.coef_, dtype=float)
                intercept = np.array(moved.intercept_, dtype=float)
                if d < width:
                    coef[a, d] += sign * step
                else:
                    intercept[a] += sign * step * bias
                moved.coef_, moved.intercept_ = coef, intercept
                losses.append(np.stack([model_loss(moved, X, c) for c in range(n_classes)], 1))
            gradients[:, :, a, d] = (losses[0] - losses[1]) / (2 * step)
    norms = np.sqrt((gradients**2).sum(axis=(2, 3)))
    return (model.predict_proba(X) * norms).sum(axis=1)


def explicit_egl(proba, outputs, features):
    """The closed form item by item: the Frobenius norm of the outer product (s - e_y) ⊗ x̃."""
    out = np.empty(proba.shape[0])
    for i in range(proba.shape[0]):
        total = 0.0
        for y in range(proba.shape[1]):
            if outputs.shape[1] == 1:
                factor = outputs[i] - np.array([float(y == 1)])
            else:
                factor = outputs[i] - np.eye(outputs.shape[1])[y]
            total += proba[i, y] * np.linalg.norm(np.outer(factor, features[i]))
        out[i] = total
    return out


# ------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize(
    "estimator, n_classes",
    [
        (LogisticRegression(max_iter=1000), 3),
        (LogisticRegression(max_iter=1000), 2),
        (LogisticRegression(max_iter=1000, fit_intercept=False), 3),
        (LogisticRegression(solver="liblinear", intercept_scaling=3.0), 2),
        (SGDClassifier(loss="log_loss", alpha=0.01, random_state=0), 3),
        (SGDClassifier(loss="log_loss", alpha=0.01, random_state=0), 2),
    ],
    ids=["softmax", "binary", "no-intercept", "liblinear", "sgd-ovr", "sgd-binary"],
)
def test_matches_finite_difference_gradients(data, estimator, n_classes):
    X_lab, y_lab, pool = data
    keep = y_lab < n_classes
    model = estimator.fit(X_lab[keep], y_lab[keep])
    ours = ExpectedGradientLength().utilities(model, pool[:15])
    np.testing.assert_allclose(ours, finite_difference_egl(model, pool[:15]), rtol=1e-5)


def test_hand_computed_binary_example():
    # s = sigmoid(x), EGL = 2 s (1 - s) sqrt(x² + 1) for coef 1, intercept 0.
    model = LogisticRegression().fit([[-1.0], [1.0]], [0, 1])
    model.coef_, model.intercept_ = np.array([[1.0]]), np.array([0.0])
    pool = np.array([[0.0], [1.0], [3.0]])
    s = 1 / (1 + np.exp(-pool[:, 0]))
    expected = 2 * s * (1 - s) * np.sqrt(pool[:, 0] ** 2 + 1)
    np.testing.assert_allclose(ExpectedGradientLength().utilities(model, pool), expected)
    assert expected.round(3).tolist() == [0.5, 0.556, 0.286]
    assert ExpectedGradientLength().query(model, pool, 3, random_state=0).tolist() == [1, 0, 2]


def test_pipeline_transforms_the_pool_first(data):
    X_lab, y_lab, pool = data
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(X_lab * 10.0 + 5.0, y_lab)
    features = pipeline[0].transform(pool * 10.0 + 5.0)
    final = pipeline[-1]
    proba = final.predict_proba(features)
    augmented = np.hstack([features, np.ones((len(features), 1))])
    expected = explicit_egl(proba, proba, augmented)
    ours = ExpectedGradientLength().utilities(pipeline, pool * 10.0 + 5.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    np.testing.assert_allclose(ours, finite_difference_egl(final, features), rtol=1e-5)


def test_sparse_pool_gives_the_dense_answer(data):
    X_lab, y_lab, pool = data
    model = LogisticRegression(max_iter=1000).fit(sp.csr_matrix(X_lab), y_lab)
    dense = ExpectedGradientLength().utilities(model, pool)
    sparse = ExpectedGradientLength().utilities(model, sp.csr_matrix(pool))
    np.testing.assert_allclose(sparse, dense, rtol=1e-12)


def test_sparsified_coefficients(data):
    X_lab, y_lab, pool = data
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    dense = ExpectedGradientLength().utilities(model, pool)
    np.testing.assert_allclose(ExpectedGradientLength().utilities(model.sparsify(), pool), dense)


def test_query_takes_the_longest_expected_gradients(data):
    X_lab, y_lab, pool = data
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    utilities = ExpectedGradientLength().utilities(model, pool)
    picks = ExpectedGradientLength().query(model, pool, 5, random_state=0)
    assert picks.tolist() == np.argsort(-utilities)[:5].tolist()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator",
    [MLPClassifier(max_iter=50, random_state=0), RandomForestClassifier(n_estimators=3)],
)
def test_models_without_a_closed_form_are_a_type_error(data, estimator):
    X_lab, y_lab, pool = data
    model = estimator.fit(X_lab, y_lab)
    with pytest.raises(TypeError, match="LogisticRegression or SGDClassifier"):
        ExpectedGradientLength().query(model, pool, 2)


def test_no_probabilities_and_no_model_are_type_errors(data):
    X_lab, y_lab, pool = data
    with pytest.raises(TypeError, match="predict_proba"):
        ExpectedGradientLength().query(LinearSVC().fit(X_lab, y_lab), pool, 2)
    huber = SGDClassifier(loss="modified_huber", random_state=0).fit(X_lab, y_lab)
    with pytest.raises(TypeError, match=r"got SGDClassifier\. Use the exact method"):
        linear_head(wrap(huber), "eer", "Use the exact method.")


def test_features_of_the_wrong_width_are_a_clear_error(data):
    X_lab, y_lab, pool = data
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    with pytest.raises(ValueError, match="3 columns but LogisticRegression was fitted on 4"):
        ExpectedGradientLength().query(model, pool[:, :3], 2)


# ---------------------------------------------------------------------- properties


@st.composite
def softmax_problem(draw):
    n = draw(st.integers(1, 6))
    n_classes = draw(st.integers(2, 5))
    logits = draw(arrays(np.float64, (n, n_classes), elements=st.floats(-8, 8)))
    features = draw(arrays(np.float64, (n, 3), elements=st.floats(-5, 5)))
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    return proba / proba.sum(axis=1, keepdims=True), features


@settings(max_examples=60, deadline=None)
@given(softmax_problem())
def test_closed_form_equals_the_outer_product_norm(problem):
    proba, features = problem
    ours = expected_gradient_length(proba, proba, np.linalg.norm(features, axis=1))
    np.testing.assert_allclose(ours, explicit_egl(proba, proba, features), rtol=1e-9, atol=1e-12)
    assert (ours >= 0).all()


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, 5, elements=st.floats(0, 1)), arrays(np.float64, 5, elements=st.floats(0, 4))
)
def test_binary_closed_form(positive, norms):
    proba = np.stack([1 - positive, positive], axis=1)
    ours = expected_gradient_length(proba, positive[:, None], norms)
    np.testing.assert_allclose(ours, 2 * positive * (1 - positive) * norms, atol=1e-12)
