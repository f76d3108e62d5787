"""Every registered strategy that a TorchClassifier can feed passes the conformance checks.

The checks and the data are those of ``tests/test_conformance.py`` (imported, not copied);
the model is a tiny MLP with dropout (MC dropout gives ``sample_proba``), fitted once per
label set. Strategies are picked by what they need, so a new one is covered by
registering. A deep ensemble runs the strategies that read posterior samples, and
networks that lack a capability must make the strategies that need it say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

import activelab as al  # noqa: E402
from activelab.models._torch import TorchClassifier  # noqa: E402
from tests import test_conformance as conformance  # noqa: E402
from tests.test_conformance import NAMES, assert_valid  # noqa: E402

#: The conformance checks' data set (iris: 12 labeled, a pool of 46), as a fixture here.
data = conformance.data

#: The conformance module's way to build a strategy by name (the registry, or its table of
#: strategies not registered yet).
make = getattr(conformance, "make", al.strategies.get)

#: Strategies the issue names: they must be among those that run on a network.
ON_NETWORKS = ("bald", "batchbald", "badge", "coreset", "egl", "mean_std", "variation_ratio")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks on a shared machine: one intra-op thread is fastest and steadiest."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_mlp(n_features: int, n_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 8),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.25),
        torch.nn.Linear(8, n_classes),
    )


def no_dropout(n_features: int, n_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(n_features, n_classes))


def network(**params) -> TorchClassifier:
    """The tiny MLP; few epochs, no held-out slice (the labeled sets are tiny)."""
    defaults = {"epochs": 5, "lr": 0.05, "mc_samples": 8, "random_state": 0}
    return TorchClassifier(tiny_mlp, **{**defaults, **params})


CAPABILITIES = network().capabilities  # what an unfitted one promises
assert "sample_proba" not in CAPABILITIES  # (it depends on the layers, known after fit)
CAPABILITIES = CAPABILITIES | {"sample_proba"}


def runs_on_networks(name: str) -> bool:
    strategy = make(name)
    task = getattr(strategy, "task", "classification")
    return task in ("classification", "any") and set(strategy.needs) <= CAPABILITIES


TORCH_NAMES = [name for name in NAMES if runs_on_networks(name)]


def test_the_issues_strategies_are_covered():
    assert set(ON_NETWORKS) <= set(TORCH_NAMES)


@pytest.fixture(scope="module")
def model(data):
    X, y, _ = data
    fitted = network().fit(X, y)
    assert "sample_proba" in fitted.capabilities and "grad_embed" in fitted.capabilities
    return fitted


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_returns_k_unique_indices_in_range(name, data, model):
    X, y, pool = data
    assert_valid(make(name).query(model, pool, 7, X, y, random_state=0), 7, len(pool))


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_k_equal_to_pool_size(name, data, model):
    X, y, pool = data
    picks = make(name).query(model, pool, len(pool), X, y, 0)
    assert_valid(picks, len(pool), len(pool))


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_pool_of_one(name, data, model):
    X, y, pool = data
    assert make(name).query(model, pool[:1], 1, X, y, 0).tolist() == [0]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_k_larger_than_pool_is_a_clear_error(name, data, model):
    X, y, pool = data
    with pytest.raises(ValueError, match="larger than the pool"):
        make(name).query(model, pool[:3], 4, X, y, 0)


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_same_random_state_same_answer(name, data, model):
    X, y, pool = data
    strategy = make(name)
    first = strategy.query(model, pool, 10, X, y, random_state=3)
    again = strategy.query(model, pool, 10, X, y, random_state=3)
    from_generator = strategy.query(model, pool, 10, X, y, np.random.default_rng(3))
    assert first.tolist() == again.tolist() == from_generator.tolist()


@pytest.fixture(scope="module")
def named(data):
    X, y, _ = data
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    return network().fit(X, names), names


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_string_labels(name, data, named):
    X, _, pool = data
    model, names = named
    assert_valid(make(name).query(model, pool, 5, X, names, 0), 5, len(pool))


@pytest.fixture(scope="module")
def framed(data):
    X, y, pool = data
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame, pool_frame = pd.DataFrame(X, columns=columns), pd.DataFrame(pool, columns=columns)
    return network().fit(frame, y), frame, pool_frame


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_dataframe_input(name, data, framed):
    _, y, pool = data
    model, frame, pool_frame = framed
    assert_valid(make(name).query(model, pool_frame, 5, frame, y, 0), 5, len(pool))


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_tensor_input(name, data, model):
    X, y, pool = data
    pool_tensor = torch.as_tensor(pool, dtype=torch.float32)
    labeled = torch.as_tensor(X, dtype=torch.float32)
    picks = make(name).query(model, pool_tensor, 5, labeled, y, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_pool_of_exact_duplicates(name, data, model):
    X, y, _ = data
    pool = np.repeat(X[:1], 20, axis=0)
    assert_valid(make(name).query(model, pool, 6, X, y, 0), 6, 20)


@pytest.mark.parametrize("name", [n for n in TORCH_NAMES if "sampling" in make(n).get_params()])
@pytest.mark.parametrize("sampling", ["softmax", "power", "softrank"])
def test_score_strategies_take_every_sampling_mode(name, sampling, data, model):
    X, y, pool = data
    strategy = make(name, sampling=sampling, temperature=0.5)
    assert_valid(strategy.query(model, pool, 5, X, y, 0), 5, len(pool))


SAMPLE_NAMES = [n for n in TORCH_NAMES if "sample_proba" in make(n).needs]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_a_deep_ensemble_feeds_the_sample_strategies(name, data):
    X, y, pool = data
    ensemble = TorchClassifier(no_dropout, ensemble=3, epochs=10, lr=0.05, random_state=0)
    ensemble.fit(X, y)
    assert_valid(make(name).query(ensemble, pool, 5, X, y, 0), 5, len(pool))


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_a_network_without_dropout_lacks_samples(name, data):
    X, y, pool = data
    lacking = TorchClassifier(no_dropout, epochs=2, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="sample_proba"):
        make(name).query(lacking, pool, 3, X, y, 0)
