"""Hierarchical sampling: the cluster tree's bounds and prunings against a plain reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.cluster.hierarchy import linkage

from activelab.strategies import HierarchicalSampling
from activelab.strategies._hierarchical import ClusterTree


class Reference:
    """Dasgupta & Hsu's update, one scalar at a time (plain Python, no vectorisation)."""

    def __init__(self, points, n_classes):
        n = len(points)
        merges = linkage(points, method="ward")
        self.parent, self.children, self.size = {}, {}, {i: 1 for i in range(n)}
        for i, (a, b) in enumerate(merges[:, :2].astype(int)):
            node = n + i
            self.children[node] = (a, b)
            self.parent[a] = self.parent[b] = node
            self.size[node] = self.size[a] + self.size[b]
        self.root = 2 * n - 2
        self.C = n_classes
        self.count = {v: [0] * n_classes for v in self.size}
        self.best = {v: -1 for v in self.size}
        self.cost = {v: float(self.size[v]) for v in self.size}
        self.split = {v: False for v in self.size}
        self.lower = {v: [0.0] * n_classes for v in self.size}
        self.pruning = {self.root}

    def refresh(self, v):
        size, count = self.size[v], self.count[v]
        total = sum(count)
        upper = []
        for c in range(self.C):
            frac = count[c] / total
            fc = 1 - total / size
            delta = fc / total + math.sqrt(fc * frac * (1 - frac) / total)
            self.lower[v][c] = max(count[c], (frac - delta) * size)
            upper.append(min(size - (total - count[c]), (frac + delta) * size))
        self.best[v], top = -1, 0
        for c in range(self.C):
            ok = all(self.lower[v][c] > 2 * upper[o] - size for o in range(self.C) if o != c)
            if ok and count[c] > top:
                self.best[v], top = c, count[c]
        basic = size - self.lower[v][self.best[v]] if self.best[v] >= 0 else size
        if v in self.children:
            a, b = self.children[v]
            self.split[v] = self.cost[a] + self.cost[b] < basic and self.best[v] >= 0
            self.cost[v] = self.cost[a] + self.cost[b] if self.split[v] else basic
        else:
            self.cost[v] = basic

    def observe(self, leaf, label):
        top = leaf
        while top not in self.pruning:
            top = self.parent[top]
        node = leaf
        while True:
            self.count[node][label] += 1
            self.refresh(node)
            if node == top:
                break
            node = self.parent[node]
        self.pruning.discard(top)
        stack = [top]
        while stack:
            node = stack.pop()
            if self.split[node]:
                stack.extend(self.children[node])
            else:
                self.pruning.add(node)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), classes=st.integers(1, 3), seed=st.integers(0, 999))
def test_property_bounds_and_pruning_match_the_reference(n, classes, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5, size=(classes, 2))
    truth = rng.integers(0, classes, size=n)
    points = centres[truth] + rng.normal(size=(n, 2))
    tree, reference = ClusterTree(points, classes), Reference(points, classes)
    for leaf in rng.permutation(n)[: int(rng.integers(1, n + 1))]:
        tree.observe(int(leaf), int(truth[leaf]))
        reference.observe(int(leaf), int(truth[leaf]))
        assert set(tree.pruning().tolist()) == reference.pruning
    for v in reference.pruning:
        assert tree.best[v] == reference.best[v]
        np.testing.assert_allclose(tree.lower[v], reference.lower[v])
        assert tree.cost[v] == pytest.approx(reference.cost[v])


def test_node_ranges_hold_exactly_their_leaves():
    points = np.random.default_rng(0).normal(size=(30, 3))
    tree = ClusterTree(points, 1)
    reference = Reference(points, 1)

    def leaves(v):
        if v not in reference.children:
            return {v}
        a, b = reference.children[v]
        return leaves(a) | leaves(b)

    for v in range(2 * 30 - 1):
        assert set(tree.order[tree.lo[v] : tree.hi[v]].tolist()) == leaves(v)


@pytest.fixture(scope="module")
def two_clusters():
    rng = np.random.default_rng(1)
    pure = rng.normal(size=(60, 2))
    mixed = rng.normal(size=(60, 2)) + np.array([20.0, 0.0])
    X = np.vstack([pure, mixed])
    y = np.r_[np.zeros(60, int), rng.integers(0, 2, 60)]
    return X, y


def test_labels_go_to_the_impure_cluster(two_clusters):
    X, y = two_clusters
    labeled = np.r_[np.arange(0, 60, 2), np.arange(60, 120, 2)]
    pool = np.setdiff1d(np.arange(120), labeled)
    strategy = HierarchicalSampling()
    in_mixed = [
        np.mean(pool[strategy.query(None, X[pool], 10, X[labeled], y[labeled], s)] >= 60)
        for s in range(10)
    ]
    assert np.mean(in_mixed) > 0.8  # the pure cluster is one pruning node of small bound
    random_rule = HierarchicalSampling(active=False)
    picks = random_rule.query(None, X[pool], 10, X[labeled], y[labeled], 0)
    assert len(set(picks.tolist())) == 10


def test_the_tree_is_kept_while_the_items_are_the_same(two_clusters):
    X, y = two_clusters
    strategy = HierarchicalSampling()
    strategy.query(None, X[10:], 5, X[:10], y[:10], random_state=0)
    tree = strategy.tree_[0]
    shuffled = np.random.default_rng(0).permutation(np.arange(15, 120))
    picks = strategy.query(None, X[shuffled], 5, X[:15], y[:15], random_state=0)
    assert strategy.tree_[0] is tree and picks.max() < len(shuffled)
    strategy.query(None, X[20:100], 5, X[:20], y[:20], random_state=0)
    assert strategy.tree_[0] is not tree


def test_clear_errors(two_clusters):
    X, _ = two_clusters
    with pytest.raises(ValueError, match="max_items"):
        HierarchicalSampling(max_items=50).query(None, X, 2)
    with pytest.raises(ValueError, match="y_labeled"):
        HierarchicalSampling().query(None, X[10:], 2, X[:10], None)
