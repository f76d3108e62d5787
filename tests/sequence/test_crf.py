"""Linear-chain CRF maths against brute-force enumeration of every tag path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.sequence as seq
from activelab.sequence import Ragged


@st.composite
def chains(draw, max_labels=3, max_length=4, max_sentences=4):
    """Random emissions of a few short sentences and a transition matrix."""
    n_labels = draw(st.integers(1, max_labels))
    lengths = draw(st.lists(st.integers(0, max_length), min_size=1, max_size=max_sentences))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    emissions = Ragged.from_list(
        [rng.normal(0, 2, (n, n_labels)) for n in lengths], trailing=(n_labels,)
    )
    return emissions, rng.normal(0, 2, (n_labels, n_labels)), rng


def enumerate_paths(emission: np.ndarray, transitions: np.ndarray):
    """Every path of one sentence and its score, by brute force."""
    length, n_labels = emission.shape
    paths = list(itertools.product(range(n_labels), repeat=length))
    scores = np.array(
        [
            sum(emission[t, y[t]] for t in range(length))
            + sum(transitions[y[t - 1], y[t]] for t in range(1, length))
            for y in paths
        ]
    )
    return paths, scores


@settings(max_examples=60, deadline=None)
@given(chains())
def test_forward_backward_equals_enumeration(chain):
    emissions, transitions, _ = chain
    log_z, marginals, pairwise = seq.forward_backward(emissions, transitions, pairwise=True)
    n_labels = transitions.shape[0]
    for i in range(len(emissions)):
        paths, scores = enumerate_paths(emissions[i], transitions)
        assert log_z[i] == pytest.approx(np.logaddexp.reduce(scores), abs=1e-9)
        proba = np.exp(scores - log_z[i])
        expected = np.zeros((len(emissions[i]), n_labels))
        pairs = np.zeros((n_labels, n_labels))
        for path, p in zip(paths, proba, strict=True):
            expected[np.arange(len(path)), list(path)] += p
            for t in range(1, len(path)):
                pairs[path[t - 1], path[t]] += p
        np.testing.assert_allclose(marginals[i], expected, atol=1e-9)
        np.testing.assert_allclose(pairwise[i], pairs, atol=1e-9)
    # Marginals are distributions over labels at every token.
    np.testing.assert_allclose(marginals.values.sum(axis=1), 1.0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(chains(), st.integers(1, 6))
def test_nbest_is_the_exact_top_n_in_decreasing_order(chain, n):
    emissions, transitions, _ = chain
    paths, scores = seq.nbest(emissions, transitions, n)
    viterbi_paths, viterbi_scores = seq.viterbi(emissions, transitions)
    for i in range(len(emissions)):
        all_paths, all_scores = enumerate_paths(emissions[i], transitions)
        best = np.sort(all_scores)[::-1][:n]
        found = scores[i][np.isfinite(scores[i])]
        np.testing.assert_allclose(found, best, atol=1e-9)
        assert np.all(np.diff(scores[i][np.isfinite(scores[i])]) <= 1e-12)
        for rank in range(found.shape[0]):  # each listed path really has its score
            path = tuple(paths[i][:, rank]) if len(emissions[i]) else ()
            assert all_scores[all_paths.index(path)] == pytest.approx(scores[i][rank])
        assert viterbi_scores[i] == pytest.approx(all_scores.max())
        assert viterbi_paths[i].tolist() == paths[i][:, 0].tolist()
    rescored = seq.sequence_scores(emissions, transitions, viterbi_paths)
    np.testing.assert_allclose(rescored, viterbi_scores, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(chains())
def test_partial_label_loss_equals_full_loss_when_every_token_is_labelled(chain):
    emissions, transitions, rng = chain
    n_labels = transitions.shape[0]
    tags = emissions.with_values(rng.integers(0, n_labels, emissions.values.shape[0]))
    full = -seq.log_likelihood(emissions, transitions, tags)
    partial = seq.partial_label_nll(emissions, transitions, tags)
    np.testing.assert_allclose(partial, full, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(chains())
def test_partial_label_loss_marginalises_unlabelled_tokens(chain):
    emissions, transitions, rng = chain
    n_labels = transitions.shape[0]
    tags = emissions.with_values(rng.integers(-1, n_labels, emissions.values.shape[0]))
    loss = seq.partial_label_nll(emissions, transitions, tags)
    for i in range(len(emissions)):
        paths, scores = enumerate_paths(emissions[i], transitions)
        given_tags = tags[i]
        agrees = np.array(
            [all(g < 0 or y == g for y, g in zip(path, given_tags, strict=True)) for path in paths]
        )
        expected = np.logaddexp.reduce(scores) - np.logaddexp.reduce(scores[agrees])
        assert loss[i] == pytest.approx(expected, abs=1e-9)
        assert loss[i] >= -1e-12
    completed = seq.constrained_viterbi(emissions, transitions, tags)
    labelled = tags.values >= 0
    assert np.array_equal(completed.values[labelled], tags.values[labelled])


def test_partial_label_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    emissions = Ragged.from_list([rng.normal(size=(4, 3)), rng.normal(size=(2, 3))])
    transitions = rng.normal(size=(3, 3))
    tags = Ragged.from_list([[0, -1, 2, -1], [-1, 1]])
    _, d_emissions, d_transitions = seq.partial_label_nll(
        emissions, transitions, tags, gradient=True
    )
    step = 1e-6

    def total(e_values, trans):
        return seq.partial_label_nll(emissions.with_values(e_values), trans, tags).sum()

    for row, col in [(0, 0), (1, 2), (3, 1), (5, 0)]:
        bumped = emissions.values.copy()
        bumped[row, col] += step
        lowered = emissions.values.copy()
        lowered[row, col] -= step
        numeric = (total(bumped, transitions) - total(lowered, transitions)) / (2 * step)
        assert d_emissions.values[row, col] == pytest.approx(numeric, abs=1e-6)
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        up, down = transitions.copy(), transitions.copy()
        up[i, j] += step
        down[i, j] -= step
        numeric = (total(emissions.values, up) - total(emissions.values, down)) / (2 * step)
        assert d_transitions[i, j] == pytest.approx(numeric, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(chains())
def test_exact_entropy_equals_enumeration(chain):
    emissions, transitions, _ = chain
    entropy = seq.crf_entropy(emissions, transitions)
    for i in range(len(emissions)):
        _, scores = enumerate_paths(emissions[i], transitions)
        proba = np.exp(scores - np.logaddexp.reduce(scores))
        expected = -(proba * np.log(np.where(proba > 0, proba, 1.0))).sum()
        assert entropy[i] == pytest.approx(expected, abs=1e-8)


def test_uniform_chain_has_known_answers():
    emissions = Ragged.from_list([np.zeros((3, 2))])
    log_z, marginals, _ = seq.forward_backward(emissions, np.zeros((2, 2)))
    assert np.exp(log_z[0]) == pytest.approx(8.0)
    np.testing.assert_allclose(marginals.values, 0.5)
    assert seq.crf_entropy(emissions, np.zeros((2, 2)))[0] == pytest.approx(3 * np.log(2))


def test_bad_inputs_are_clear_errors():
    emissions = Ragged.from_list([np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"transitions need shape \(2, 2\)"):
        seq.forward_backward(emissions, np.zeros((3, 3)))
    with pytest.raises(TypeError, match="Ragged"):
        seq.forward_backward(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        seq.forward_backward(emissions.with_values(np.full((2, 2), np.nan)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="forbids every label"):
        seq.forward_backward(emissions.with_values(np.full((2, 2), -np.inf)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="positive int"):
        seq.nbest(emissions, np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match="-1 for an unlabelled"):
        seq.partial_label_nll(emissions, np.zeros((2, 2)), Ragged.from_list([[0, 5]]))
