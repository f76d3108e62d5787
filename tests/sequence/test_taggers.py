"""The CRF tagger read in numpy agrees with crfsuite; the committee gives posterior samples."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

import activelab.sequence as seq

pytest.importorskip("sklearn_crfsuite")


def test_marginals_sum_to_one_and_equal_crfsuites(crf, small):
    _, test = small
    marginals = crf.marginals(test.tokens)
    np.testing.assert_allclose(marginals.values.sum(axis=1), 1.0, atol=1e-12)
    assert marginals.values.shape == (test.n_tokens, len(crf.labels_))
    tagger = crf.crf_.tagger_
    features = crf._features()
    for i, words in enumerate(test.tokens[:15]):
        tagger.set(features.token(words))
        theirs = np.array(
            [[tagger.marginal(label, t) for label in crf.labels_] for t in range(len(words))]
        )
        # crfsuite's model dump prints weights to 6 decimals, hence the tolerance.
        np.testing.assert_allclose(marginals[i], theirs, atol=1e-4)


def test_viterbi_path_and_probability_equal_crfsuites(crf, small):
    _, test = small
    paths, log_proba = crf.viterbi(test.tokens)
    tagger = crf.crf_.tagger_
    features = crf._features()
    predicted = crf.predict(test.tokens)
    for i, words in enumerate(test.tokens[:15]):
        tagger.set(features.token(words))
        theirs = tagger.tag()
        assert predicted[i] == theirs
        assert [crf.labels_[j] for j in paths[i]] == theirs
        assert log_proba[i] == pytest.approx(np.log(tagger.probability(theirs)), abs=1e-4)
    assert np.all(log_proba <= 0)


def test_nbest_is_decreasing_and_starts_with_viterbi(crf, small):
    _, test = small
    paths, log_proba = crf.nbest(test.tokens, 5)
    assert log_proba.shape == (len(test), 5)
    assert np.all(np.diff(log_proba, axis=1) <= 1e-12)
    viterbi_paths, viterbi_log_proba = crf.viterbi(test.tokens)
    np.testing.assert_allclose(log_proba[:, 0], viterbi_log_proba, atol=1e-9)
    assert np.array_equal(paths.values[:, 0], viterbi_paths.values)
    # Each path's probability is what log_proba says.
    tags = [[crf.labels_[j] for j in paths[i][:, 2]] for i in range(len(test))]
    np.testing.assert_allclose(crf.log_proba(test.tokens, tags), log_proba[:, 2], atol=1e-9)
    assert np.all(np.exp(np.logaddexp.reduce(log_proba, axis=1)) <= 1 + 1e-9)


def test_sequence_entropy_is_bounded(crf, small):
    _, test = small
    entropy = crf.sequence_entropy(test.tokens)
    assert np.all(entropy >= 0)
    assert np.all(entropy <= test.lengths * np.log(len(crf.labels_)) + 1e-9)


def test_complete_keeps_the_given_tags(crf, small):
    train, _ = small
    words = train.tokens[0]
    partial = [None] * len(words)
    partial[1] = "B-ORG"
    completed = crf.complete([words], [partial])[0]
    assert completed[1] == "B-ORG" and len(completed) == len(words)
    assert None not in completed
    loss = crf.partial_nll([words], [partial])
    full = -crf.log_proba([words], [completed])
    assert 0 <= loss[0] <= full[0] + 1e-9


def test_embeddings_are_unit_rows(crf, small):
    _, test = small
    emb = crf.embed(test.tokens)
    assert emb.shape == (len(test), 256) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    again = crf.embed(test.tokens[:3])
    np.testing.assert_allclose(again, emb[:3])


def test_clone_pickle_and_capabilities(crf, small):
    _, test = small
    assert type(clone(crf)) is seq.CRFTagger
    restored = pickle.loads(pickle.dumps(crf))
    np.testing.assert_allclose(
        restored.marginals(test.tokens).values, crf.marginals(test.tokens).values
    )
    assert {"marginals", "viterbi", "nbest", "complete", "embed"} <= crf.capabilities
    with pytest.raises(TypeError, match=r"sample_paths.*TaggerCommittee"):
        crf.require("sample_paths", "seq_vote_entropy")
    with pytest.raises(TypeError, match="marginals"):
        crf.predict_proba(test.tokens)


def test_fit_refuses_partial_tags_and_unfitted_use():
    tagger = seq.CRFTagger(max_iterations=5)
    with pytest.raises(ValueError, match="partly labelled"):
        tagger.fit([["a", "b"]], [["O", None]])
    with pytest.raises(ValueError, match="not fitted"):
        tagger.marginals([["a"]])
    with pytest.raises(TypeError, match="flat list"):
        tagger.fit(["a", "b"], ["O", "O"])
    with pytest.raises(ValueError, match="1 tokens but 2 tags"):
        tagger.fit([["a"]], [["O", "O"]])


def test_committee_samples(committee, small):
    _, test = small
    paths = committee.sample_paths(test.tokens)
    assert paths.values.shape == (test.n_tokens, 3)
    assert paths.values.min() >= 0 and paths.values.max() < len(committee.labels_)
    for m, member in enumerate(committee.members_):  # each column is a member's Viterbi path
        own = [committee.labels_[j] for j in paths.values[:, m]]
        assert own == [tag for sentence in member.predict(test.tokens) for tag in sentence]
    marginals = committee.sample_marginals(test.tokens)
    assert marginals.values.shape == (test.n_tokens, 3, len(committee.labels_))
    np.testing.assert_allclose(marginals.values.sum(axis=2), 1.0, atol=1e-9)
    assert {"sample_paths", "sample_marginals", "viterbi"} <= committee.capabilities
    assert committee.predict(test.tokens) == committee.main_.predict(test.tokens)
    assert "×3" in committee.describe()


def test_committee_aligns_members_that_missed_a_label():
    words = [["Ada", "ran"], ["Paris", "is"], ["Bob", "saw", "Rome"]]
    tags = [["B-PER", "O"], ["B-LOC", "O"], ["B-PER", "O", "B-LOC"]]
    committee = seq.TaggerCommittee(
        seq.CRFTagger(max_iterations=5), n_members=4, random_state=0
    ).fit(words, tags)
    sizes = {len(member.labels_) for member in committee.members_}
    marginals = committee.sample_marginals(words)
    assert marginals.values.shape[2] == len(committee.labels_) == 3
    np.testing.assert_allclose(marginals.values.sum(axis=2), 1.0, atol=1e-9)
    assert min(sizes) < 3  # a member missed a label, yet the columns line up
    lacking = next(m for m in committee.members_ if len(m.labels_) < 3)
    m = committee.members_.index(lacking)
    missing = sorted(set(committee.labels_) - set(lacking.labels_))
    column = committee.labels_.index(missing[0])
    assert np.all(marginals.values[:, m, column] == 0.0)
    with pytest.raises(ValueError, match="n_members"):
        seq.TaggerCommittee(seq.CRFTagger(), n_members=1).fit(words, tags)


def test_complete_keeps_a_tag_the_model_never_saw(crf, small):
    train, _ = small
    words = train.tokens[0]
    partial = [None] * len(words)
    partial[0] = "B-NEWTYPE"
    completed = crf.complete([words], [partial])[0]
    assert completed[0] == "B-NEWTYPE"
    assert all(tag in crf.labels_ for tag in completed[1:])
    with pytest.raises(ValueError, match="not among the model's labels"):
        crf.partial_nll([words], [partial])
