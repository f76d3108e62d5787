"""Tag schemes: entity spans, conversions and their round trips."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.sequence as seq

TYPES = ["PER", "LOC", "ORG"]


@st.composite
def spans_and_lengths(draw, max_sentences=4, max_length=9):
    """Random sentences with random non-overlapping (possibly adjacent) entity spans."""
    n = draw(st.integers(1, max_sentences))
    lengths, spans = [], []
    for _ in range(n):
        length = draw(st.integers(0, max_length))
        cuts = sorted(draw(st.sets(st.integers(0, length), max_size=6)))
        sentence = []
        for a, b in itertools.pairwise(cuts):
            if draw(st.booleans()):
                sentence.append((a, b, draw(st.sampled_from(TYPES))))
        lengths.append(length)
        spans.append(sentence)
    return spans, lengths


@settings(max_examples=150, deadline=None)
@given(spans_and_lengths(), st.sampled_from(seq.SCHEMES))
def test_spans_survive_encoding_in_every_scheme(data, scheme):
    spans, lengths = data
    tags = seq.spans_to_tags(spans, lengths, scheme)
    assert [len(t) for t in tags] == lengths
    assert seq.entities(tags) == spans
    if scheme != "IOB1":
        assert seq.entities(tags, scheme, mode="strict") == spans


@settings(max_examples=150, deadline=None)
@given(spans_and_lengths(), st.sampled_from(seq.SCHEMES), st.sampled_from(seq.SCHEMES))
def test_conversions_round_trip(data, source, target):
    spans, lengths = data
    tags = seq.spans_to_tags(spans, lengths, source)
    there = seq.convert_tags(tags, source, target)
    assert seq.convert_tags(there, target, source) == tags
    assert seq.entities(there) == spans


def test_iob1_uses_b_only_between_touching_entities_of_one_type():
    tags = seq.spans_to_tags([[(0, 1, "PER"), (1, 2, "PER"), (2, 3, "LOC")]], [4], "IOB1")
    assert tags == [["I-PER", "B-PER", "I-LOC", "O"]]


def test_conlleval_reading_repairs_ill_formed_tags():
    tags = [["O", "I-PER", "I-PER", "I-LOC", "B-LOC", "E-LOC", "S-ORG"]]
    assert seq.entities(tags) == [[(1, 3, "PER"), (3, 4, "LOC"), (4, 6, "LOC"), (6, 7, "ORG")]]


def test_strict_reading_drops_what_the_scheme_forbids():
    assert seq.entities([["O", "I-PER", "B-LOC", "I-LOC"]], "IOB2", "strict") == [[(2, 4, "LOC")]]
    bioes = [["B-PER", "I-PER", "O", "B-LOC", "E-LOC", "S-ORG", "B-ORG"]]
    assert seq.entities(bioes, "BIOES", "strict") == [[(3, 5, "LOC"), (5, 6, "ORG")]]
    with pytest.raises(ValueError, match="IOB2 does not use"):
        seq.entities([["S-PER"]], "IOB2", "strict")
    with pytest.raises(ValueError, match="convert IOB1"):
        seq.entities([["I-PER"]], "IOB1", "strict")


def test_entities_agree_with_seqeval_on_random_tags():
    sequence_labeling = pytest.importorskip("seqeval.metrics.sequence_labeling")
    scheme_module = pytest.importorskip("seqeval.scheme")
    import random

    rng = random.Random(7)
    pool = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]
    for _ in range(400):
        tags = [[rng.choice(pool) for _ in range(rng.randint(0, 8))] for _ in range(3)]
        mine = sorted((i, t, a, b - 1) for i, s in enumerate(seq.entities(tags)) for a, b, t in s)
        theirs = sorted(
            (i, t, a, b)
            for i, s in enumerate(tags)
            for t, a, b in sequence_labeling.get_entities(s)
        )
        assert mine == theirs
        for scheme, cls, allowed in (
            ("IOB2", scheme_module.IOB2, pool[:3] + pool[5:7]),
            ("BIOES", scheme_module.IOBES, pool),
        ):
            tags = [[rng.choice(allowed) for _ in range(rng.randint(0, 8))] for _ in range(3)]
            mine = sorted(
                (i, t, a, b)
                for i, s in enumerate(seq.entities(tags, scheme, "strict"))
                for a, b, t in s
            )
            theirs = sorted(
                e.to_tuple() for e in itertools.chain(*scheme_module.Entities(tags, cls).entities)
            )
            assert mine == theirs


def test_detect_and_check_scheme():
    assert seq.detect_scheme([["I-PER", "O"]]) == "IOB1"
    assert seq.detect_scheme([["B-PER", "I-PER"]]) == "IOB2"
    assert seq.detect_scheme([["S-PER"]]) == "BIOES"
    assert seq.detect_scheme([["O"]]) == "IOB2"
    from activelab.sequence._schemes import check_scheme

    assert check_scheme("iobes") == "BIOES"
    with pytest.raises(ValueError, match="unknown tag scheme"):
        check_scheme("BILOU")


def test_bad_tags_and_spans_are_clear_errors():
    with pytest.raises(ValueError, match="is not 'O'"):
        seq.entities([["B_PER"]])
    with pytest.raises(TypeError, match="flat list"):
        seq.entities(["B-PER", "O"])
    with pytest.raises(ValueError, match="overlap"):
        seq.spans_to_tags([[(0, 2, "PER"), (1, 3, "LOC")]], [4])
    with pytest.raises(ValueError, match="does not fit"):
        seq.spans_to_tags([[(2, 6, "PER")]], [4])
