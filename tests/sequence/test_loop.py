"""The active learning loop for taggers: budgets and curves in tokens, sentences or seconds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import activelab.sequence as seq

pytest.importorskip("sklearn_crfsuite")


def run(small, strategy="seq_mnlp", tagger=None, **options):
    train, test = small
    settings = {"initial": 5, "batch_size": 300, "budget": 900, "random_state": 0}
    settings.update(options)
    return seq.simulate(
        tagger or seq.CRFTagger(max_iterations=8),
        strategy,
        train.tokens,
        train.tags,
        test.tokens,
        test.tags,
        **settings,
    )


def test_sentence_queries_spend_the_token_budget(small):
    result = run(small)
    tokens = [r.tokens for r in result.history]
    assert tokens == sorted(tokens) and tokens[-1] >= 900
    assert all(b - a >= 300 for a, b in itertools.pairwise(tokens[:-1]))  # each batch is filled
    for r in result.history[1:]:
        assert all(a == 0 for _, a, _ in r.queried)  # whole sentences
        assert sum(b - a for _, a, b in r.queried) == r.tokens - result.history[r.round - 1].tokens
    assert result.history[0].sentences == 5
    assert 0.0 <= result.final["f1"] <= 1.0
    x, y = result.curve()
    assert x.tolist() == tokens and y.shape == x.shape
    share, _ = result.curve(unit="share")
    np.testing.assert_allclose(share, np.array(tokens) / small[0].n_tokens)
    assert 0.0 <= result.aulc() <= 1.0
    assert result.pool_sentences == len(small[0])


def test_queried_sentences_are_new_each_round(small):
    result = run(small, "seq_least_confidence")
    seen: set[int] = set()
    for r in result.history:
        picked = {s for s, _, _ in r.queried}
        assert not picked & seen
        seen |= picked


@pytest.mark.parametrize("query", ["subsequences", "tokens"])
def test_span_queries_label_only_parts_of_sentences(small, query):
    result = run(small, "seq_token_entropy", query=query, span_length=(2, 3))
    longest = 1 if query == "tokens" else 3
    later = [span for r in result.history[1:] for span in r.queried]
    assert later and all(1 <= b - a <= longest for _, a, b in later)
    assert result.history[-1].sentences_touched > result.history[0].sentences_touched
    # Tokens count what the oracle labelled, not the model-filled rest of the sentence.
    assert result.history[-1].tokens == result.history[0].tokens + sum(b - a for _, a, b in later)
    assert result.history[1].sentences - result.history[0].sentences == len(
        result.history[1].queried
    )


def test_random_spans_and_random_sentences(small):
    spans = run(small, "random", query="subsequences")
    assert spans.strategy == "random" and len(spans.history) >= 2
    sentences = run(small, "random")
    assert sentences.history[-1].tokens >= 900


def test_units_sentences_and_seconds(small):
    by_sentences = run(small, unit="sentences", batch_size=4, budget=13)
    assert [r.sentences for r in by_sentences.history] == [5, 9, 13]
    cost = seq.CostModel(a=2.0, b=0.5)
    by_seconds = run(small, unit="seconds", batch_size=150, budget=500, cost_model=cost)
    last = by_seconds.history[-1]
    assert last.seconds == pytest.approx(2.0 * last.sentences + 0.5 * last.tokens)
    assert last.seconds >= 500
    x, _ = by_seconds.curve()
    assert x[-1] == pytest.approx(last.seconds)
    with pytest.raises(ValueError, match="cost_model"):
        run(small, unit="seconds")


def test_cost_model_fit():
    model = seq.CostModel.fit([4, 8, 12, 20], [5.0, 7.0, 9.0, 13.0])
    assert (model.a, model.b) == pytest.approx((3.0, 0.5))
    np.testing.assert_allclose(model.cost([10]), [8.0])
    assert seq.CostModel.fit([5, 5], [10.0, 12.0]).b == pytest.approx(2.2)
    with pytest.raises(ValueError, match="a, b >= 0"):
        seq.CostModel(a=-1.0)
    with pytest.raises(ValueError, match=">= 2 records"):
        seq.CostModel.fit([1], [1.0])


def test_committee_strategy_in_the_loop(small):
    committee = seq.TaggerCommittee(seq.CRFTagger(max_iterations=5), n_members=2)
    result = run(small, "seq_vote_entropy", tagger=committee, budget=600)
    assert result.model.startswith("TaggerCommittee") and len(result.history) >= 2


def test_cost_to_reach_and_frame(small):
    result = run(small)
    f1 = result.final["f1"]
    assert result.cost_to_reach(f1) <= result.history[-1].tokens
    assert np.isnan(result.cost_to_reach(2.0))
    frame = result.to_frame()
    assert list(frame["tokens"]) == [r.tokens for r in result.history]
    assert {"f1", "precision", "recall", "share", "query_seconds"} <= set(frame.columns)


def test_clear_errors(small):
    train, _ = small
    with pytest.raises(TypeError, match="Tagger"):
        seq.simulate(object(), "seq_mnlp", train.tokens, train.tags)
    with pytest.raises(ValueError, match="query must be"):
        run(small, query="documents")
    with pytest.raises(ValueError, match="unit must be"):
        run(small, unit="pages")
    with pytest.raises(ValueError, match="initial"):
        run(small, initial=0)
    with pytest.raises(TypeError, match="per-token utilities"):
        run(small, "margin", query="tokens")
    with pytest.raises(ValueError, match="unknown tagger strategy"):
        run(small, "seq_nonsense")
