"""Acquisition scores against plain numpy references, invariants and input validation.

Each score in :mod:`activelab.scores` is checked against the textbook formula written out
below with plain numpy (no kernels, no cleverness), on hypothesis-generated probability
arrays that include exact zeros, one-hot rows and uniform rows.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from activelab import scores

SETTINGS = settings(max_examples=30, deadline=None)

# ---------------------------------------------------------------------------------------
# Plain references: the textbook formulas.
# ---------------------------------------------------------------------------------------


def plogp(p: np.ndarray) -> np.ndarray:
    """Elementwise p log p with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros_like(p)
    positive = p > 0
    out[positive] = p[positive] * np.log(p[positive])
    return out


def ref_entropy(p: np.ndarray) -> np.ndarray:
    return -plogp(p).sum(axis=-1)


def ref_least_confidence(p: np.ndarray) -> np.ndarray:
    return 1.0 - np.asarray(p, dtype=np.float64).max(axis=1)


def ref_margin(p: np.ndarray) -> np.ndarray:
    ordered = np.sort(np.asarray(p, dtype=np.float64), axis=1)
    return 1.0 - (ordered[:, -1] - ordered[:, -2])


def ref_ratio(p: np.ndarray) -> np.ndarray:
    ordered = np.sort(np.asarray(p, dtype=np.float64), axis=1)
    return ordered[:, -2] / ordered[:, -1]


def vote_counts(samples: np.ndarray) -> np.ndarray:
    """(n, C) number of members whose argmax (lowest index on ties) is each class."""
    samples = np.asarray(samples, dtype=np.float64)
    n_classes = samples.shape[2]
    votes = samples.argmax(axis=2)  # (m, n)
    return np.stack([(votes == c).sum(axis=0) for c in range(n_classes)], axis=1)


def ref_vote_entropy(samples: np.ndarray) -> np.ndarray:
    counts = vote_counts(samples)
    return ref_entropy(counts / samples.shape[0])


def ref_variation_ratio(samples: np.ndarray) -> np.ndarray:
    counts = vote_counts(samples)
    return 1.0 - counts.max(axis=1) / samples.shape[0]


def ref_bald(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64)
    return ref_entropy(samples.mean(axis=0)) - ref_entropy(samples).mean(axis=0)


def ref_kl_consensus(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64)
    consensus = samples.mean(axis=0)
    total = np.zeros(samples.shape[1])
    for member in samples:
        terms = np.zeros_like(member)
        positive = member > 0
        terms[positive] = member[positive] * (
            np.log(member[positive]) - np.log(np.broadcast_to(consensus, member.shape)[positive])
        )
        total += terms.sum(axis=1)
    return total / samples.shape[0]


def ref_mean_std(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, dtype=np.float64).std(axis=0).mean(axis=1)


PROBA_SCORES = {
    "least_confidence": (scores.least_confidence, ref_least_confidence),
    "margin": (scores.margin, ref_margin),
    "ratio": (scores.ratio, ref_ratio),
    "entropy": (scores.entropy, ref_entropy),
}
SAMPLE_SCORES = {
    "vote_entropy": (scores.vote_entropy, ref_vote_entropy),
    "kl_consensus": (scores.kl_consensus, ref_kl_consensus),
    "bald": (scores.bald, ref_bald),
    "variation_ratio": (scores.variation_ratio, ref_variation_ratio),
    "mean_std": (scores.mean_std, ref_mean_std),
}
ALL_SCORES = {**PROBA_SCORES, **SAMPLE_SCORES}
VOTE_SCORES = ("vote_entropy", "variation_ratio")

# mean_std computes sqrt(E[p^2] - E[p]^2) in one pass: the cancellation costs about
# sqrt(machine epsilon) ~ 1e-8 absolute, so it is compared more loosely.
ATOL = {"mean_std": 1e-7}


def atol_for(name: str) -> float:
    return ATOL.get(name, 1e-12)


# ---------------------------------------------------------------------------------------
# Hypothesis strategies for probability arrays.
# ---------------------------------------------------------------------------------------

ENTRY = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1.0), st.just(0.5))


@st.composite
def prob_rows(draw, n: int, n_classes: int) -> np.ndarray:
    """(n, C) rows summing to one: random (with exact zeros), one-hot or uniform."""
    raw = draw(arrays(np.float64, (n, n_classes), elements=ENTRY))
    row_kind = st.sampled_from(["random", "random", "random", "one_hot", "uniform"])
    kinds = draw(st.lists(row_kind, min_size=n, max_size=n))
    hot = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    for i, kind in enumerate(kinds):
        if kind == "uniform":
            raw[i] = 1.0
        elif kind == "one_hot" or raw[i].sum() == 0:
            raw[i] = 0.0
            raw[i, hot[i]] = 1.0
    return raw / raw.sum(axis=1, keepdims=True)


@st.composite
def proba_arrays(draw, max_rows: int = 8, max_classes: int = 6) -> np.ndarray:
    n = draw(st.integers(1, max_rows))
    n_classes = draw(st.integers(2, max_classes))
    return draw(prob_rows(n, n_classes))


@st.composite
def sample_arrays(draw, max_members: int = 6, max_rows: int = 6, max_classes: int = 5):
    m = draw(st.integers(1, max_members))
    n = draw(st.integers(1, max_rows))
    n_classes = draw(st.integers(2, max_classes))
    return draw(prob_rows(m * n, n_classes)).reshape(m, n, n_classes)


# ---------------------------------------------------------------------------------------
# Equality with the references.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROBA_SCORES))
@SETTINGS
@given(proba=proba_arrays())
def test_proba_score_matches_reference(name, proba):
    function, reference = PROBA_SCORES[name]
    got = function(proba)
    assert got.dtype == np.float64
    assert got.shape == (proba.shape[0],)
    np.testing.assert_allclose(got, reference(proba), rtol=1e-9, atol=atol_for(name))


@pytest.mark.parametrize("name", sorted(SAMPLE_SCORES))
@SETTINGS
@given(samples=sample_arrays())
def test_sample_score_matches_reference(name, samples):
    function, reference = SAMPLE_SCORES[name]
    got = function(samples)
    assert got.dtype == np.float64
    assert got.shape == (samples.shape[1],)
    np.testing.assert_allclose(got, reference(samples), rtol=1e-9, atol=atol_for(name))


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_float32_input_accepted(name, data):
    function, reference = ALL_SCORES[name]
    if name in PROBA_SCORES:
        array = data.draw(proba_arrays()).astype(np.float32)
    else:
        array = data.draw(sample_arrays()).astype(np.float32)
    got = function(array)
    assert got.dtype == np.float64
    assert got.shape == (array.shape[-2],)
    # The reference sees exactly the float32 values, upcast.
    np.testing.assert_allclose(got, reference(array.astype(np.float64)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_integer_and_fortran_ordered_input(name):
    function, reference = ALL_SCORES[name]
    rng = np.random.default_rng(0)
    if name in PROBA_SCORES:
        one_hot = np.eye(3, dtype=np.int64)[[0, 2, 1, 1]]
        dense = np.asfortranarray(rng.dirichlet(np.ones(4), size=7))
    else:
        one_hot = np.eye(3, dtype=np.int64)[rng.integers(0, 3, size=(4, 5))]
        dense = np.asfortranarray(rng.dirichlet(np.ones(4), size=(3, 7)))
    for array in (one_hot, dense, dense[..., ::-1]):
        got = function(array)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, reference(array), rtol=1e-9, atol=atol_for(name))


def test_entropy_across_chunks_matches_reference():
    """entropy works in blocks of rows; values and error rows must not depend on blocks."""
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(3), size=2 * 8192 + 17)
    np.testing.assert_allclose(scores.entropy(proba), ref_entropy(proba), rtol=1e-12, atol=1e-12)
    proba[8192 + 7] = [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"row 8199\b"):
        scores.entropy(proba)


LARGE_N = 4 * 65_536 + 123  # large enough for four row blocks on four threads


@pytest.fixture(scope="module")
def large_inputs():
    rng = np.random.default_rng(4)
    proba = rng.dirichlet(np.ones(3), size=LARGE_N)
    proba[::1000] = np.eye(3)[rng.integers(0, 3, size=proba[::1000].shape[0])]
    samples = rng.dirichlet(np.ones(3), size=(2, LARGE_N))
    return proba, samples


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_threaded_row_blocks_match_reference(name, large_inputs, monkeypatch):
    """Large pools are split into row blocks run on threads; results must not change."""
    function, reference = ALL_SCORES[name]
    array = large_inputs[0] if name in PROBA_SCORES else large_inputs[1]
    monkeypatch.setenv("ACTIVELAB_NUM_THREADS", "4")
    threaded = function(array)
    np.testing.assert_allclose(threaded, reference(array), rtol=1e-9, atol=atol_for(name))
    monkeypatch.setenv("ACTIVELAB_NUM_THREADS", "1")
    np.testing.assert_array_equal(function(array), threaded)


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_threaded_row_blocks_name_the_first_bad_row(name, large_inputs, monkeypatch):
    function, _ = ALL_SCORES[name]
    monkeypatch.setenv("ACTIVELAB_NUM_THREADS", "4")
    if name in PROBA_SCORES:
        array = large_inputs[0].copy()
        array[LARGE_N - 10] = [np.nan, 0.5, 0.5]  # last block
        array[200_000] = [0.6, 0.6, 0.6]  # third block: the first bad row
        expected = "row 200000 "
    else:
        array = large_inputs[1].copy()
        array[1, 5] = [np.nan, 0.5, 0.5]  # flat row LARGE_N + 5
        array[0, 200_000] = [0.6, 0.6, 0.6]  # flat row 200000: the first bad one
        expected = "member 0, row 200000 "
    with pytest.raises(ValueError, match=expected):
        function(array)


def test_docstring_examples():
    np.testing.assert_allclose(scores.least_confidence([[0.9, 0.1], [0.5, 0.5]]), [0.1, 0.5])
    np.testing.assert_allclose(scores.margin([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]]), [0.5, 1.0])
    np.testing.assert_allclose(scores.ratio([[0.8, 0.2], [0.5, 0.5]]), [0.25, 1.0])
    np.testing.assert_allclose(scores.entropy([[0.5, 0.5], [1.0, 0.0]]), [np.log(2), 0.0])
    np.testing.assert_allclose(scores.vote_entropy([[[0.9, 0.1]], [[0.2, 0.8]]]), [np.log(2)])
    np.testing.assert_allclose(scores.kl_consensus([[[1.0, 0.0]], [[0.0, 1.0]]]), [np.log(2)])
    np.testing.assert_allclose(scores.bald([[[1.0, 0.0]], [[0.0, 1.0]]]), [np.log(2)])
    np.testing.assert_allclose(
        scores.variation_ratio([[[0.9, 0.1]], [[0.8, 0.2]], [[0.3, 0.7]]]), [1 / 3]
    )
    np.testing.assert_allclose(scores.mean_std([[[1.0, 0.0]], [[0.0, 1.0]]]), [0.5])


def test_vote_tie_goes_to_lowest_class_index():
    """A member's tie votes for the lowest class index, as documented (numpy.argmax)."""
    samples = np.array([[[0.5, 0.5]], [[0.2, 0.8]]])
    np.testing.assert_allclose(scores.vote_entropy(samples), [np.log(2)])
    np.testing.assert_allclose(scores.variation_ratio(samples), [0.5])
    samples = np.array([[[0.5, 0.5]], [[0.8, 0.2]]])
    np.testing.assert_allclose(scores.vote_entropy(samples), [0.0])
    np.testing.assert_allclose(scores.variation_ratio(samples), [0.0])


# ---------------------------------------------------------------------------------------
# Invariants.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROBA_SCORES))
@SETTINGS
@given(data=st.data())
def test_proba_scores_invariant_to_class_permutation(name, data):
    function, _ = PROBA_SCORES[name]
    proba = data.draw(proba_arrays())
    permutation = data.draw(st.permutations(range(proba.shape[1])))
    np.testing.assert_allclose(function(proba[:, permutation]), function(proba), atol=1e-12)


def unique_argmax_rows(samples: np.ndarray) -> np.ndarray:
    """Pool rows where every member's most likely class is unique (no vote tie)."""
    top = samples.max(axis=2, keepdims=True)
    return ((samples == top).sum(axis=2) == 1).all(axis=0)


@pytest.mark.parametrize("name", sorted(SAMPLE_SCORES))
@SETTINGS
@given(data=st.data())
def test_sample_scores_invariant_to_class_permutation(name, data):
    function, _ = SAMPLE_SCORES[name]
    samples = data.draw(sample_arrays())
    permutation = data.draw(st.permutations(range(samples.shape[2])))
    got = function(samples[..., permutation])
    expected = function(samples)
    if name in VOTE_SCORES:
        # A member's tie goes to the lowest index, which a permutation moves: compare the
        # rows without member ties only.
        keep = unique_argmax_rows(samples)
        got, expected = got[keep], expected[keep]
    np.testing.assert_allclose(got, expected, atol=1e-12)


@SETTINGS
@given(proba=proba_arrays())
def test_proba_score_bounds(proba):
    n_classes = proba.shape[1]
    eps = 1e-12
    entropy = scores.entropy(proba)
    assert np.all(entropy >= 0)
    assert np.all(entropy <= np.log(n_classes) + eps)
    least_confidence = scores.least_confidence(proba)
    assert np.all(least_confidence >= 0)
    assert np.all(least_confidence <= 1 - 1 / n_classes + eps)
    for function in (scores.margin, scores.ratio):
        values = function(proba)
        assert np.all(values >= 0)
        assert np.all(values <= 1)


@SETTINGS
@given(samples=sample_arrays())
def test_sample_score_bounds(samples):
    m, _, n_classes = samples.shape
    eps = 1e-12
    bald = scores.bald(samples)
    assert np.all(bald >= 0)
    assert np.all(bald <= scores.entropy(samples.mean(axis=0)) + eps)
    np.testing.assert_allclose(scores.kl_consensus(samples), bald, rtol=0, atol=1e-9)
    variation = scores.variation_ratio(samples)
    assert np.all(variation >= 0)
    assert np.all(variation <= 1 - 1 / m + eps)
    assert np.all(variation <= 1 - 1 / min(m, n_classes) + eps)
    vote = scores.vote_entropy(samples)
    assert np.all(vote >= 0)
    assert np.all(vote <= np.log(min(m, n_classes)) + eps)
    spread = scores.mean_std(samples)
    assert np.all(spread >= 0)
    assert np.all(spread <= 0.5 + eps)


@pytest.mark.parametrize("n_classes", [2, 3, 5, 10])
def test_proba_score_extremes(n_classes):
    one_hot = np.eye(n_classes)
    uniform = np.full((2, n_classes), 1.0 / n_classes)
    for name, (function, _) in PROBA_SCORES.items():
        np.testing.assert_array_equal(function(one_hot), 0.0, err_msg=name)
    np.testing.assert_allclose(scores.least_confidence(uniform), 1 - 1 / n_classes, rtol=1e-12)
    np.testing.assert_allclose(scores.margin(uniform), 1.0, rtol=1e-12)
    np.testing.assert_allclose(scores.ratio(uniform), 1.0, rtol=1e-12)
    np.testing.assert_allclose(scores.entropy(uniform), np.log(n_classes), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(PROBA_SCORES))
@SETTINGS
@given(data=st.data())
def test_one_hot_lowest_uniform_highest(name, data):
    function, _ = PROBA_SCORES[name]
    n_classes = data.draw(st.integers(2, 6))
    middle = data.draw(prob_rows(data.draw(st.integers(1, 6)), n_classes))
    hot = data.draw(st.integers(0, n_classes - 1))
    proba = np.vstack([np.eye(n_classes)[hot], middle, np.full(n_classes, 1.0 / n_classes)])
    values = function(proba)
    assert values[0] == 0.0
    assert np.all(values >= values[0])
    assert np.all(values <= values[-1] + 1e-12)


@pytest.mark.parametrize("name", sorted(SAMPLE_SCORES))
@SETTINGS
@given(data=st.data())
def test_identical_members_score_zero(name, data):
    function, _ = SAMPLE_SCORES[name]
    m = data.draw(st.integers(1, 6))
    proba = data.draw(proba_arrays(max_rows=5))
    samples = np.broadcast_to(proba, (m, *proba.shape)).copy()
    values = function(samples)
    if name in VOTE_SCORES:
        np.testing.assert_array_equal(values, 0.0)
    else:
        np.testing.assert_allclose(values, 0.0, rtol=0, atol=atol_for(name))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mean_std_of_identical_members_is_zero(dtype):
    """The population std of equal values is 0, whatever the input precision.

    A one-pass ``E[p^2] - E[p]^2`` with float32 products leaves a variance residue near
    float32 epsilon, and its square root is ~1e-4: far above every other score's float32
    error (~1e-7), and enough to rank an agreeing committee above a disagreeing one.
    """
    proba = np.array([[1 / 3, 2 / 3], [0.1, 0.9], [0.7, 0.3]], dtype=dtype)
    for m in (1, 2, 5):
        samples = np.broadcast_to(proba, (m, *proba.shape)).copy()
        np.testing.assert_allclose(scores.mean_std(samples), 0.0, rtol=0, atol=1e-6)


def test_full_disagreement_scores_maximal():
    """Members that are one-hot on different classes: the most any committee can disagree."""
    samples = np.eye(3)[:, None, :]  # 3 members, 1 item, 3 classes
    np.testing.assert_allclose(scores.vote_entropy(samples), [np.log(3)])
    np.testing.assert_allclose(scores.bald(samples), [np.log(3)])
    np.testing.assert_allclose(scores.kl_consensus(samples), [np.log(3)])
    np.testing.assert_allclose(scores.variation_ratio(samples), [2 / 3])
    np.testing.assert_allclose(scores.mean_std(samples), [np.sqrt(2) / 3])


# ---------------------------------------------------------------------------------------
# Validation.
# ---------------------------------------------------------------------------------------


def valid_proba(n: int = 6) -> np.ndarray:
    return np.random.default_rng(2).dirichlet(np.ones(3), size=n)


def valid_samples(m: int = 3, n: int = 6) -> np.ndarray:
    return np.random.default_rng(3).dirichlet(np.ones(3), size=(m, n))


BAD_ROWS = {
    "NaN": ([np.nan, 0.5, 0.5], "NaN or inf"),
    "inf": ([np.inf, 0.0, 0.0], "NaN or inf"),
    "-inf": ([0.5, -np.inf, 0.5], "NaN or inf"),
    "negative": ([1.2, -0.2, 0.0], "negative"),
    "row sum": ([0.5, 0.2, 0.2], "sums to 0.9"),
    "logits": ([2.0, -1.0, 0.5], "negative"),
}


@pytest.mark.parametrize("name", sorted(PROBA_SCORES))
@pytest.mark.parametrize("bad", sorted(BAD_ROWS))
def test_proba_bad_row_named(name, bad):
    function, _ = PROBA_SCORES[name]
    row, problem = BAD_ROWS[bad]
    proba = valid_proba()
    proba[3] = row
    with pytest.raises(ValueError, match=rf"^{name}: row 3 .*{re.escape(problem)}"):
        function(proba)
    # Two bad rows: the first one is named.
    proba[1] = [0.7, 0.7, 0.7]
    with pytest.raises(ValueError, match=r"row 1 "):
        function(proba)


@pytest.mark.parametrize("name", sorted(SAMPLE_SCORES))
@pytest.mark.parametrize("bad", sorted(BAD_ROWS))
def test_samples_bad_row_names_member_and_row(name, bad):
    function, _ = SAMPLE_SCORES[name]
    row, problem = BAD_ROWS[bad]
    samples = valid_samples()
    samples[1, 3] = row
    with pytest.raises(ValueError, match=rf"^{name}: member 1, row 3 .*{re.escape(problem)}"):
        function(samples)
    samples[2, 0] = [0.7, 0.7, 0.7]  # later member: member 1 is still the first bad one
    with pytest.raises(ValueError, match=r"member 1, row 3 "):
        function(samples)
    samples[0, 5] = [0.7, 0.7, 0.7]
    with pytest.raises(ValueError, match=r"member 0, row 5 "):
        function(samples)


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_row_sum_tolerance(name):
    function, _ = ALL_SCORES[name]
    proba = valid_proba()
    proba[2] = [0.5, 0.3, 0.2 + 5e-5]  # within 1e-4: accepted (float32 softmax output)
    array = proba if name in PROBA_SCORES else np.stack([proba, proba])
    assert function(array).shape == (6,)
    proba[2] = [0.5, 0.3, 0.2 + 3e-4]
    array = proba if name in PROBA_SCORES else np.stack([proba, proba])
    with pytest.raises(ValueError, match="row 2"):
        function(array)


SHAPE_CASES_PROBA = {
    "1-D": (np.array([0, 1, 1, 0]), r"got shape \(4,\).*predict\(\)"),
    "3-D": (valid_samples(), r"shape \(n, C\); got shape \(3, 6, 3\)"),
    "one column": (np.ones((5, 1)), r"at least 2 classes; got 1 column"),
    "empty": (np.empty((0, 3)), r"empty array of shape \(0, 3\)"),
    "no columns": (np.empty((4, 0)), r"empty array of shape \(4, 0\)"),
    "object": (np.array([[0.5, 0.5]], dtype=object), r"dtype object"),
    "strings": (np.array([["a", "b"]]), r"dtype <U1"),
    "complex": (np.array([[0.5 + 1j, 0.5]]), r"complex"),
}
SHAPE_CASES_SAMPLES = {
    "1-D": (np.array([0.5, 0.5]), r"got shape \(2,\)"),
    "2-D": (valid_proba(), r"got shape \(6, 3\).*Stack"),
    "one column": (np.ones((2, 5, 1)), r"at least 2 classes; got 1 column"),
    "no members": (np.empty((0, 5, 3)), r"empty array of shape \(0, 5, 3\)"),
    "no rows": (np.empty((2, 0, 3)), r"empty array of shape \(2, 0, 3\)"),
    "object": (np.array([[[0.5, 0.5]]], dtype=object), r"dtype object"),
    "complex": (np.array([[[0.5 + 1j, 0.5]]]), r"complex"),
}


@pytest.mark.parametrize("name", sorted(PROBA_SCORES))
@pytest.mark.parametrize("case", sorted(SHAPE_CASES_PROBA))
def test_proba_shape_and_dtype_problems(name, case):
    function, _ = PROBA_SCORES[name]
    array, message = SHAPE_CASES_PROBA[case]
    with pytest.raises(ValueError, match=message) as info:
        function(array)
    assert str(info.value).startswith(name)


@pytest.mark.parametrize("name", sorted(SAMPLE_SCORES))
@pytest.mark.parametrize("case", sorted(SHAPE_CASES_SAMPLES))
def test_samples_shape_and_dtype_problems(name, case):
    function, _ = SAMPLE_SCORES[name]
    array, message = SHAPE_CASES_SAMPLES[case]
    with pytest.raises(ValueError, match=message) as info:
        function(array)
    assert str(info.value).startswith(name)


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_input_not_modified(name):
    function, _ = ALL_SCORES[name]
    array = valid_proba() if name in PROBA_SCORES else valid_samples()
    before = array.copy()
    function(array)
    np.testing.assert_array_equal(array, before)
