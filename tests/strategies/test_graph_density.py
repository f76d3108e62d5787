"""Graph density against a plain reference of Google's / ALiPy's rule, and ALiPy's picks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from activelab.strategies import GraphDensity
from activelab.strategies._graph_density import graph_density


def reference(points, n_labeled, k, n_neighbors=10, metric="cityblock", damp_labeled=False):
    """The rule written out on a dense matrix; the labeled items are the last rows."""
    n_all = len(points)
    distances = cdist(points, points, metric=metric)
    gamma = 1.0 / points.shape[1]
    weights = np.zeros((n_all, n_all))
    for i in range(n_all):
        order = [j for j in np.argsort(distances[i], kind="stable") if j != i][:n_neighbors]
        for j in order:
            d = distances[i, j] if metric == "cityblock" else distances[i, j] ** 2
            weights[i, j] = weights[j, i] = np.exp(-gamma * d)
    density = np.array([w[w > 0].sum() / max((w > 0).sum(), 1) for w in weights])
    n = n_all - n_labeled
    if damp_labeled:
        for item in range(n, n_all):
            density[weights[item] > 0] -= density[item]
    density[n:] = -np.inf
    picks = []
    for _ in range(k):
        chosen = int(np.argmax(density))
        picks.append(chosen)
        density[weights[chosen] > 0] -= density[chosen]
        density[chosen] = -np.inf
    return picks


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4, size=(4, 3))
    return np.vstack([c + rng.normal(size=(30, 3)) for c in centres])


@pytest.mark.parametrize("damp_labeled", [False, True])
@pytest.mark.parametrize("metric", ["manhattan", "euclidean"])
def test_matches_the_reference(blobs, metric, damp_labeled):
    pool, labeled = blobs[:100], blobs[100:]
    strategy = GraphDensity(metric=metric, damp_labeled=damp_labeled)
    picks = strategy.query(None, pool, 10, labeled, None, random_state=0)
    name = "cityblock" if metric == "manhattan" else "euclidean"
    assert picks.tolist() == reference(blobs, 20, 10, metric=name, damp_labeled=damp_labeled)


def test_density_is_the_mean_edge_weight(blobs):
    density, graph = graph_density(blobs, n_neighbors=5, gamma=0.5)
    assert (graph != graph.T).nnz == 0
    dense = graph.toarray()
    np.testing.assert_allclose(density, dense.sum(axis=1) / (dense > 0).sum(axis=1))
    assert ((dense > 0).sum(axis=1) >= 5).all()


def test_a_pick_damps_its_neighbours_out_of_the_next_pick(blobs):
    picks = GraphDensity().query(None, blobs, 2, random_state=0)
    density, graph = graph_density(blobs)
    assert picks[0] == np.argmax(density)
    assert graph[picks[0], picks[1]] == 0  # the neighbours lost the first pick's density


def test_bad_parameters_are_clear_errors(blobs):
    with pytest.raises(ValueError, match="metric"):
        GraphDensity(metric="cosine").query(None, blobs, 2)
    with pytest.raises(ValueError, match="n_neighbors"):
        GraphDensity(n_neighbors=0).query(None, blobs, 2)
    with pytest.raises(ValueError, match="gamma"):
        GraphDensity(gamma=-1.0).query(None, blobs, 2)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 25), m=st.integers(0, 5), seed=st.integers(0, 10_000))
def test_property_same_as_reference(n, m, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n + m, 2))
    k = int(rng.integers(1, n + 1))
    labeled = points[n:] if m else None
    picks = GraphDensity(n_neighbors=3).query(None, points[:n], k, labeled, None, seed)
    assert len(set(picks.tolist())) == k and picks.max() < n
    assert picks.tolist() == reference(points, m, k, n_neighbors=3, damp_labeled=True)


def test_same_picks_as_alipy(blobs, monkeypatch):
    alipy = pytest.importorskip("alipy.query_strategy")
    import collections
    import collections.abc

    # ALiPy 1.2.5 checks collections.Iterable, gone since Python 3.10.
    monkeypatch.setattr(collections, "Iterable", collections.abc.Iterable, raising=False)
    everything = np.arange(len(blobs))
    labeled_index = everything[100:]
    qs = alipy.QueryInstanceGraphDensity(blobs, np.zeros(len(blobs)), train_idx=everything)
    expected = qs.select(labeled_index, everything[:100], batch_size=12)
    ours = GraphDensity(damp_labeled=False).query(None, blobs[:100], 12, blobs[100:], None, 0)
    assert set(ours.tolist()) == {int(i) for i in expected}
