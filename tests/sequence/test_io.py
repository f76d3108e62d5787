"""Reading and writing CoNLL, JSONL spans and spaCy pairs; the shipped corpora."""

from __future__ import annotations

import io

import numpy as np
import pytest

import activelab.sequence as seq

TOKENS = [["Ada", "Lovelace", "met", "Charles", "Babbage", "."], ["In", "London", "."]]
TAGS = [["B-PER", "I-PER", "O", "B-PER", "I-PER", "O"], ["O", "B-LOC", "O"]]


def test_wikigold_and_wnut17_load_offline_with_their_sizes(wikigold):
    assert (len(wikigold), wikigold.n_tokens, wikigold.scheme) == (1696, 39007, "IOB2")
    assert wikigold.documents.max() + 1 == 145
    assert wikigold.labels == [
        "O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER",
    ]  # fmt: skip
    original = seq.load_wikigold(scheme=None)
    assert original.scheme == "IOB1" and original.tags[0][0] == "I-MISC"
    assert seq.convert_tags(wikigold.tags, "IOB2", "IOB1") == original.tags
    sizes = {split: seq.load_wnut17(split).n_tokens for split in ("train", "dev", "test")}
    assert sizes == {"train": 62730, "dev": 15733, "test": 23394}
    assert len(seq.load_wnut17("train")) == 3394
    with pytest.raises(ValueError, match="split must be"):
        seq.load_wnut17("validation")


def test_the_licences_ship_with_the_data():
    from importlib import resources

    folder = resources.files("activelab.sequence").joinpath("data")
    names = {entry.name for entry in folder.iterdir()}
    assert {"ATTRIBUTION.md", "LICENSE-wikigold.txt", "LICENSE-wnut17.txt"} <= names
    assert "CC-BY 4.0" in folder.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("suffix", [".conll", ".conll.gz"])
def test_conll_round_trip_keeps_documents(tmp_path, suffix):
    corpus = seq.TaggedCorpus(TOKENS, TAGS, "IOB2", np.array([0, 1]))
    path = tmp_path / f"out{suffix}"
    seq.write_conll(path, corpus)
    back = seq.read_conll(path)
    assert back.tokens == TOKENS and back.tags == TAGS
    assert back.documents.tolist() == [0, 1]
    assert back.scheme == "IOB2"


def test_read_conll_columns_separator_and_conversion():
    lines = ["-DOCSTART- -X- O", "", "Ada NNP B-PER", "Lovelace NNP I-PER", "", "x NN O"]
    corpus = seq.read_conll(lines, to_scheme="BIOES")
    assert corpus.tokens == [["Ada", "Lovelace"], ["x"]]
    assert corpus.tags == [["B-PER", "E-PER"], ["O"]]
    tabbed = seq.read_conll(["New\tB-LOC", "York\tI-LOC"], separator="\t", scheme="IOB2")
    assert tabbed.tokens == [["New", "York"]]
    with pytest.raises(ValueError, match="line 1 has 1 column"):
        seq.read_conll(["lonely"])


def test_write_conll_to_a_stream_from_pairs():
    stream = io.StringIO()
    seq.write_conll(stream, (TOKENS, TAGS), separator="\t")
    assert stream.getvalue().splitlines()[:2] == ["Ada\tB-PER", "Lovelace\tI-PER"]


def test_jsonl_spans_round_trip(tmp_path):
    path = tmp_path / "spans.jsonl"
    seq.write_jsonl(path, (TOKENS, TAGS))
    back = seq.read_jsonl(path)
    assert back.tokens == TOKENS and back.tags == TAGS
    record = seq.to_span_records((TOKENS, TAGS))[0]
    assert record["text"][record["spans"][1]["start"] : record["spans"][1]["end"]] == (
        "Charles Babbage"
    )


def test_span_records_without_tokens_and_alignment():
    record = {"text": "Ada  Lovelace wrote", "spans": [{"start": 0, "end": 13, "label": "PER"}]}
    corpus = seq.from_span_records([record], scheme="BIOES")
    assert corpus.tokens == [["Ada", "Lovelace", "wrote"]]
    assert corpus.tags == [["B-PER", "E-PER", "O"]]
    partial = {"text": "Ada Lovelace wrote", "spans": [{"start": 1, "end": 6, "label": "PER"}]}
    with pytest.raises(ValueError, match="token boundaries"):
        seq.from_span_records([partial])
    expanded = seq.from_span_records([partial], alignment="expand")
    assert expanded.tags == [["B-PER", "I-PER", "O"]]
    with pytest.raises(ValueError, match="no 'text'"):
        seq.from_span_records([{"spans": []}])
    with pytest.raises(ValueError, match="not found in the text"):
        seq.from_span_records([{"text": "a b", "tokens": ["a", "c"]}])


def test_spacy_pairs_round_trip():
    pairs = seq.to_spacy((TOKENS, TAGS))
    assert pairs[1] == ("In London .", {"entities": [(3, 9, "LOC")]})
    back = seq.from_spacy(pairs)
    assert back.tokens == TOKENS and back.tags == TAGS


def test_corpus_split_subset_and_checks(wikigold):
    train, test = wikigold.split(0.2, random_state=0)
    assert len(train) + len(test) == len(wikigold)
    assert len(test) == round(0.2 * len(wikigold))
    again, _ = wikigold.split(0.2, random_state=0)
    assert again.tokens == train.tokens
    assert wikigold.subset([3, 1]).tokens == [wikigold.tokens[3], wikigold.tokens[1]]
    assert wikigold.subset([0]).entities() == seq.entities([wikigold.tags[0]])
    with pytest.raises(ValueError, match="test_size"):
        wikigold.split(1.5)
    with pytest.raises(ValueError, match="every token needs exactly one tag"):
        seq.TaggedCorpus([["a", "b"]], [["O"]])
