"""The GP surrogate, its numpy posterior and the Tanimoto kernel."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern

from activelab.bayesopt import GPPosterior, GPSurrogate, TanimotoKernel
from activelab.bayesopt._surrogate import as_surrogate, kernel_gradient


def numeric_gradient(function, A, h=1e-6):
    out = np.zeros((*np.shape(function(A)), A.shape[1]))
    for j in range(A.shape[1]):
        shift = np.zeros(A.shape[1])
        shift[j] = h
        out[..., j] = (function(A + shift) - function(A - shift)) / (2 * h)
    return out


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((25, 3))
    y = np.sin(4 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2]
    return X, y


def test_posterior_matches_scikit_learn_with_the_same_kernel(data):
    X, y = data
    kernel = ConstantKernel(1.3) * Matern(length_scale=[0.3, 0.5, 0.8], nu=2.5)
    noise = 1e-3
    reference = GaussianProcessRegressor(kernel, alpha=noise + 1e-9, optimizer=None).fit(X, y)
    posterior = GPPosterior(kernel, noise, X, y)
    A = np.random.default_rng(1).random((7, 3))
    mean, var, _ = posterior.predict(A)
    ref_mean, ref_std = reference.predict(A, return_std=True)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(np.sqrt(var), ref_std, rtol=1e-6, atol=1e-9)
    _, ref_cov = reference.predict(A, return_cov=True)
    _, _, V = posterior.predict(A)
    np.testing.assert_allclose(posterior.covariance(A, A, V, V), ref_cov, atol=1e-9)


@pytest.mark.parametrize(
    "kernel",
    [
        ConstantKernel(2.0) * Matern(length_scale=[0.3, 0.5, 0.8], nu=2.5),  # analytic path
        ConstantKernel(2.0) * RBF(length_scale=[0.3, 0.5, 0.8]),  # central differences
        ConstantKernel(1.0) * Matern(length_scale=0.4, nu=1.5),
    ],
)
def test_kernel_gradient_matches_finite_differences(kernel):
    rng = np.random.default_rng(2)
    A, B = rng.random((4, 3)), rng.random((6, 3))
    expected = numeric_gradient(lambda P: kernel(P, B), A)
    np.testing.assert_allclose(kernel_gradient(kernel, A, B), expected, atol=1e-6)


def test_mean_and_variance_gradients(data):
    X, y = data
    posterior = GPPosterior(ConstantKernel(1.0) * Matern([0.3, 0.4, 0.5], nu=2.5), 1e-4, X, y)
    A = np.random.default_rng(3).random((5, 3))
    parts = posterior.predict_with_gradient(A)
    mean_grad = numeric_gradient(lambda P: posterior.predict(P)[0], A)
    var_grad = numeric_gradient(lambda P: posterior.predict(P)[1], A)
    np.testing.assert_allclose(parts["dmean"], mean_grad, atol=1e-5)
    np.testing.assert_allclose(parts["dvar"], var_grad, atol=1e-5)


def test_surrogate_fits_and_is_sure_only_near_its_data(data):
    X, y = data
    model = GPSurrogate(random_state=0).fit(X, y)
    mean, std = model.predict(X)
    assert np.abs(mean - y).max() < 0.05 * np.ptp(y)
    _, far_std = model.predict(np.full((1, 3), 3.0))
    assert far_std[0] > 5 * std.max()
    assert model.kernel_.k2.length_scale.shape == (3,)  # one length scale per coordinate


def test_refit_starts_from_the_previous_optimum(data):
    X, y = data
    model = GPSurrogate(random_state=0).fit(X[:15], y[:15])
    first = model._fitted_full_kernel
    model.fit(X, y)
    assert model._fitted_full_kernel is not first


def test_large_data_fits_hyperparameters_on_a_subset_but_conditions_on_everything():
    rng = np.random.default_rng(4)
    X = rng.random((60, 2))
    y = X.sum(axis=1)
    model = GPSurrogate(max_fit_points=20, random_state=0).fit(X, y)
    assert model.posterior_.X.shape == (60, 2)


def tanimoto_reference(a, b):
    both = float(np.sum(a * b))
    either = float(np.sum(a * a) + np.sum(b * b)) - both
    return 1.0 if either == 0 else both / either


def test_tanimoto_kernel_values_and_positive_definiteness():
    rng = np.random.default_rng(5)
    X = (rng.random((30, 40)) < 0.2).astype(float)
    X[0] = 0.0
    K = TanimotoKernel()(X)
    for i in range(0, 30, 7):
        for j in range(0, 30, 5):
            assert K[i, j] == pytest.approx(tanimoto_reference(X[i], X[j]))
    np.testing.assert_allclose(np.diag(K), 1.0)
    np.testing.assert_allclose(TanimotoKernel().diag(X), 1.0)
    assert np.linalg.eigvalsh(K).min() > -1e-10
    K_xy = TanimotoKernel()(X[:3], X[3:8])
    np.testing.assert_allclose(K_xy, K[:3, 3:8])
    assert not TanimotoKernel().is_stationary()
    assert TanimotoKernel().hyperparameters == []


def test_auto_kernel_uses_tanimoto_for_fingerprints():
    rng = np.random.default_rng(6)
    X = (rng.random((30, 32)) < 0.3).astype(float)
    y = X[:, :4].sum(axis=1)
    model = GPSurrogate(random_state=0).fit(X, y)
    assert isinstance(model.kernel_.k2, TanimotoKernel)
    assert isinstance(
        GPSurrogate(random_state=0).fit(rng.random((10, 2)), rng.random(10)).kernel_.k2, Matern
    )


def test_botorch_backend_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "botorch", None)
    with pytest.raises(ImportError, match="pip install botorch"):
        as_surrogate("botorch", 0)
    with pytest.raises(ImportError, match="pip install botorch"):
        GPSurrogate(backend="botorch").fit(np.random.default_rng(0).random((5, 2)), np.arange(5.0))


def test_botorch_backend_fits_when_installed(data):
    pytest.importorskip("botorch")
    X, y = data
    model = GPSurrogate(backend="botorch", random_state=0).fit(X, y)
    mean, _ = model.predict(X)
    assert np.abs(mean - y).max() < 0.1 * np.ptp(y)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: GPSurrogate().fit(np.zeros((3, 2)), np.zeros(4)), ValueError, "shape"),
        (lambda: GPSurrogate().fit(np.full((3, 2), np.nan), np.zeros(3)), ValueError, "finite"),
        (lambda: GPSurrogate(kernel="rbf").fit(np.eye(3), np.arange(3.0)), ValueError, "kernel"),
        (lambda: GPSurrogate(backend="gpy").fit(np.eye(3), np.arange(3.0)), ValueError, "backend"),
        (lambda: GPSurrogate().predict(np.zeros((1, 2))), RuntimeError, "fit first"),
        (lambda: as_surrogate("gpytorch", 0), ValueError, "surrogate must be"),
    ],
)
def test_bad_input_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()
