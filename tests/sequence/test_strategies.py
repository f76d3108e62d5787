"""Each tagger strategy computes what its formula says from the tagger's outputs."""

from __future__ import annotations

import numpy as np
import pytest

import activelab.sequence as seq

pytest.importorskip("sklearn_crfsuite")


@pytest.fixture(scope="module")
def pool(small):
    train, _ = small
    return train.tokens[:60]


def test_sentence_utilities_follow_their_formulas(crf, pool):
    lengths = np.array([len(s) for s in pool])
    _, log_proba = crf.viterbi(pool)
    np.testing.assert_allclose(
        seq.LeastConfidenceTagger().utilities(crf, pool), 1 - np.exp(log_proba)
    )
    np.testing.assert_allclose(seq.MNLP().utilities(crf, pool), -log_proba / lengths)
    _, best = crf.nbest(pool, 2)
    np.testing.assert_allclose(
        seq.NBestMargin().utilities(crf, pool), 1 - (np.exp(best[:, 0]) - np.exp(best[:, 1]))
    )
    np.testing.assert_allclose(
        seq.SequenceEntropy(method="exact").utilities(crf, pool), crf.sequence_entropy(pool)
    )
    marginals = crf.marginals(pool)
    per_token = -(marginals.values * np.log(np.maximum(marginals.values, 1e-300))).sum(axis=1)
    per_sentence = seq.Ragged(per_token, marginals.offsets)
    for how, expected in (
        ("total", per_sentence.sum()),
        ("mean", per_sentence.mean()),
        ("max", per_sentence.max()),
    ):
        np.testing.assert_allclose(
            seq.TokenEntropy(aggregate=how).utilities(crf, pool), expected, atol=1e-12
        )


def test_nbest_entropy_is_at_most_the_exact_entropy_when_unnormalised(crf, pool):
    exact = seq.SequenceEntropy(method="exact").utilities(crf, pool)
    nbest = seq.SequenceEntropy(n_best=5, normalize=False).utilities(crf, pool)
    assert np.all(nbest <= exact + 1e-9)


def test_least_confidence_prefers_long_sentences_and_mnlp_does_not(crf, small):
    train, _ = small
    pool = train.tokens
    lengths = np.array([len(s) for s in pool])
    by_lc = seq.LeastConfidenceTagger().query(crf, pool, 20, random_state=0)
    by_mnlp = seq.MNLP().query(crf, pool, 20, random_state=0)
    assert lengths[by_lc].mean() > lengths[by_mnlp].mean()
    assert lengths[by_lc].mean() > lengths.mean()


def test_committee_strategies_read_the_samples(committee, pool):
    paths = committee.sample_paths(pool)
    n_labels = len(committee.labels_)
    np.testing.assert_allclose(
        seq.VoteEntropyTagger().utilities(committee, pool),
        seq.aggregate(seq.token_vote_entropy(paths, n_labels), "mean"),
    )
    np.testing.assert_allclose(
        seq.SequenceBALD().utilities(committee, pool), seq.path_disagreement(paths)
    )
    samples = committee.sample_marginals(pool)
    np.testing.assert_allclose(
        seq.SequenceBALD(method="mutual_information", aggregate="total").utilities(committee, pool),
        seq.aggregate(seq.token_bald(samples), "total"),
    )
    np.testing.assert_allclose(
        seq.KLTagger().utilities(committee, pool),
        seq.aggregate(seq.token_kl(samples), "mean"),
    )
    assert seq.SequenceBALD(method="mutual_information").needs == ("sample_marginals",)


def test_information_density_weights_the_base(crf, pool):
    base = seq.TokenEntropy().utilities(crf, pool)
    np.testing.assert_allclose(
        seq.InformationDensityTagger(beta=0.0).utilities(crf, pool), base, rtol=1e-12
    )
    weighted = seq.InformationDensityTagger(beta=1.0).utilities(crf, pool)
    assert np.all(weighted <= base + 1e-12) and np.all(weighted >= 0)
    assert seq.InformationDensityTagger(base="seq_mnlp").needs == ("viterbi", "marginals", "embed")


@pytest.mark.parametrize("method", ["kcenter", "cluster"])
def test_diverse_batches_come_from_the_uncertain_candidates(crf, pool, method):
    strategy = seq.SequenceDiverse(base="seq_mnlp", method=method, prefilter=2)
    picks = strategy.query(crf, pool, 5, X_labeled=pool[:3], random_state=0)
    candidates = set(np.argsort(-seq.MNLP().utilities(crf, pool), kind="stable")[:10].tolist())
    assert len(set(picks.tolist())) == 5
    assert set(picks.tolist()) <= candidates


def test_strategy_parameter_errors(crf, pool):
    with pytest.raises(ValueError, match="aggregate must be"):
        seq.TokenEntropy(aggregate="median").utilities(crf, pool)
    with pytest.raises(ValueError, match="method must be"):
        seq.SequenceEntropy(method="sampled").utilities(crf, pool)
    with pytest.raises(ValueError, match="n_best"):
        seq.SequenceEntropy(n_best=1).utilities(crf, pool)
    with pytest.raises(ValueError, match="method must be"):
        seq.SequenceDiverse(method="grid").query(crf, pool, 3, random_state=0)
    with pytest.raises(ValueError, match="unknown tagger strategy"):
        seq.InformationDensityTagger(base="seq_nothing").utilities(crf, pool)
    with pytest.raises(TypeError, match="tagger strategy as base"):
        seq.InformationDensityTagger(base="margin").utilities(crf, pool)
