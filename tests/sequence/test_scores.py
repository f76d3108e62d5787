"""Acquisition scores for taggers, against plain references written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.sequence as seq
from activelab.sequence import Ragged

probabilities = st.floats(1e-6, 1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(probabilities, st.integers(1, 40)), min_size=2, max_size=30),
)
def test_mnlp_ranks_sentences_as_its_formula_says(pool):
    """Known path probabilities and lengths: the ranking is by -log(p) / length."""
    proba = np.array([p for p, _ in pool])
    lengths = np.array([n for _, n in pool])
    utility = seq.mnlp(np.log(proba), lengths)
    reference = [-np.log(p) / n for p, n in pool]
    np.testing.assert_allclose(utility, reference, rtol=1e-12, atol=1e-15)
    order = np.argsort(-utility, kind="stable")
    expected = sorted(range(len(pool)), key=lambda i: (-reference[i], i))
    assert [reference[i] for i in order] == pytest.approx([reference[i] for i in expected])
    # Length normalisation: the same path probability is less informative when longer.
    assert seq.mnlp(np.log([0.5, 0.5]), [2, 8])[0] > seq.mnlp(np.log([0.5, 0.5]), [2, 8])[1]


def test_mnlp_chooses_differently_from_least_confidence():
    # A long sentence with a low path probability but confident tokens, and a short
    # uncertain one: least confidence takes the long one, MNLP the short one.
    log_proba = np.log([0.30, 0.55])
    lengths = np.array([40, 2])
    assert np.argmax(seq.viterbi_least_confidence(log_proba)) == 0
    assert np.argmax(seq.mnlp(log_proba, lengths)) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(probabilities, min_size=2, max_size=6))
def test_nbest_margin_and_entropy(raw):
    proba = np.sort(np.array(raw) / (sum(raw) * 1.25))[::-1]  # best first, sum 0.8
    log_proba = np.log(proba)[None, :]
    assert seq.nbest_margin(log_proba)[0] == pytest.approx(1 - (proba[0] - proba[1]))
    share = proba / proba.sum()
    assert seq.nbest_entropy(log_proba)[0] == pytest.approx(-(share * np.log(share)).sum())
    assert seq.nbest_entropy(log_proba, normalize=False)[0] == pytest.approx(
        -(proba * np.log(proba)).sum()
    )
    assert 0 <= seq.nbest_entropy(log_proba)[0] <= np.log(len(raw)) + 1e-12


def test_missing_nbest_ranks_count_as_zero_probability():
    log_proba = np.array([[np.log(0.7), np.log(0.3), -np.inf]])
    assert seq.nbest_entropy(log_proba)[0] == pytest.approx(
        -(0.7 * np.log(0.7) + 0.3 * np.log(0.3))
    )
    assert seq.nbest_margin(np.array([[0.0, -np.inf]]))[0] == 0.0


def test_least_confidence_and_input_checks():
    np.testing.assert_allclose(seq.viterbi_least_confidence(np.log([0.9, 0.25])), [0.1, 0.75])
    with pytest.raises(ValueError, match="log-probabilities"):
        seq.viterbi_least_confidence([0.5, 1.5])
    with pytest.raises(ValueError, match="shape"):
        seq.nbest_margin(np.log([0.5, 0.2]))
    with pytest.raises(ValueError, match="two best"):
        seq.nbest_margin(np.log([[0.5]]))
    with pytest.raises(ValueError, match="one non-negative length"):
        seq.mnlp(np.log([0.5]), [1, 2])


@st.composite
def token_marginals(draw):
    n_labels = draw(st.integers(2, 4))
    lengths = draw(st.lists(st.integers(0, 5), min_size=1, max_size=5))
    rows = draw(
        st.lists(
            st.lists(probabilities, min_size=n_labels, max_size=n_labels),
            min_size=sum(lengths),
            max_size=sum(lengths),
        )
    )
    values = np.array(rows, dtype=np.float64).reshape(-1, n_labels)
    values /= values.sum(axis=1, keepdims=True)
    return Ragged.from_lengths(values, lengths)


@settings(max_examples=100, deadline=None)
@given(token_marginals(), st.sampled_from(seq.AGGREGATES))
def test_token_entropy_aggregates(marginals, how):
    per_token = seq.token_uncertainty(marginals, "entropy")
    reference = -(marginals.values * np.log(marginals.values)).sum(axis=1)
    np.testing.assert_allclose(per_token.values, reference, atol=1e-12)
    totals = seq.aggregate(per_token, how)
    for i, block in enumerate(Ragged(reference, marginals.offsets)):
        if block.size == 0:
            assert totals[i] == 0.0
        else:
            expected = {"total": block.sum(), "mean": block.mean(), "max": block.max()}[how]
            assert totals[i] == pytest.approx(expected)
    neg_log_max = seq.token_uncertainty(marginals, "neg_log_max").values
    np.testing.assert_allclose(neg_log_max, -np.log(marginals.values.max(axis=1)))
    with pytest.raises(ValueError, match="aggregate must be"):
        seq.aggregate(per_token, "median")


def test_committee_scores_on_known_votes():
    # Three members, two tokens; member paths as columns.
    paths = Ragged.from_list([np.array([[0, 0, 1], [2, 2, 2]])])
    ve = seq.token_vote_entropy(paths, 3).values
    assert ve[0] == pytest.approx(-(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)))
    assert ve[1] == 0.0
    np.testing.assert_allclose(seq.token_variation_ratio(paths, 3).values, [1 / 3, 0.0])
    # Sentence paths: (0, 2), (0, 2), (1, 2): the modal path has 2 of 3 votes.
    assert seq.path_disagreement(paths)[0] == pytest.approx(1 / 3)
    same = Ragged.from_list([np.array([[1, 1], [0, 0]]), np.zeros((0, 2), dtype=np.int64)])
    np.testing.assert_allclose(seq.path_disagreement(same), [0.0, 0.0])
    with pytest.raises(ValueError, match=r"\(n_tokens, m\)"):
        seq.token_vote_entropy(Ragged.from_list([[0, 1]]), 2)


def test_path_disagreement_counts_whole_paths_not_tokens():
    # Every token has a 2-of-3 majority, but no two members agree on the whole path.
    paths = Ragged.from_list([np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]])])
    assert seq.path_disagreement(paths)[0] == pytest.approx(2 / 3)


def test_token_kl_and_bald_reuse_the_classification_scores():
    samples = Ragged.from_list([np.array([[[0.9, 0.1], [0.1, 0.9]], [[0.5, 0.5], [0.5, 0.5]]])])
    kl = seq.token_kl(samples).values
    bald = seq.token_bald(samples).values
    mean = np.array([0.5, 0.5])
    expected = np.mean([np.sum(p * np.log(p / mean)) for p in ([0.9, 0.1], [0.1, 0.9])])
    assert kl[0] == pytest.approx(expected)
    assert bald[0] == pytest.approx(expected)  # equal member weights: KL = BALD
    assert kl[1] == pytest.approx(0.0) and bald[1] == pytest.approx(0.0)
    with pytest.raises(ValueError, match=r"\(n_tokens, m, L\)"):
        seq.token_kl(Ragged.from_list([np.ones((2, 2)) / 2]))
