"""HALC, cost per performance and AURO, and hierarchy propagation, against plain references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

import activelab as al
from activelab.strategies._multilabel_cost import (
    AURO,
    HALC,
    CostPerformance,
    check_label_tree,
    hierarchy_closure,
    propagate_hierarchy,
)

# 0 -> 1 -> 3, 0 -> 2, 4 alone
TREE = np.zeros((5, 5), dtype=int)
TREE[0, 1] = TREE[1, 3] = TREE[0, 2] = 1


def ancestors_reference(tree, j):
    found, stack = set(), [j]
    while stack:
        child = stack.pop()
        for parent in np.flatnonzero(tree[:, child]):
            if parent not in found:
                found.add(int(parent))
                stack.append(parent)
    return found


def descendants_reference(tree, j):
    return ancestors_reference(np.asarray(tree).T, j)


def propagate_reference(Y, tree):
    out = np.array(Y, dtype=float)
    out[out == -1] = np.nan
    original = out.copy()
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            if original[i, j] == 1:
                for a in ancestors_reference(tree, j):
                    out[i, a] = 1.0
            elif original[i, j] == 0:
                for d in descendants_reference(tree, j):
                    out[i, d] = 0.0
    return out


@pytest.fixture(scope="module")
def partial_problem():
    X, Y = make_multilabel_classification(n_samples=60, n_features=4, n_classes=5, random_state=1)
    rng = np.random.default_rng(0)
    partial = np.where(rng.random(Y.shape) < 0.5, Y.astype(float), np.nan)
    partial[:10] = Y[:10]
    model = al.models.MultiLabelAdapter(OneVsRestClassifier(LogisticRegression(max_iter=500)))
    model.fit(X, partial)
    return X, Y, partial, model


def halc_reference(model, X, partial, costs, tree, n_neighbors, epsilon=1e-6):
    f = np.asarray(model.decision_function(X), dtype=float)
    n, L = partial.shape
    U = np.zeros((n, L))
    for i in range(n):
        for j in range(L):
            if np.isnan(partial[i, j]):
                U[i, j] = 1.0 / max(abs(f[i, j]), epsilon)
    out = np.full((n, L), -np.inf)
    for i in range(n):
        distances = ((X - X[i]) ** 2).sum(axis=1)
        neighbours = np.argsort(distances, kind="stable")[:n_neighbors]
        for j in range(L):
            if not np.isnan(partial[i, j]):
                continue
            votes = 0.0
            for m in neighbours:
                if np.isnan(partial[m, j]):
                    votes += 1.0 if f[m, j] > 0 else -1.0
                else:
                    votes += 1.0 if partial[m, j] == 1 else -1.0
            up = sum(U[i, a] for a in ancestors_reference(tree, j)) if tree is not None else 0
            down = sum(U[i, d] for d in descendants_reference(tree, j)) if tree is not None else 0
            extra = up if votes > 0 else down if votes < 0 else 0.5 * (up + down)
            out[i, j] = (U[i, j] + extra) / costs[j]
    return out


# ---------------------------------------------------------------- hierarchy


def test_closure_matches_a_graph_walk():
    closure = hierarchy_closure(TREE.astype(bool))
    for j in range(5):
        assert set(np.flatnonzero(closure[:, j]).tolist()) == ancestors_reference(TREE, j)
        assert set(np.flatnonzero(closure[j]).tolist()) == descendants_reference(TREE, j)


def test_propagation_positive_up_negative_down():
    Y = np.full((3, 5), -1)
    Y[0, 3] = 1  # implies 1 and 0
    Y[1, 0] = 0  # implies 1, 2, 3 negative
    Y[2, 2] = 1
    Y[2, 1] = 0  # implies 3 negative; 0 positive from 2
    out = propagate_hierarchy(Y, TREE)
    assert out[0, [0, 1, 3]].tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(out[0, 2]) and np.isnan(out[0, 4])
    assert out[1, :4].tolist() == [0.0, 0.0, 0.0, 0.0] and np.isnan(out[1, 4])
    assert out[2, :4].tolist() == [1.0, 0.0, 1.0, 0.0]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 4), min_size=5, max_size=5),
    st.lists(st.lists(st.sampled_from([-1, 0, 1]), min_size=5, max_size=5), min_size=1, max_size=6),
)
def test_propagation_matches_reference_and_is_idempotent(parents, rows):
    # a random forest of labels: parent of j is a lower-numbered label (or none)
    tree = np.zeros((5, 5), dtype=int)
    for j, p in enumerate(parents):
        if p < j:
            tree[p, j] = 1
    Y = np.array(rows)
    expected = propagate_reference(Y, tree)
    positive = np.nan_to_num(expected, nan=0.5)
    consistent = True
    for i in range(Y.shape[0]):
        for j in range(5):
            if Y[i, j] == 1 and any(Y[i, a] == 0 for a in ancestors_reference(tree, j)):
                consistent = False
    if not consistent:
        with pytest.raises(ValueError, match="contradicts"):
            propagate_hierarchy(Y, tree)
        return
    out = propagate_hierarchy(Y, tree)
    np.testing.assert_array_equal(np.nan_to_num(out, nan=0.5), positive)
    np.testing.assert_array_equal(
        np.nan_to_num(propagate_hierarchy(out, tree), nan=0.5), np.nan_to_num(out, nan=0.5)
    )


def test_label_tree_errors_say_what_to_do():
    with pytest.raises(ValueError, match=r"\(L, L\)"):
        check_label_tree(np.zeros((3, 4)), 3)
    cyclic = np.array([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="cycle"):
        check_label_tree(cyclic, 2)
    with pytest.raises(ValueError, match="0/1"):
        check_label_tree(np.full((2, 2), 2), 2)


# ---------------------------------------------------------------- HALC


@pytest.mark.parametrize("tree", [None, TREE])
def test_halc_pair_utilities_match_reference(partial_problem, tree):
    X, _, partial, model = partial_problem
    costs = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    got = HALC(n_neighbors=4).pair_utilities(model, X, partial, costs=costs, label_tree=tree)
    expected = halc_reference(model, X, partial, costs, tree, 4)
    known = ~np.isnan(partial)
    assert np.isneginf(got[known]).all()
    np.testing.assert_allclose(got[~known], expected[~known], rtol=1e-10)


def test_halc_query_pairs_takes_the_best_ratios(partial_problem):
    X, _, partial, model = partial_problem
    strategy = HALC(costs=[1, 2, 1, 1, 4], label_tree=TREE)
    pairs = strategy.query_pairs(model, X, partial, 6, random_state=0)
    utilities = strategy.pair_utilities(model, X, partial)
    finite = np.sort(utilities[np.isfinite(utilities)])[::-1]
    np.testing.assert_allclose(utilities[pairs[:, 0], pairs[:, 1]], finite[:6])


def test_hierarchy_raises_the_worth_of_pairs_that_imply_others(partial_problem):
    X, _, partial, model = partial_problem
    flat = HALC().pair_utilities(model, X, partial)
    tree = HALC(label_tree=TREE).pair_utilities(model, X, partial)
    unknown = np.isfinite(flat)
    assert (tree[unknown] >= flat[unknown] - 1e-12).all()
    assert (tree[:, 4][unknown[:, 4]] == flat[:, 4][unknown[:, 4]]).all()  # label 4 is alone


def test_cost_performance_is_uncertainty_per_cost(partial_problem):
    X, _, partial, model = partial_problem
    costs = np.array([1.0, 2.0, 4.0, 1.0, 0.5])
    got = CostPerformance(costs=costs).pair_utilities(model, X, partial)
    f = model.decision_function(X)
    expected = np.where(np.isnan(partial), 1.0 / np.maximum(np.abs(f), 1e-6) / costs, -np.inf)
    np.testing.assert_allclose(got, expected)
    with_tree = CostPerformance().pair_utilities(model, X, partial, label_tree=TREE)
    np.testing.assert_allclose(with_tree, expected * costs)  # unit costs, tree ignored


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.1, 10.0), min_size=5, max_size=5), st.floats(0.1, 10.0))
def test_scaling_a_cost_scales_only_its_label(costs, factor):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 3))
    Y = (X @ rng.normal(size=(3, 5)) > 0).astype(float)
    Y[:, 0] = 1.0 - Y[:, 1] if Y[:, 0].all() else Y[:, 0]
    partial = np.where(rng.random(Y.shape) < 0.5, Y, np.nan)
    partial[:8] = Y[:8]
    base = OneVsRestClassifier(LogisticRegression(max_iter=300))
    model = al.models.MultiLabelAdapter(clone(base)).fit(X, partial)
    costs = np.array(costs)
    before = HALC(costs=costs, label_tree=TREE).pair_utilities(model, X, partial)
    scaled = costs.copy()
    scaled[2] *= factor
    after = HALC(costs=scaled, label_tree=TREE).pair_utilities(model, X, partial)
    unknown = np.isfinite(before)
    ratio = np.where(unknown, after / np.where(unknown, before, 1.0), 1.0)
    np.testing.assert_allclose(ratio[:, 2], np.where(unknown[:, 2], 1.0 / factor, 1.0))
    np.testing.assert_allclose(np.delete(ratio, 2, axis=1), 1.0)


def test_halc_bad_costs_and_neighbours_are_clear_errors(partial_problem):
    X, _, partial, model = partial_problem
    with pytest.raises(ValueError, match="positive finite"):
        HALC(costs=[1, 1, 0, 1, 1]).query_pairs(model, X, partial, 3)
    with pytest.raises(ValueError, match="one per label"):
        HALC(costs=[1, 1]).query_pairs(model, X, partial, 3)
    with pytest.raises(ValueError, match="n_neighbors"):
        HALC(n_neighbors=0, label_tree=TREE).query_pairs(model, X, partial, 3)
    with pytest.raises(ValueError, match="cycle"):
        HALC(label_tree=TREE + TREE.T).query_pairs(model, X, partial, 3)


def test_halc_whole_items_rank_by_their_best_pair(partial_problem):
    X, Y, _, _ = partial_problem
    X_lab, Y_lab, pool = X[:20], Y[:20], X[20:]
    model = OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(X_lab, Y_lab)
    picks = HALC(label_tree=TREE).query(model, pool, 5, X_lab, Y_lab, random_state=0)
    # the same as the pair utilities over labeled + pool with the labeled rows known
    adapter = al.models.MultiLabelAdapter(model)
    everything = np.vstack([X_lab, pool])
    partial = np.vstack([Y_lab, np.full((len(pool), 5), np.nan)])
    best = HALC(label_tree=TREE).pair_utilities(adapter, everything, partial)[20:].max(axis=1)
    np.testing.assert_allclose(best[picks], np.sort(best)[::-1][:5])


def test_answers_propagated_through_the_hierarchy_in_a_pair_loop(partial_problem):
    X, Y, partial, model = partial_problem
    truth = Y.copy()
    truth[:, 0] = np.maximum.reduce([truth[:, 0], truth[:, 1], truth[:, 2], truth[:, 3]])
    truth[:, 1] = np.maximum(truth[:, 1], truth[:, 3])  # make Y obey the hierarchy
    known = np.where(np.isnan(partial), np.nan, truth)
    pairs = HALC(label_tree=TREE).query_pairs(model, X, known, 10, random_state=0)
    known[pairs[:, 0], pairs[:, 1]] = truth[pairs[:, 0], pairs[:, 1]]
    filled = propagate_hierarchy(known, TREE)
    revealed = ~np.isnan(filled)
    assert (filled[revealed] == truth[revealed]).all()
    assert revealed.sum() >= (~np.isnan(known)).sum()


# ---------------------------------------------------------------- AURO


def auro_reference(f, partial):
    rows = []
    for i in range(f.shape[0]):
        open_ = np.flatnonzero(np.isnan(partial[i]))
        if open_.size < 2:
            continue
        first = open_[np.argmax(f[i, open_])]
        rest = [j for j in open_ if j != first]
        second = min(rest, key=lambda j: abs(f[i, j]))
        rows.append((-open_.size, abs(f[i, second]), i, first, second))
    rows.sort()
    return [(i, a, b) for _, _, i, a, b in rows]


def test_auro_orderings_match_reference(partial_problem):
    X, _, partial, model = partial_problem
    got = AURO().query_orderings(model, X, partial, 8, random_state=0)
    expected = auro_reference(model.decision_function(X), partial)[:8]
    assert got.shape == (8, 3) and got.dtype == np.int64
    assert [tuple(r) for r in got.tolist()] == [tuple(int(v) for v in r) for r in expected]
    assert np.isnan(partial[got[:, 0], got[:, 1]]).all()
    assert np.isnan(partial[got[:, 0], got[:, 2]]).all()
    assert (got[:, 1] != got[:, 2]).all()


def test_auro_needs_two_unknown_labels(partial_problem):
    X, _, partial, model = partial_problem
    eligible = int((np.isnan(partial).sum(axis=1) >= 2).sum())
    with pytest.raises(ValueError, match="larger than the pool"):
        AURO().query_orderings(model, X, partial, eligible + 1)
    with pytest.raises(ValueError, match="label columns"):
        AURO().query_orderings(model, X, partial[:, :3], 2)


def test_auro_whole_items_follow_the_threshold_label(partial_problem):
    X, Y, _, _ = partial_problem
    model = OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(X[:20], Y[:20])
    picks = AURO().query(model, X[20:], 4, X[:20], Y[:20], random_state=0)
    f = model.decision_function(X[20:])
    expected = auro_reference(f, np.full(f.shape, np.nan))[:4]
    assert picks.tolist() == [i for i, _, _ in expected]


def test_registered_and_described():
    for name in ("halc", "cost_performance", "auro"):
        assert name in al.strategies.available()
        assert al.strategies.describe(name)["reference"]
