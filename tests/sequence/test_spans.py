"""Sub-sequence and token queries: the most uncertain spans under a budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.sequence as seq
from activelab.sequence import Ragged


@st.composite
def pools(draw):
    lengths = draw(st.lists(st.integers(0, 12), min_size=1, max_size=6))
    n = sum(lengths)
    utilities = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    labelled = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    low = draw(st.integers(1, 3))
    high = draw(st.integers(low, 5))
    budget = draw(st.integers(1, 30))
    return (
        Ragged.from_lengths(np.array(utilities, dtype=np.float64), lengths),
        Ragged.from_lengths(np.array(labelled, dtype=bool), lengths),
        low,
        high,
        budget,
    )


@settings(max_examples=100, deadline=None)
@given(pools())
def test_spans_are_disjoint_unlabelled_and_spend_the_budget(pool):
    utilities, labelled, low, high, budget = pool
    spans = seq.select_spans(utilities, budget, low, high, labelled, random_state=0)
    covered = np.zeros(utilities.values.shape[0], dtype=bool)
    spent = 0
    for s, a, b in spans:
        assert 0 <= a < b <= utilities.lengths[s]
        rows = slice(utilities.offsets[s] + a, utilities.offsets[s] + b)
        assert not covered[rows].any(), "spans overlap"
        assert not labelled.values[rows].any(), "a span covers a labelled token"
        covered[rows] = True
        spent += b - a
        assert b - a <= high
    free = ~labelled.values
    if spent < budget:  # stopped early only because nothing was left
        assert covered[free].all()
    else:  # the last span may overshoot, the others may not
        assert spent - (spans[-1][2] - spans[-1][1]) < budget


def test_best_window_first_and_mean_scoring():
    utilities = Ragged.from_list([[0.1, 0.9, 0.8, 0.1, 0.0], [0.7, 0.7, 0.7]])
    spans = seq.select_spans(utilities, 4, 2, 2, random_state=0)
    assert spans[0] == (0, 1, 3)  # mean 0.85
    assert spans[1] == (1, 0, 2) or spans[1] == (1, 1, 3)  # mean 0.7, tie broken at random


def test_single_tokens_and_query_costs():
    utilities = Ragged.from_list([[0.1, 0.9, 0.8], [0.5]])
    assert seq.select_spans(utilities, 2, random_state=0) == [(0, 1, 2), (0, 2, 3)]
    # Counting queries (1 per span), a budget of 3 buys three spans of any length.
    spans = seq.select_spans(utilities, 3, 1, 2, cost_per_query=1.0, cost_per_token=0.0)
    assert len(spans) == 3


def test_short_runs_stay_reachable():
    utilities = Ragged.from_list([[0.9], [0.1, 0.1, 0.1, 0.1]])
    spans = seq.select_spans(utilities, 1, 3, 4, random_state=0)
    assert spans == [(0, 0, 1)]


def test_ties_are_broken_at_random():
    utilities = Ragged.from_list([[0.5] * 20])
    picks = {seq.select_spans(utilities, 1, random_state=seed)[0] for seed in range(20)}
    assert len(picks) > 1


def test_bad_parameters():
    utilities = Ragged.from_list([[0.5, 0.5]])
    with pytest.raises(ValueError, match="min_length"):
        seq.select_spans(utilities, 1, 3, 2)
    with pytest.raises(ValueError, match="finite"):
        seq.select_spans(utilities.with_values(np.array([np.nan, 1.0])), 1)
    with pytest.raises(ValueError, match="costs"):
        seq.select_spans(utilities, 1, cost_per_query=0.0, cost_per_token=0.0)
