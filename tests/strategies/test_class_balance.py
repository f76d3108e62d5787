"""Class balancing: the batch shared out over predicted classes, rarest first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.strategies import ClassBalance
from activelab.strategies._class_balance import balanced_allocation


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=600,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        weights=[0.8, 0.15, 0.05],
        random_state=0,
    )
    labeled = np.r_[
        np.flatnonzero(y == 0)[:20], np.flatnonzero(y == 1)[:4], np.flatnonzero(y == 2)[:2]
    ]
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    model = LogisticRegression(max_iter=1000).fit(X[labeled], y[labeled])
    return model, X[labeled], y[labeled], X[pool]


def test_rare_classes_get_the_slots_and_the_best_margins_within(imbalanced):
    model, X_lab, y_lab, pool = imbalanced
    picks = ClassBalance("margin").query(model, pool, 12, X_lab, y_lab, random_state=0)
    predicted = model.predict(pool)
    counts = np.bincount(y_lab, minlength=3) + np.bincount(predicted[picks], minlength=3)
    available = np.bincount(predicted, minlength=3)
    given = np.bincount(predicted[picks], minlength=3)
    # water-filling: a class that got slots ends at most one above any class with room left
    assert given[0] == 0 and given[2] > 0
    assert counts[given > 0].max() <= counts[available > given].min() + 1
    margins = al.scores.margin(model.predict_proba(pool))
    for c in range(3):
        mine = picks[predicted[picks] == c]
        members = np.flatnonzero(predicted == c)
        best = np.sort(margins[members])[::-1][: len(mine)]
        np.testing.assert_allclose(np.sort(margins[mine])[::-1], best)


def test_a_non_score_base_is_queried_per_class(imbalanced):
    model, X_lab, y_lab, pool = imbalanced
    picks = ClassBalance("coreset").query(model, pool, 6, X_lab, y_lab, random_state=0)
    assert len(set(picks.tolist())) == 6
    predicted = model.predict(pool)[picks]
    assert np.bincount(predicted, minlength=3)[0] == 0  # class 0 has 20 labels already


def reference_allocation(labeled_counts, available, k):
    counts, left, slots = list(labeled_counts), list(available), []
    for _ in range(k):
        options = [c for c in range(len(counts)) if left[c] > 0]
        fewest = min(counts[c] for c in options)
        slots.append([c for c in options if counts[c] == fewest])
        chosen = slots[-1][0]
        counts[chosen] += 1
        left[chosen] -= 1
    return slots


@settings(max_examples=60, deadline=None)
@given(
    labeled=st.lists(st.integers(0, 20), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
)
def test_property_allocation_is_water_filling(labeled, seed):
    rng = np.random.default_rng(seed)
    available = rng.integers(0, 6, size=len(labeled))
    if available.sum() == 0:
        available[0] = 1
    k = int(rng.integers(1, available.sum() + 1))
    slots = balanced_allocation(labeled, available, k, rng)
    given = np.bincount(slots, minlength=len(labeled))
    assert (given <= available).all() and given.sum() == k
    counts = np.asarray(labeled) + given
    # no slot could move from a fuller class to an emptier class that still had room
    room = given < available
    for c in range(len(labeled)):
        if given[c] > 0 and room.any():
            assert counts[c] - 1 <= counts[room].min()
    # when there are no ties, the sequence is the plain rule's
    options = reference_allocation(labeled, available, k)
    if all(len(o) == 1 for o in options):
        assert slots.tolist() == [o[0] for o in options]


def test_string_labels_and_no_labels(imbalanced):
    model, X_lab, y_lab, pool = imbalanced
    names = np.array(["a", "b", "c"])
    named = LogisticRegression(max_iter=1000).fit(X_lab, names[y_lab])
    picks = ClassBalance().query(named, pool, 6, X_lab, names[y_lab], random_state=0)
    assert len(set(picks.tolist())) == 6
    assert ClassBalance().query(model, pool, 3, random_state=0).shape == (3,)
    with pytest.raises(ValueError, match="slots"):
        balanced_allocation([0, 0], [1, 0], 2, np.random.default_rng(0))
