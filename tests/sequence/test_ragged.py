"""Ragged arrays: per-sentence reductions without Python loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.sequence import Ragged

blocks = st.lists(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=0, max_size=6), min_size=1, max_size=6
)


@settings(max_examples=100, deadline=None)
@given(blocks)
def test_reductions_equal_a_loop(data):
    ragged = Ragged.from_list([np.array(b, dtype=np.float64) for b in data], trailing=())
    assert ragged.lengths.tolist() == [len(b) for b in data]
    np.testing.assert_allclose(ragged.sum(), [sum(b) for b in data], atol=1e-12)
    np.testing.assert_allclose(ragged.max(), [max(b) if b else -np.inf for b in data])
    means = ragged.mean()
    for value, block in zip(means, data, strict=True):
        if block:
            assert value == pytest.approx(np.mean(block))
        else:
            assert np.isnan(value)
    assert [r.tolist() for r in ragged] == data
    order = list(range(len(data)))[::-1]
    assert [r.tolist() for r in ragged.take(order)] == [data[i] for i in order]


def test_ids_positions_and_trailing_axes():
    ragged = Ragged.from_list([np.ones((2, 3)), np.zeros((0, 3)), 2 * np.ones((1, 3))])
    assert ragged.sentence_ids().tolist() == [0, 0, 2]
    assert ragged.positions().tolist() == [0, 1, 0]
    assert ragged.sum().tolist() == [[2, 2, 2], [0, 0, 0], [2, 2, 2]]
    assert ragged[-1].tolist() == [[2, 2, 2]]
    assert "3 sentences" in repr(ragged)
    assert len(ragged.to_list()) == 3


def test_bad_offsets_are_clear_errors():
    with pytest.raises(ValueError, match="starts at 0"):
        Ragged(np.zeros(3), [1, 3])
    with pytest.raises(ValueError, match="non-decreasing"):
        Ragged(np.zeros(3), [0, 2, 1, 3])
    with pytest.raises(ValueError, match="must agree"):
        Ragged(np.zeros(3), [0, 2])
    with pytest.raises(IndexError):
        Ragged(np.zeros(3), [0, 3])[1]
