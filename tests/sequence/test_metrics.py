"""Entity-level precision, recall and F1 against seqeval."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.sequence as seq

TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-PER", "I-ORG"]


@st.composite
def true_and_predicted(draw):
    lengths = draw(st.lists(st.integers(0, 9), min_size=1, max_size=5))
    true = [[draw(st.sampled_from(TAGS)) for _ in range(n)] for n in lengths]
    pred = [[draw(st.sampled_from(TAGS)) for _ in range(n)] for n in lengths]
    return true, pred


@settings(max_examples=200, deadline=None)
@given(true_and_predicted())
def test_micro_and_per_type_scores_equal_seqeval(data):
    metrics = pytest.importorskip("seqeval.metrics")
    true, pred = data
    mine = seq.entity_scores(true, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mine["precision"] == pytest.approx(metrics.precision_score(true, pred), abs=1e-12)
        assert mine["recall"] == pytest.approx(metrics.recall_score(true, pred), abs=1e-12)
        assert mine["f1"] == pytest.approx(metrics.f1_score(true, pred), abs=1e-12)
        assert seq.entity_f1(true, pred) == mine["f1"]
        report = metrics.classification_report(true, pred, output_dict=True)
    for name, row in mine["per_type"].items():
        assert row["f1"] == pytest.approx(report[name]["f1-score"], abs=1e-12)
        assert row["precision"] == pytest.approx(report[name]["precision"], abs=1e-12)
        assert row["support"] == report[name]["support"]


@settings(max_examples=100, deadline=None)
@given(true_and_predicted())
def test_strict_mode_equals_seqeval_strict_on_valid_bioes(data):
    metrics = pytest.importorskip("seqeval.metrics")
    scheme_module = pytest.importorskip("seqeval.scheme")
    true, pred = data
    # Make both well-formed BIOES: read with conlleval rules, write back in BIOES.
    true = seq.convert_tags(true, "IOB2", "BIOES")
    pred = seq.convert_tags(pred, "IOB2", "BIOES")
    mine = seq.entity_f1(true, pred, "BIOES", mode="strict")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = metrics.f1_score(true, pred, mode="strict", scheme=scheme_module.IOBES)
    assert mine == pytest.approx(theirs, abs=1e-12)


def test_known_counts():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O"]]
    scores = seq.entity_scores(true, pred)
    assert (scores["correct"], scores["predicted"], scores["support"]) == (1, 2, 3)
    assert scores["precision"] == 0.5
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)
    assert scores["per_type"]["PER"]["f1"] == 1.0
    assert scores["per_type"]["LOC"]["recall"] == 0.0


def test_no_entities_anywhere_scores_zero():
    scores = seq.entity_scores([["O", "O"]], [["O", "O"]])
    assert scores["f1"] == 0.0 and scores["per_type"] == {}


def test_token_accuracy_and_errors():
    assert seq.token_accuracy(
        [["B-PER", "O"], ["O"]], [["B-PER", "B-LOC"], ["O"]]
    ) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="sentence 0 has 2 true tags but 1"):
        seq.entity_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 sentences"):
        seq.entity_scores([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="at least one token"):
        seq.token_accuracy([[]], [[]])
