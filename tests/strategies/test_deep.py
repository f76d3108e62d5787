"""VAAL and learning loss: behaviour on data built to test them, the ranking loss against
its formula, seeds, errors, and the conformance battery (imported, not copied)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

torch = pytest.importorskip("torch")

import activelab as al  # noqa: E402
from activelab.models._torch import TorchClassifier  # noqa: E402
from activelab.strategies._loss_prediction import (  # noqa: E402
    LossPrediction,
    LossPredictionHead,
    margin_ranking_loss,
)
from activelab.strategies._vaal import VAAL  # noqa: E402
from tests import test_conformance as conformance  # noqa: E402

data = conformance.data  # iris: 12 labeled rows, a pool of 46


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks on a shared machine: one intra-op thread is fastest and steadiest."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def mlp(n_features: int, n_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, n_classes),
    )


def loss_model(**params) -> TorchClassifier:
    """An MLP with a loss-prediction module on both hidden layers."""
    head = params.pop("head", LossPredictionHead(["1", "3"], hidden=8))
    defaults = {"epochs": 5, "lr": 0.02, "validation_fraction": 0.0, "random_state": 0}
    return TorchClassifier(mlp, auxiliary=head, **{**defaults, **params})


def shifted_clusters(n_features: int = 2, shift: float = 6.0, seed: int = 0):
    """A labeled cluster, a pool of the same cluster plus 10 shifted rows (the last)."""
    rng = np.random.default_rng(seed)
    labeled = rng.normal(0.0, 1.0, (30, n_features))
    pool = np.vstack(
        [rng.normal(0.0, 1.0, (30, n_features)), rng.normal(shift, 1.0, (10, n_features))]
    )
    return labeled, pool


# ------------------------------------------------------------------ VAAL


@pytest.mark.parametrize("seed", [0, 1])
def test_vaal_picks_the_shifted_cluster(seed):
    labeled, pool = shifted_clusters(seed=seed)
    strategy = VAAL()
    picks = strategy.query(None, pool, 10, labeled, random_state=seed)
    assert (picks >= 30).mean() >= 0.9
    utilities = strategy.utilities(pool, labeled, random_state=seed)
    assert utilities.shape == (40,) and utilities.dtype == np.float64
    assert ((utilities >= 0) & (utilities <= 1)).all()
    assert utilities[30:].mean() > utilities[:30].mean() + 0.05


def test_vaal_convolutional_vae_on_images():
    rng = np.random.default_rng(0)
    labeled = rng.normal(0.0, 1.0, (24, 1, 8, 8))
    shifted = rng.normal(0.0, 1.0, (8, 1, 8, 8))
    shifted[:, :, :4, :] += 4.0  # a bright top half: unlike anything labeled
    pool = np.vstack([rng.normal(0.0, 1.0, (24, 1, 8, 8)), shifted])
    picks = VAAL(architecture="auto").query(None, pool, 8, labeled, random_state=0)
    assert (picks >= 24).mean() >= 0.75


@pytest.mark.parametrize("shape", [(3, 7, 5), (1, 2, 2), (2, 28, 28)])
def test_vaal_convolutional_vae_takes_odd_sizes(shape):
    rng = np.random.default_rng(0)
    strategy = VAAL(hidden=4, latent_dim=4, min_steps=2, epochs=1, architecture="conv")
    picks = strategy.query(
        None, rng.normal(size=(6, *shape)), 3, rng.normal(size=(4, *shape)), random_state=0
    )
    conformance.assert_valid(picks, 3, 6)


def test_vaal_flattens_other_shapes_for_the_mlp():
    rng = np.random.default_rng(0)
    pool, labeled = rng.normal(size=(10, 3, 4)), rng.normal(size=(5, 3, 4))
    picks = VAAL(min_steps=3).query(None, pool, 4, labeled, random_state=0)
    conformance.assert_valid(picks, 4, 10)
    images, labeled_images = rng.normal(size=(10, 1, 4, 4)), rng.normal(size=(5, 1, 4, 4))
    strategy = VAAL(architecture="mlp", min_steps=3)
    conformance.assert_valid(strategy.query(None, images, 4, labeled_images, None, 0), 4, 10)


def test_vaal_seeds_give_identical_picks_and_leave_torch_alone():
    labeled, pool = shifted_clusters(n_features=5, shift=1.0)
    strategy = VAAL(min_steps=20)
    state = torch.random.get_rng_state()
    first = strategy.query(None, pool, 12, labeled, random_state=7)
    assert torch.equal(state, torch.random.get_rng_state())
    again = strategy.query(None, pool, 12, labeled, random_state=7)
    from_generator = strategy.query(None, pool, 12, labeled, None, np.random.default_rng(7))
    assert first.tolist() == again.tolist() == from_generator.tolist()
    other = strategy.utilities(pool, labeled, random_state=8)
    assert not np.allclose(strategy.utilities(pool, labeled, random_state=7), other)


def test_vaal_restores_torch_threads(data):
    X, _, pool = data
    torch.set_num_threads(2)
    try:
        VAAL(min_steps=2, epochs=0).query(None, pool, 3, X, random_state=0)
        assert torch.get_num_threads() == 2
        VAAL(min_steps=2, epochs=0, num_threads=2).query(None, pool, 3, X, random_state=0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_vaal_ignores_the_model_and_the_labels(data):
    X, y, pool = data
    strategy = VAAL(min_steps=10, epochs=1)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with_model = strategy.query(model, pool, 5, X, y, random_state=0)
    assert with_model.tolist() == strategy.query(None, pool, 5, X, None, 0).tolist()


def test_vaal_tensor_and_sparse_input(data):
    import scipy.sparse as sp

    X, _, pool = data
    strategy = VAAL(min_steps=10, epochs=1)
    expected = strategy.query(None, pool, 5, X, random_state=0).tolist()
    tensors = torch.as_tensor(pool), torch.as_tensor(X, dtype=torch.float32)
    assert strategy.query(None, tensors[0], 5, tensors[1], random_state=0).tolist() == expected
    sparse = sp.csr_matrix(pool), sp.csr_matrix(X)
    assert strategy.query(None, sparse[0], 5, sparse[1], random_state=0).tolist() == expected


def test_vaal_errors(data):
    X, _, pool = data
    strategy = VAAL(min_steps=1, epochs=0)
    with pytest.raises(ValueError, match="needs X_labeled; got None"):
        strategy.query(None, pool, 3)
    with pytest.raises(ValueError, match="empty labeled set"):
        strategy.query(None, pool, 3, X[:0])
    with pytest.raises(ValueError, match=r"rows of shape \(4,\) and X_labeled of shape \(3,\)"):
        strategy.query(None, pool, 3, X[:, :3])
    with pytest.raises(ValueError, match="larger than the pool"):
        strategy.query(None, pool[:2], 3, X)
    bad = pool.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="row 5 of X holds NaN"):
        strategy.query(None, bad, 3, X)
    with pytest.raises(TypeError, match="numeric input"):
        strategy.query(None, np.array([["a"], ["b"]]), 1, np.array([["c"]]))
    with pytest.raises(ValueError, match=r"architecture='conv' needs images"):
        VAAL(architecture="conv").query(None, pool, 3, X)
    with pytest.raises(ValueError, match="H and W at least 2"):
        VAAL(architecture="conv").query(None, np.ones((4, 1, 1, 3)), 2, np.ones((2, 1, 1, 3)))
    for params, message in [
        ({"architecture": "resnet"}, "architecture must be one of"),
        ({"latent_dim": 0}, "latent_dim must be an int of at least 1"),
        ({"beta": -1.0}, "beta must be"),
        ({"lr": 0.0}, "lr must be"),
        ({"batch_size": 1.5}, "batch_size must be an int"),
        ({"sampling": "best"}, "sampling must be one of"),
        ({"device": "tpu:x"}, "vaal: device must be"),
        ({"num_threads": 0}, "num_threads must be an int of at least 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            VAAL(**params).query(None, pool, 3, X, random_state=0)


# ------------------------------------------------------------------ the ranking loss


def ranking_loss_reference(predicted, target, margin):
    """The paper's eq. (2) pair by pair, pairs (i, i + B/2), a plain loop."""
    half = len(predicted) // 2
    terms = []
    for i in range(half):
        j = i + half
        sign = 1.0 if target[i] > target[j] else -1.0
        terms.append(max(0.0, -sign * (predicted[i] - predicted[j]) + margin))
    return float(np.mean(terms)) if terms else 0.0


def test_margin_ranking_loss_on_a_hand_built_example():
    # Pairs (0, 2) and (1, 3). Pair (0, 2): l0 = 1 < l2 = 3, so 1(l0, l2) = -1 and
    # max(0, (0.5 - 1.0) + 1) = 0.5. Pair (1, 3): a tie counts as -1, max(0, 2 + 1) = 3.
    loss = margin_ranking_loss(
        torch.tensor([0.5, 2.0, 1.0, 0.0]), torch.tensor([1.0, 0.5, 3.0, 0.5])
    )
    assert float(loss) == pytest.approx((0.5 + 3.0) / 2)
    # Ordered like the targets by at least the margin: no loss; a last odd row is left out.
    ordered = margin_ranking_loss(torch.tensor([3.0, 0.0, 1.5]), torch.tensor([2.0, 1.0, 9.0]))
    assert float(ordered) == 0.0
    assert float(margin_ranking_loss([0.0, 0.0], [2.0, 1.0], margin=0.25)) == 0.25


def test_margin_ranking_loss_gradient_reaches_predictions_only():
    predicted = torch.tensor([0.2, 0.1, 0.4, 0.9], requires_grad=True)
    target = torch.tensor([1.0, 2.0, 0.5, 0.1], requires_grad=True)
    margin_ranking_loss(predicted, target).backward()
    assert target.grad is None
    # d/dp of max(0, 1 - s (p_i - p_j)) / 2 per active pair: -s/2 for p_i, +s/2 for p_j.
    np.testing.assert_allclose(predicted.grad.numpy(), [-0.5, -0.5, 0.5, 0.5])


def test_margin_ranking_loss_of_fewer_than_two_rows_is_zero_and_attached():
    predicted = torch.tensor([0.3], requires_grad=True)
    loss = margin_ranking_loss(predicted, torch.tensor([1.0]))
    assert loss.item() == 0.0 and loss.requires_grad


def test_margin_ranking_loss_errors():
    with pytest.raises(ValueError, match="same shape"):
        margin_ranking_loss(torch.zeros(4), torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        margin_ranking_loss(torch.zeros((2, 2)), torch.zeros((2, 2)))
    with pytest.raises(ValueError, match="margin must be"):
        margin_ranking_loss(torch.zeros(2), torch.zeros(2), margin=-1.0)


finite = st.floats(-50, 50, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(finite, finite), min_size=0, max_size=12),
    st.floats(0.0, 3.0, allow_nan=False),
)
def test_margin_ranking_loss_matches_the_formula(rows, margin):
    predicted = np.array([p for p, _ in rows], dtype=np.float64)
    target = np.array([t for _, t in rows], dtype=np.float64)
    loss = float(margin_ranking_loss(torch.as_tensor(predicted), torch.as_tensor(target), margin))
    assert loss >= 0.0
    assert loss == pytest.approx(ranking_loss_reference(predicted, target, margin), abs=1e-9)
    # Only the order of the predictions within a pair matters: a shift changes nothing.
    shifted = margin_ranking_loss(torch.as_tensor(predicted + 7.0), torch.as_tensor(target), margin)
    assert float(shifted) == pytest.approx(loss, abs=1e-6)


# ------------------------------------------------------------------ loss prediction


@pytest.fixture(scope="module")
def simple_task():
    X, y = make_classification(
        n_samples=600,
        n_features=10,
        n_informative=6,
        n_classes=3,
        n_clusters_per_class=1,
        flip_y=0.05,
        random_state=0,
    )
    return X[:300], y[:300], X[300:], y[300:]


def test_predicted_losses_rank_like_the_true_losses_on_held_out_data(simple_task):
    X, y, X_test, y_test = simple_task
    head = LossPredictionHead(["1", "3"], hidden=16, detach_epoch=12)
    model = loss_model(head=head, epochs=20, lr=3e-3, batch_size=32).fit(X, y)
    predicted = LossPrediction().utilities(model, X_test)
    proba = model.predict_proba(X_test)
    columns = np.searchsorted(model.classes_, y_test)
    true = -np.log(np.clip(proba[np.arange(len(y_test)), columns], 1e-12, 1.0))
    assert spearmanr(predicted, true).statistic > 0.5
    # The queried items are far costlier than those predicted easiest (medians: a flipped
    # label, unpredictable from x, can cost 10 nats anywhere).
    picks = LossPrediction().query(model, X_test, 30, random_state=0)
    easiest = np.argsort(predicted)[:30]
    assert np.median(true[picks]) > 10 * np.median(true[easiest])


def test_the_module_stops_training_the_network_from_detach_epoch(simple_task):
    X, y, _, _ = simple_task
    plain = TorchClassifier(mlp, epochs=3, lr=0.02, validation_fraction=0.0, random_state=0)
    reference = plain.fit(X[:90], y[:90]).networks_[0].state_dict()

    def weights(detach_epoch):
        head = LossPredictionHead(["1", "3"], hidden=8, weight=5.0, detach_epoch=detach_epoch)
        fitted = loss_model(head=head, epochs=3).fit(X[:90], y[:90])
        return fitted.networks_[0].state_dict()

    detached, joint = weights(0), weights(None)
    for name, value in reference.items():
        torch.testing.assert_close(detached[name], value)
    assert not all(torch.allclose(joint[name], value) for name, value in reference.items())


def test_loss_prediction_on_convolutional_feature_maps():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(40, 1, 8, 8)).astype(np.float32)
    labels = (images[:, 0, :4].mean(axis=(1, 2)) > 0).astype(int)

    def cnn(n_channels, n_classes):
        return torch.nn.Sequential(
            torch.nn.Conv2d(n_channels, 4, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(4, 6, 3, padding=1, stride=2),
            torch.nn.ReLU(),
            torch.nn.Flatten(),
            torch.nn.Linear(6 * 4 * 4, n_classes),
        )

    for widths in (None, [4, 6]):
        head = LossPredictionHead(["1", "3"], hidden=4, widths=widths)
        model = TorchClassifier(cnn, auxiliary=head, epochs=2, random_state=0).fit(images, labels)
        branch = model.auxiliaries_[0].branches[1][0]
        assert branch.weight.shape == (4, 6)  # GAP over 4×4 maps of 6 channels
        utilities = LossPrediction().utilities(model, images)
        assert utilities.shape == (40,) and np.isfinite(utilities).all()


def test_a_deep_ensemble_averages_its_members(data):
    X, y, pool = data
    model = loss_model(ensemble=2).fit(X, y)
    per_member = []
    for network, module in zip(model.networks_, model.auxiliaries_, strict=True):
        with torch.no_grad():
            hidden = torch.as_tensor(pool, dtype=torch.float32)
            features = {"1": network[:2](hidden), "3": network[:4](hidden)}
            per_member.append(module.predict(features).double().numpy())
    np.testing.assert_allclose(
        LossPrediction().utilities(model, pool), np.mean(per_member, axis=0), rtol=1e-5
    )


def test_loss_prediction_seeds_give_identical_picks_and_the_model_pickles(data):
    X, y, pool = data
    first = loss_model().fit(X, y)
    second = pickle.loads(pickle.dumps(loss_model().fit(X, y)))
    strategy = LossPrediction()
    picks = strategy.query(first, pool, 10, X, y, random_state=3)
    assert picks.tolist() == strategy.query(second, pool, 10, X, y, random_state=3).tolist()
    np.testing.assert_array_equal(strategy.utilities(first, pool), strategy.utilities(second, pool))


def test_loss_prediction_needs_a_network_trained_with_the_module(data):
    X, y, pool = data
    strategy = LossPrediction()
    with pytest.raises(TypeError, match="model=None"):
        strategy.query(None, pool, 3, X, y, 0)
    for model in (
        LogisticRegression(max_iter=500).fit(X, y),
        LinearSVC().fit(X, y),
        TorchClassifier(mlp, epochs=1, random_state=0).fit(X, y),
    ):
        with pytest.raises(TypeError, match=r"'predict_loss'.*LossPredictionHead"):
            strategy.query(model, pool, 3, X, y, 0)
    with pytest.raises(TypeError, match="not fitted"):
        strategy.query(loss_model(), pool, 3, X, y, 0)
    with pytest.raises(ValueError, match=r"rows of shape \(3,\).*fitted on rows of shape \(4,\)"):
        strategy.query(loss_model().fit(X, y), pool[:, :3], 3)


def test_loss_prediction_head_errors(data):
    X, y, _ = data
    for params, error, message in [
        ({"layers": []}, ValueError, "non-empty list of submodule names"),
        ({"layers": "1"}, ValueError, "non-empty list of submodule names"),
        ({"layers": [1]}, ValueError, "submodule names"),
        ({"layers": ["1"], "hidden": 0}, ValueError, "hidden must be an int of at least 1"),
        ({"layers": ["1"], "margin": -1.0}, ValueError, "margin must be"),
        ({"layers": ["1"], "detach_epoch": -2}, ValueError, "detach_epoch must be"),
        ({"layers": ["1", "3"], "widths": [16]}, ValueError, "one channel count per layer"),
        ({"layers": ["fc"]}, KeyError, "no submodule named 'fc'"),
    ]:
        with pytest.raises(error, match=message):
            loss_model(head=LossPredictionHead(**params)).fit(X, y)


# ------------------------------------------------------------------ the loop


def test_both_run_in_the_active_learning_loop(simple_task):
    X, y, _, _ = simple_task
    X, y = X[:120], y[:120]
    model = loss_model(epochs=3)
    result = al.simulate(
        model, LossPrediction(), X, y, initial=12, batch_size=6, budget=24, random_state=0
    )
    assert [record.n_labeled for record in result.history][-1] == 24
    result = al.simulate(
        LogisticRegression(max_iter=300),
        VAAL(min_steps=10, epochs=1),
        X,
        y,
        initial=12,
        batch_size=6,
        budget=24,
        random_state=0,
    )
    assert [record.n_labeled for record in result.history][-1] == 24


# vaal and loss_prediction are registered: tests/test_conformance.py runs the conformance
# battery on them (loss_prediction on a TorchClassifier with its LossPredictionHead).
