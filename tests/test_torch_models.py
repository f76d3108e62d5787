"""TorchClassifier: training, MC dropout, ensembles, embeddings, gradients, calibration, errors.

Every reference here is written independently of the adapter: numpy closed forms, plain
autograd loops over rows and labels, eval-mode forwards by hand. Nothing needs a GPU.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from typing import ClassVar

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_blobs  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import activelab as al  # noqa: E402
from activelab.models import SklearnAdapter  # noqa: E402
from activelab.models._torch import TorchClassifier, TrainingBatch  # noqa: E402
from activelab.models._torch_util import (  # noqa: E402
    DropoutSampler,
    capture,
    resolve_device,
    stratified_holdout,
)
from activelab.strategies._egl import (  # noqa: E402
    ExpectedGradientLength,
    expected_gradient_length,
    expected_length,
)

SETTINGS = settings(max_examples=25, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks on a shared machine: one intra-op thread is fastest and steadiest."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def mlp(n_features, n_classes):
    """A small MLP with dropout before the output layer (module level: it pickles)."""
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 16),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(16, n_classes),
    )


def plain_mlp(n_features, n_classes):
    """No dropout: no MC samples."""
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 8), torch.nn.ReLU(), torch.nn.Linear(8, n_classes)
    )


def cnn(channels, n_classes):
    """A tiny CNN for 8×8 images, with channel dropout and dropout."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 4, 3),
        torch.nn.ReLU(),
        torch.nn.Dropout2d(0.2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 12),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(12, n_classes),
    )


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=90, centers=3, n_features=4, cluster_std=2.0, random_state=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y = blobs
    return TorchClassifier(mlp, epochs=20, random_state=0).fit(X[:60], y[:60])


@pytest.fixture(scope="module")
def linear(blobs):
    """Softmax regression: one nn.Linear."""
    X, y = blobs
    return TorchClassifier(torch.nn.Linear, epochs=20, lr=0.05, random_state=0).fit(X, y)


def softmax(z):
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ fit and predict


def test_predict_proba_is_deterministic_eval_mode(fitted, blobs):
    X, _ = blobs
    first, again = fitted.predict_proba(X), fitted.predict_proba(X)
    assert first.dtype == np.float32 and first.shape == (90, 3)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-6)
    network = fitted.networks_[0]
    assert not network.training
    with torch.no_grad():
        by_hand = torch.softmax(network(torch.from_numpy(X)), dim=1).numpy()
    np.testing.assert_allclose(first, by_hand, rtol=1e-5, atol=1e-6)
    assert fitted.predict(X).tolist() == fitted.classes_[first.argmax(axis=1)].tolist()


def test_mc_dropout_samples_differ_across_passes_and_repeat_across_calls(fitted, blobs):
    X, _ = blobs
    samples = fitted.sample_proba(X)
    assert samples.shape == (20, 90, 3) and samples.dtype == np.float32
    np.testing.assert_allclose(samples.sum(axis=2), 1.0, atol=1e-5)
    assert np.abs(samples[0] - samples[1]).max() > 1e-3  # dropout is on in the sampling pass
    np.testing.assert_array_equal(samples, fitted.sample_proba(X))  # masks seeded at fit
    # ... and only there: the network is back in eval mode, no hook is left behind
    assert not any(m.training for m in fitted.networks_[0].modules())
    assert all(not m._forward_hooks for m in fitted.networks_[0].modules())
    np.testing.assert_array_equal(fitted.predict_proba(X), fitted.predict_proba(X))


def test_consistent_dropout_shares_masks_across_rows(blobs):
    X, y = blobs
    twins = np.repeat(X[:1], 3, axis=0)
    consistent = TorchClassifier(mlp, epochs=3, random_state=0).fit(X, y)
    samples = consistent.sample_proba(twins)
    np.testing.assert_array_equal(samples[:, 0], samples[:, 1])
    independent = clone(consistent).set_params(consistent_dropout=False).fit(X, y)
    samples = independent.sample_proba(twins)
    assert np.abs(samples[:, 0] - samples[:, 1]).max() > 1e-4


def test_shared_prefix_equals_repeating_the_input(fitted, blobs, monkeypatch):
    X, _ = blobs
    fast = fitted.sample_proba(X)
    monkeypatch.setattr(TorchClassifier, "_prefix_is_shared", lambda self, rows: False)
    np.testing.assert_allclose(fitted.sample_proba(X), fast, rtol=1e-5, atol=1e-6)


def test_layers_before_the_first_dropout_run_once_per_row(fitted, blobs):
    X, _ = blobs
    first = fitted.networks_[0][0]
    rows_seen = []
    handle = first.register_forward_hook(lambda m, i, o: rows_seen.append(i[0].shape[0]))
    try:
        fitted.sample_proba(X)
    finally:
        handle.remove()
    # the two-row check (repeated: 2 rows x 2 samples; expanded: 2 rows), then the pool once
    assert rows_seen[:2] == [4, 2] and sum(rows_seen[2:]) == 90


def test_a_network_that_mixes_rows_falls_back_to_repeating(blobs):
    class Residual(torch.nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.inner = torch.nn.Linear(n_features, n_features)
            self.drop = torch.nn.Dropout(0.5)
            self.out = torch.nn.Linear(n_features, n_classes)

        def forward(self, x):
            return self.out(x + self.drop(self.inner(x)))  # x has b rows, the dropout S·b

    X, y = blobs
    model = TorchClassifier(Residual, epochs=2, random_state=0).fit(X, y)
    from activelab.models._torch_util import Rows

    assert not model._prefix_is_shared(Rows(X, "test"))
    assert model.sample_proba(X).shape == (20, 90, 3)


def test_dropout_masks_scale_and_channels():
    generator = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Dropout(0.5)).eval()
    with torch.no_grad(), DropoutSampler(net, 400, True, generator) as sampler:
        out = sampler.forward(torch.ones(2, 50))
    assert set(np.unique(out.numpy()).tolist()) <= {0.0, 2.0}
    assert abs(float(out.mean()) - 1.0) < 0.05  # inverted dropout keeps the expectation
    np.testing.assert_array_equal(out[:, 0].numpy(), out[:, 1].numpy())  # consistent
    channel = torch.nn.Sequential(torch.nn.Dropout2d(0.5)).eval()
    with torch.no_grad(), DropoutSampler(channel, 8, False, generator) as sampler:
        out = sampler.forward(torch.ones(3, 4, 5, 5)).numpy()
    per_channel = out.reshape(8, 3, 4, 25)
    assert (per_channel == per_channel[..., :1]).all()  # one draw per channel


def test_other_threads_see_no_masks_while_one_samples(fitted, blobs):
    X, _ = blobs
    network = fitted.networks_[0]
    seen = {}
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad(), DropoutSampler(network, 5, True, generator) as sampler:
        sampler.expand = True
        sampled = sampler.forward(torch.from_numpy(X[:4]))
        worker = threading.Thread(target=lambda: seen.update(p=fitted.predict_proba(X)))
        worker.start()
        worker.join()
    assert sampled.shape == (5, 4, 3)
    np.testing.assert_array_equal(seen["p"], fitted.predict_proba(X))


def test_seed_gives_identical_results_and_another_seed_does_not(blobs):
    X, y = blobs
    first = TorchClassifier(mlp, epochs=5, random_state=7).fit(X, y)
    again = TorchClassifier(mlp, epochs=5, random_state=7).fit(X, y)
    other = TorchClassifier(mlp, epochs=5, random_state=8).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    np.testing.assert_array_equal(first.sample_proba(X), again.sample_proba(X))
    assert np.abs(first.predict_proba(X) - other.predict_proba(X)).max() > 1e-4
    state = torch.random.get_rng_state()
    TorchClassifier(mlp, epochs=1, random_state=7).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator untouched


def test_string_labels(blobs):
    X, y = blobs
    names = np.array(["cat", "dog", "emu"])[y]
    model = TorchClassifier(mlp, epochs=30, lr=0.01, random_state=0).fit(X, names)
    assert model.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(model.predict(X).tolist()) <= {"cat", "dog", "emu"}
    assert (model.predict(X) == names).mean() > 0.8


def test_images_as_arrays_and_tensors():
    digits = load_digits(n_class=3)
    X = (digits.images[:90, None] / 16.0).astype(np.float32)  # (n, 1, 8, 8)
    y = digits.target[:90]
    model = TorchClassifier(cnn, epochs=15, lr=0.01, random_state=0).fit(X, y)
    from_tensor = TorchClassifier(cnn, epochs=15, lr=0.01, random_state=0).fit(
        torch.from_numpy(X), y
    )
    assert model.input_shape_ == (1, 8, 8)
    np.testing.assert_allclose(
        model.predict_proba(X), from_tensor.predict_proba(torch.from_numpy(X)), atol=1e-6
    )
    assert (model.predict(X) == y).mean() > 0.8
    assert model.sample_proba(X).shape == (20, 90, 3)
    assert model.embed(X).shape == (90, 12)
    assert model.grad_embed(X).shape == (90, 3 * 13)
    assert model.gradient_lengths(X[:5]).shape == (5, 3)


def test_early_stopping_keeps_training_short_on_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    y = rng.integers(0, 2, 120)  # labels unrelated to X: the held-out loss soon rises
    model = TorchClassifier(
        mlp, epochs=300, lr=0.05, patience=3, validation_fraction=0.25, random_state=0
    ).fit(X, y)
    assert model.validation_size_ == sum(int(0.25 * c) for c in np.bincount(y))
    assert model.epochs_[0] < 300
    no_holdout = TorchClassifier(mlp, epochs=4, validation_fraction=0.0, random_state=0)
    assert no_holdout.fit(X, y).epochs_ == [4]


def test_stratified_holdout_keeps_every_class_in_training():
    targets = np.array([0] * 25 + [1] * 9 + [2] * 3)
    train, held = stratified_holdout(targets, 0.2, np.random.default_rng(0))
    assert np.bincount(targets[held], minlength=3).tolist() == [5, 1, 0]
    assert set(targets[train]) == {0, 1, 2}
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(37))


def test_warm_start_fine_tunes_the_same_network(blobs):
    X, y = blobs
    model = TorchClassifier(mlp, epochs=3, warm_start=True, random_state=0).fit(X[:45], y[:45])
    network = model.networks_[0]
    before = [p.detach().clone() for p in network.parameters()]
    model.fit(X, y)
    assert model.networks_[0] is network
    moved = max(
        float((p.detach() - q).abs().max())
        for p, q in zip(network.parameters(), before, strict=True)
    )
    assert 0 < moved < 0.1  # a few small steps from the old weights
    fresh = TorchClassifier(mlp, epochs=3, random_state=0).fit(X[:45], y[:45])
    old = fresh.networks_[0]
    assert fresh.fit(X, y).networks_[0] is not old
    three_classes = model.classes_
    model.fit(X[y < 2], y[y < 2])  # the classes changed: a new network
    assert model.networks_[0] is not network and three_classes.shape[0] == 3


def test_sample_weight_of_ones_is_the_unweighted_fit(blobs):
    X, y = blobs
    plain = TorchClassifier(mlp, epochs=4, batch_size=30, random_state=0).fit(X, y)
    weighted = TorchClassifier(mlp, epochs=4, batch_size=30, random_state=0)
    weighted.fit(X, y, sample_weight=np.ones(90))
    np.testing.assert_allclose(plain.predict_proba(X), weighted.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="sample_weight"):
        weighted.fit(X, y, sample_weight=-np.ones(90))


def test_device_auto_is_cuda_only_when_available(fitted):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert fitted.device_.type == expected
    with pytest.raises(ValueError, match="device"):
        resolve_device("abacus")


def test_clone_and_pickle(fitted, blobs):
    X, _ = blobs
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "networks_")
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(restored.sample_proba(X), fitted.sample_proba(X))


# ------------------------------------------------------------------ ensembles


def test_ensemble_members_are_independent(blobs):
    X, y = blobs
    model = TorchClassifier(plain_mlp, ensemble=3, epochs=10, random_state=0).fit(X, y)
    assert len(model.networks_) == 3 and "sample_proba" in model.capabilities
    first_layers = [net[0].weight.detach() for net in model.networks_]
    assert not torch.allclose(first_layers[0], first_layers[1])
    assert not torch.allclose(first_layers[1], first_layers[2])
    samples = model.sample_proba(X)
    assert samples.shape == (3, 90, 3)
    assert np.abs(samples[0] - samples[1]).max() > 1e-3
    np.testing.assert_allclose(model.predict_proba(X), samples.mean(axis=0), atol=1e-6)
    with torch.no_grad():
        member = torch.softmax(model.networks_[2](torch.from_numpy(X)), dim=1).numpy()
    np.testing.assert_allclose(samples[2], member, atol=1e-6)


def test_without_dropout_or_ensemble_there_are_no_samples(blobs):
    X, y = blobs
    model = TorchClassifier(plain_mlp, epochs=2, random_state=0).fit(X, y)
    assert "sample_proba" not in model.capabilities
    with pytest.raises(TypeError, match=r"sample_proba.*Dropout"):
        model.sample_proba(X)
    with pytest.raises(TypeError, match="sample_proba"):
        al.strategies.get("bald").query(model, X, 3)


# ------------------------------------------------------------------ calibration


def test_calibration_scales_logits_and_keeps_the_argmax(blobs):
    X, y = blobs
    params = {"epochs": 40, "lr": 0.05, "validation_fraction": 0.3, "random_state": 0}
    raw = TorchClassifier(mlp, **params).fit(X, y)
    calibrated = TorchClassifier(mlp, calibrate=True, **params).fit(X, y)
    assert calibrated.temperature_ != 1.0 and raw.temperature_ == 1.0
    with torch.no_grad():
        logits = calibrated.networks_[0](torch.from_numpy(X)).numpy()
    expected = softmax(logits / calibrated.temperature_)
    np.testing.assert_allclose(calibrated.predict_proba(X), expected, rtol=1e-4, atol=1e-6)
    assert calibrated.predict(X).tolist() == raw.predict(X).tolist()
    # T minimises the NLL of the held-out slice (the fit draws it first from its seed)
    _, held = stratified_holdout(y, 0.3, np.random.default_rng(0))
    assert held.size == calibrated.validation_size_ == sum(int(0.3 * c) for c in np.bincount(y))

    def held_out_nll(temperature):
        proba = softmax(logits[held] / temperature)
        return -np.log(proba[np.arange(held.size), y[held]]).mean()

    best = held_out_nll(calibrated.temperature_)
    assert best <= held_out_nll(calibrated.temperature_ * 1.05) + 1e-7
    assert best <= held_out_nll(calibrated.temperature_ / 1.05) + 1e-7
    assert best < held_out_nll(1.0)


def test_calibration_without_a_held_out_slice_keeps_temperature_one(blobs):
    X, y = blobs
    model = TorchClassifier(mlp, calibrate=True, epochs=2, validation_fraction=0.0)
    assert model.fit(X, y).temperature_ == 1.0


# ------------------------------------------------------------------ embeddings and BADGE


def test_embed_is_the_input_of_the_output_layer(fitted, blobs):
    X, _ = blobs
    network = fitted.networks_[0]
    with torch.no_grad():
        by_hand = network[1](network[0](torch.from_numpy(X))).numpy()  # Dropout: identity
    assert fitted.head_ == "3"
    np.testing.assert_allclose(fitted.embed(X), by_hand, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        fitted.head_proba(fitted.embed(X)), fitted.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    outputs = fitted.layer_outputs(X, ["1", "3"])
    np.testing.assert_allclose(outputs["1"], by_hand, rtol=1e-5, atol=1e-6)
    assert outputs["3"].shape == (90, 3)


def test_grad_embed_matches_the_closed_form_of_softmax_regression(linear, blobs):
    X, _ = blobs
    weight = linear.networks_[0].weight.detach().numpy().astype(np.float64)
    bias = linear.networks_[0].bias.detach().numpy().astype(np.float64)
    proba = softmax(X @ weight.T + bias)
    residual = proba.copy()
    residual[np.arange(90), proba.argmax(axis=1)] -= 1.0
    hidden = np.hstack([X, np.ones((90, 1))])
    expected = (residual[:, :, None] * hidden[:, None, :]).reshape(90, -1)
    embedding = linear.grad_embed(X)
    assert embedding.shape == (90, 3 * 5)
    np.testing.assert_allclose(embedding, expected, rtol=1e-4, atol=1e-5)
    norms = np.linalg.norm(residual, axis=1) * np.linalg.norm(hidden, axis=1)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), norms, rtol=1e-4, atol=1e-5)
    factors = linear.grad_embed(X, factored=True)
    np.testing.assert_allclose(factors[0], residual, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(factors[1], hidden, rtol=1e-6)


def test_grad_embed_is_the_autograd_gradient_at_the_predicted_label(fitted, blobs):
    X, _ = blobs
    network = fitted.networks_[0]
    embedding = fitted.grad_embed(X[:6])
    for row in range(6):
        network.zero_grad()
        logits = network(torch.from_numpy(X[row : row + 1]))
        label = logits.argmax(dim=1)
        torch.nn.functional.cross_entropy(logits, label).backward()
        head = network[3]
        gradient = torch.cat([head.weight.grad, head.bias.grad[:, None]], dim=1).flatten()
        np.testing.assert_allclose(embedding[row], gradient.numpy(), rtol=1e-4, atol=1e-6)
    network.zero_grad(set_to_none=True)


def test_grad_embed_layout_is_the_sklearn_adapters(linear, blobs):
    X, y = blobs
    twin = LogisticRegression().fit(X, y)  # then given the network's weights
    twin.coef_ = linear.networks_[0].weight.detach().numpy().astype(np.float64)
    twin.intercept_ = linear.networks_[0].bias.detach().numpy().astype(np.float64)
    ours = linear.grad_embed(X, factored=True)
    theirs = SklearnAdapter(twin).grad_embed(X, factored=True)
    for mine, sklearns in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, sklearns, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(
    arrays(np.float32, (7, 3), elements=st.floats(-5, 5, width=32)),
    st.integers(0, 2**16),
)
def test_grad_embed_norm_factorises(X, seed):
    torch.manual_seed(seed)
    layer = torch.nn.Linear(3, 4)
    model = TorchClassifier(torch.nn.Linear)
    model.networks_, model.classes_, model.input_shape_ = [layer.eval()], np.arange(4), (3,)
    model.device_, model.temperature_ = torch.device("cpu"), 1.0
    model._find_head(torch.zeros(2, 3))
    residual, hidden = model.grad_embed(X, factored=True)
    full = model.grad_embed(X)
    np.testing.assert_allclose(
        np.linalg.norm(full, axis=1),
        np.linalg.norm(residual, axis=1) * np.linalg.norm(hidden, axis=1),
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(residual.sum(axis=1), 0.0, atol=1e-5)  # p - e_y sums to 0
    assert (np.linalg.norm(residual, axis=1) <= np.sqrt(2) + 1e-5).all()


def test_a_layer_after_the_head_removes_embed_and_grad_embed(blobs):
    X, y = blobs

    def softmaxed(n_features, n_classes):
        return torch.nn.Sequential(torch.nn.Linear(n_features, n_classes), torch.nn.Tanh())

    model = TorchClassifier(softmaxed, epochs=1, random_state=0).fit(X, y)
    assert {"embed", "grad_embed"}.isdisjoint(model.capabilities)
    with pytest.raises(TypeError, match="badge needs 'grad_embed'"):
        al.strategies.get("badge").query(model, X, 3)
    named = TorchClassifier(softmaxed, head="0", epochs=1, random_state=0).fit(X, y)
    assert "embed" in named.capabilities and "grad_embed" not in named.capabilities
    np.testing.assert_allclose(named.embed(X), X)


# ------------------------------------------------------------------ EGL via torch.func


def autograd_lengths(model, X):
    """||∇θ CE(x, y)|| for every row and label, one backward pass at a time."""
    network = model.networks_[0]
    out = np.empty((X.shape[0], model.classes_.shape[0]))
    for row in range(X.shape[0]):
        for label in range(model.classes_.shape[0]):
            network.zero_grad()
            logits = network(torch.from_numpy(X[row : row + 1]))
            torch.nn.functional.cross_entropy(logits, torch.tensor([label])).backward()
            squared = sum(float(p.grad.pow(2).sum()) for p in network.parameters())
            out[row, label] = np.sqrt(squared)
    network.zero_grad(set_to_none=True)
    return out


def test_gradient_lengths_equal_an_autograd_loop(fitted, blobs):
    X, _ = blobs
    np.testing.assert_allclose(
        fitted.gradient_lengths(X[:8]), autograd_lengths(fitted, X[:8]), rtol=1e-4
    )


def test_gradient_lengths_in_chunks(fitted, blobs, monkeypatch):
    X, _ = blobs
    whole = fitted.gradient_lengths(X)
    monkeypatch.setattr("activelab.models._torch._GRADIENT_FLOATS", 1)  # one row per chunk
    np.testing.assert_allclose(fitted.gradient_lengths(X), whole, rtol=1e-6)


def test_egl_on_a_network_is_the_expected_autograd_length(fitted, blobs):
    X, _ = blobs
    utilities = ExpectedGradientLength().utilities(fitted, X[:8])
    expected = (fitted.predict_proba(X[:8]) * autograd_lengths(fitted, X[:8])).sum(axis=1)
    np.testing.assert_allclose(utilities, expected, rtol=1e-4)


def test_egl_on_softmax_regression_agrees_with_the_closed_form(linear, blobs):
    X, _ = blobs
    proba = linear.predict_proba(X).astype(np.float64)
    feature_norms = np.linalg.norm(np.hstack([X, np.ones((90, 1))]), axis=1)
    closed = expected_gradient_length(proba, proba, feature_norms)
    np.testing.assert_allclose(ExpectedGradientLength().utilities(linear, X), closed, rtol=1e-4)


@SETTINGS
@given(
    arrays(np.float64, (6, 3), elements=st.floats(0.01, 1.0)),
    arrays(np.float64, (6, 3), elements=st.floats(0.0, 10.0, allow_subnormal=False)),
)
def test_expected_length_is_an_average_of_the_lengths(weights, lengths):
    proba = weights / weights.sum(axis=1, keepdims=True)
    utilities = expected_length(proba, lengths)
    assert (utilities >= lengths.min(axis=1) - 1e-9).all()
    assert (utilities <= lengths.max(axis=1) + 1e-9).all()
    np.testing.assert_allclose(expected_length(proba, 2.0 * lengths), 2.0 * utilities, atol=1e-300)


def test_expected_length_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        expected_length(np.ones((2, 3)) / 3, np.ones((2, 2)))


# ------------------------------------------------------------------ auxiliary heads


class LossHead(torch.nn.Module):
    """Predicts each sample's loss from the hidden layer (a loss-prediction-like head)."""

    layers = ("1",)
    seen: ClassVar[list] = []

    def __init__(self):
        super().__init__()
        self.predict = torch.nn.Linear(16, 1)

    def forward(self, batch: TrainingBatch):
        LossHead.seen.append((batch.features["1"].shape, batch.losses.shape, batch.epoch))
        guess = self.predict(batch.features["1"]).squeeze(1)
        return torch.nn.functional.mse_loss(guess, batch.losses.detach())


def test_auxiliary_head_trains_jointly(blobs):
    X, y = blobs
    LossHead.seen.clear()
    model = TorchClassifier(
        mlp, auxiliary=LossHead, epochs=3, batch_size=30, validation_fraction=0.0, random_state=0
    ).fit(X, y)
    (head,) = model.auxiliaries_
    assert isinstance(head, LossHead)
    assert LossHead.seen[0] == ((30, 16), (30,), 0) and LossHead.seen[-1][2] == 2
    fresh = LossHead()
    assert not torch.allclose(head.predict.bias, fresh.predict.bias)  # it was trained
    hidden = torch.from_numpy(model.layer_outputs(X, ["1"])["1"])
    assert head.predict(hidden).shape == (90, 1)


def test_capture_removes_its_hooks():
    net = mlp(3, 2)
    with capture(net, ["0", "3"]) as outputs:
        net(torch.zeros(4, 3))
    assert outputs["0"].shape == (4, 16) and outputs["3"].shape == (4, 2)
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(KeyError, match="no submodule named 'fc'"), capture(net, ["fc"]):
        pass


# ------------------------------------------------------------------ the loop


def test_runs_in_the_active_learning_loop(blobs):
    X, y = blobs
    model = TorchClassifier(mlp, epochs=5, random_state=0)
    result = al.simulate(
        model, "batchbald", X, y, initial=9, batch_size=5, budget=19, random_state=0
    )
    assert [record.n_labeled for record in result.history][-1] == 19
    learner = al.ActiveLearner(model, strategy="badge", random_state=0).fit(X[:12], y[:12])
    assert learner.query(X[12:], k=4).shape == (4,)


# ------------------------------------------------------------------ errors


def test_factory_errors(blobs):
    X, y = blobs
    with pytest.raises(TypeError, match="not the network"):
        TorchClassifier(mlp(4, 3)).fit(X, y)
    with pytest.raises(TypeError, match=r"must return a torch\.nn\.Module"):
        TorchClassifier(lambda: "a network").fit(X, y)
    with pytest.raises(TypeError, match="requires \\(a, b, c\\)"):
        TorchClassifier(lambda a, b, c: mlp(a, b)).fit(X, y)
    with pytest.raises(ValueError, match="n_classes outputs"):
        TorchClassifier(lambda n_features, n_classes: mlp(n_features, 5)).fit(X, y)
    with pytest.raises(ValueError, match="fails on a batch of shape"):
        TorchClassifier(lambda: mlp(7, 3)).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        TorchClassifier(mlp, optimizer="lbfgs++").fit(X, y)
    with pytest.raises(ValueError, match="epochs"):
        TorchClassifier(mlp, epochs=0).fit(X, y)


def test_zero_argument_factory_and_optimizer_choices(blobs):
    X, y = blobs
    model = TorchClassifier(lambda: mlp(4, 3), optimizer="sgd", epochs=2, random_state=0)
    assert model.fit(X, y).predict_proba(X).shape == (90, 3)
    partial = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)  # noqa: E731
    assert TorchClassifier(mlp, optimizer=partial, epochs=2).fit(X, y).classes_.shape == (3,)
    assert TorchClassifier(mlp, optimizer=torch.optim.RMSprop, epochs=2).fit(X, y)


def test_input_errors(fitted, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match=r"rows of shape \(5,\).*fitted on rows of shape \(4,\)"):
        fitted.predict_proba(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="reshape"):
        fitted.predict_proba(np.zeros(4))
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="row 7 of X holds NaN"):
        fitted.predict_proba(bad)
    with pytest.raises(ValueError, match="row 7 of X holds NaN"):
        TorchClassifier(mlp).fit(bad, y)
    with pytest.raises(TypeError, match="numeric input"):
        TorchClassifier(mlp).fit(np.array([["a", "b"]] * 4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        TorchClassifier(mlp).fit(X, np.zeros(90))
    with pytest.raises(RuntimeError, match="not fitted"):
        TorchClassifier(mlp).predict_proba(X)


def test_import_activelab_without_torch_and_the_error_that_says_what_to_install():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('no torch here')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import activelab, activelab.models._torch as t\n"
        "try:\n    t.TorchClassifier(lambda: None)\n"
        "except ImportError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'activelab[torch]'" in done.stdout


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 64))
def test_epoch_batches_cover_every_row_once_without_a_tiny_last_step(n, batch_size):
    batches = TorchClassifier(mlp, batch_size=batch_size)._epoch_batches(
        n, torch.Generator().manual_seed(0)
    )
    rows = torch.cat(batches).tolist()
    assert sorted(rows) == list(range(n))
    if len(batches) > 1:
        assert all(2 * len(b) >= batch_size for b in batches)
        assert all(len(b) < 2 * batch_size for b in batches)


def test_min_updates_outlasts_epochs_and_early_stopping_on_few_labels(blobs):
    X, y = blobs
    few = np.r_[0:4, 30:34, 60:64]  # 12 rows: one gradient step per epoch
    X_few, y_few = X[np.argsort(y)][few], np.sort(y)[few]
    plain = TorchClassifier(mlp, epochs=3, validation_fraction=0.0, random_state=0)
    assert plain.fit(X_few, y_few).epochs_ == [3]
    longer = clone(plain).set_params(min_updates=10).fit(X_few, y_few)
    assert longer.epochs_ == [10]
    # With a held-out slice and patience 1, early stopping waits for the minimum too.
    patient = TorchClassifier(
        mlp, epochs=200, validation_fraction=0.34, patience=1, min_updates=25, random_state=0
    ).fit(X_few, y_few)
    assert patient.epochs_[0] >= 25
    with pytest.raises(ValueError, match="min_updates"):
        TorchClassifier(mlp, min_updates=-1).fit(X_few, y_few)
