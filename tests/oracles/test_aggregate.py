"""Majority vote, label uncertainty and Dawid–Skene: against plain references, recovering
known confusion matrices of synthetic annotators, and EM's invariants (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import beta

from activelab.oracles import (
    dawid_skene,
    label_uncertainty,
    majority_vote,
    vote_counts,
)


def reference_counts(votes, n_classes):
    counts = np.zeros((len(votes), n_classes), dtype=int)
    for i, row in enumerate(votes):
        for v in row:
            if v >= 0:
                counts[i, v] += 1
    return counts


def synthetic_crowd(n_items, confusions, priors, rng, missing=0.0):
    """True classes and annotations drawn from known confusion matrices."""
    n_annotators, n_classes, _ = confusions.shape
    truth = rng.choice(n_classes, size=n_items, p=priors)
    votes = np.empty((n_items, n_annotators), dtype=np.int64)
    for a in range(n_annotators):
        cumulative = np.cumsum(confusions[a][truth], axis=1)
        votes[:, a] = (rng.random(n_items)[:, None] > cumulative).sum(axis=1)
    votes = np.minimum(votes, n_classes - 1)
    votes[rng.random(votes.shape) < missing] = -1
    return truth, votes


def random_confusions(n_annotators, n_classes, rng, diagonal=(0.55, 0.95)):
    matrices = np.empty((n_annotators, n_classes, n_classes))
    for a in range(n_annotators):
        for c in range(n_classes):
            off = rng.dirichlet(np.ones(n_classes - 1))
            right = rng.uniform(*diagonal)
            row = np.insert(off * (1 - right), c, right)
            matrices[a, c] = row
    return matrices


votes_arrays = st.integers(1, 25).flatmap(
    lambda n: st.integers(1, 6).flatmap(
        lambda a: arrays(np.int64, (n, a), elements=st.integers(-1, 3))
    )
)


@given(votes_arrays)
@settings(max_examples=60, deadline=None)
def test_vote_counts_match_a_plain_loop(votes):
    np.testing.assert_array_equal(vote_counts(votes, 4), reference_counts(votes, 4))


@given(votes_arrays, st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_majority_vote_returns_a_most_voted_class(votes, seed):
    counts = reference_counts(votes, 4)
    labels = majority_vote(votes, 4, random_state=seed)
    for row, label in zip(counts, labels, strict=True):
        if row.sum() == 0:
            assert label == -1
        else:
            assert row[label] == row.max()


def test_majority_vote_breaks_ties_at_random_reproducibly():
    votes = np.tile([[0, 1]], (200, 1))
    first = majority_vote(votes, 2, random_state=0)
    np.testing.assert_array_equal(first, majority_vote(votes, 2, random_state=0))
    assert 60 < first.sum() < 140  # both classes win some ties


@given(st.integers(0, 30), st.integers(0, 30))
def test_label_uncertainty_matches_the_beta_posterior(agree, disagree):
    counts = np.array([[max(agree, disagree), min(agree, disagree)]])
    tail = beta.cdf(0.5, counts[0, 0] + 1, counts[0, 1] + 1)
    assert label_uncertainty(counts)[0] == pytest.approx(min(tail, 1 - tail), abs=1e-12)


def test_label_uncertainty_falls_as_agreeing_votes_come_in():
    scores = label_uncertainty([[k, 0] for k in range(6)])
    assert np.all(np.diff(scores) < 0) and scores[0] == 0.5
    # A split is more uncertain than a consensus of the same size.
    assert label_uncertainty([[2, 1]])[0] > label_uncertainty([[3, 0]])[0]
    # Several classes: the leading one against the rest.
    assert label_uncertainty([[2, 1, 1]])[0] == pytest.approx(label_uncertainty([[2, 2]])[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_recovers_known_confusion_matrices(seed):
    rng = np.random.default_rng(seed)
    confusions = random_confusions(5, 3, rng)
    priors = np.array([0.5, 0.3, 0.2])
    truth, votes = synthetic_crowd(4000, confusions, priors, rng, missing=0.2)
    result = dawid_skene(votes, 3)
    assert result.converged
    np.testing.assert_allclose(result.confusions, confusions, atol=0.05)
    np.testing.assert_allclose(result.priors, priors, atol=0.03)
    accuracy = np.mean(result.labels == truth)
    assert accuracy >= np.mean(majority_vote(votes, 3, random_state=0) == truth)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)


def test_dawid_skene_beats_majority_vote_against_a_colluding_bad_majority():
    # Two good annotators and three that answer class 0 most of the time.
    rng = np.random.default_rng(5)
    good = np.array([[0.9, 0.1], [0.1, 0.9]])
    biased = np.array([[0.9, 0.1], [0.7, 0.3]])
    confusions = np.stack([good, good, biased, biased, biased])
    truth, votes = synthetic_crowd(3000, confusions, np.array([0.5, 0.5]), rng)
    ds = np.mean(dawid_skene(votes, 2).labels == truth)
    mv = np.mean(majority_vote(votes, 2, random_state=0) == truth)
    assert ds > mv + 0.05


def test_perfect_annotators_give_the_truth():
    truth = np.arange(60) % 4
    votes = np.stack([truth, truth, truth], axis=1)
    votes[::5, 1] = -1
    result = dawid_skene(votes, 4)
    np.testing.assert_array_equal(result.labels, truth)
    assert np.all(np.diagonal(result.confusions, axis1=1, axis2=2) > 0.95)


def test_items_nobody_labelled_are_minus_one():
    votes = np.array([[0, 0], [-1, -1], [1, 1]])
    assert dawid_skene(votes, 2).labels.tolist() == [0, -1, 1]
    assert majority_vote(votes, 2).tolist() == [0, -1, 1]


@given(
    st.integers(0, 2**16),
    st.integers(2, 4),
    st.integers(2, 5),
    st.integers(10, 80),
    st.floats(0.0, 0.5),
)
@settings(max_examples=40, deadline=None)
def test_dawid_skene_invariants(seed, n_classes, n_annotators, n_items, missing):
    rng = np.random.default_rng(seed)
    confusions = random_confusions(n_annotators, n_classes, rng, diagonal=(0.3, 0.95))
    _, votes = synthetic_crowd(
        n_items, confusions, np.full(n_classes, 1 / n_classes), rng, missing=missing
    )
    result = dawid_skene(votes, n_classes, max_iter=50)
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0, atol=1e-9)
    assert result.priors.sum() == pytest.approx(1.0)
    # EM (MAP with the smoothing prior) never lowers its objective.
    assert np.all(np.diff(result.objective) >= -1e-7 * np.abs(result.objective[1:]).max())
    # Relabelling the annotators permutes their matrices and nothing else.
    order = rng.permutation(n_annotators)
    permuted = dawid_skene(votes[:, order], n_classes, max_iter=50)
    np.testing.assert_allclose(permuted.posteriors, result.posteriors, atol=1e-6)
    np.testing.assert_allclose(permuted.confusions, result.confusions[order], atol=1e-6)


@pytest.mark.parametrize(
    ("votes", "n_classes", "message"),
    [
        (np.array([0, 1, 1]), None, "2-D array"),
        (np.array([[0, 3]]), 3, "class code 3"),
        (np.array([[0.5, 1.0]]), None, "integer class codes"),
        (np.array([[0, 0]]), 1, "at least 2"),
    ],
)
def test_bad_annotations_are_clear_errors(votes, n_classes, message):
    with pytest.raises(ValueError, match=message):
        dawid_skene(votes, n_classes)
    with pytest.raises(ValueError, match=message):
        majority_vote(votes, n_classes)


@given(st.integers(0, 2**16), st.integers(2, 4), st.integers(2, 5), st.integers(2, 60))
@settings(max_examples=30, deadline=None)
def test_without_overlap_dawid_skene_keeps_the_votes(seed, n_classes, n_annotators, n_items):
    """One label per item cannot identify the confusion matrices: EM would put every item
    in one class; the labels stay the votes instead."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    votes = np.full((n_items, n_annotators), -1)
    votes[np.arange(n_items), rng.integers(0, n_annotators, n_items)] = truth
    result = dawid_skene(votes, n_classes)
    assert result.labels.tolist() == truth.tolist()
    np.testing.assert_allclose(result.confusions.sum(axis=2), 1.0, atol=1e-9)
    assert result.converged and len(result.objective) == 1
