"""NER projects: import, span answers, the CRF trainer and queue, exports (SQLite, PostgreSQL)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn_crfsuite", reason="NER projects need the ner extra")

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.studio import ner
from activelab.studio.app import create_app
from activelab.studio.errors import StudioError
from activelab.studio.importers import ImportFailed, parse_bytes
from activelab.studio.project import ProjectConfig, init_project, read_admin_token

from .conftest import bearer

TYPES = ("PER", "LOC")
PEOPLE = ("Ada", "Bob", "Carla", "Dmitri", "Eva", "Farid")
PLACES = ("Paris", "Oslo", "Lima", "Cairo", "Delhi", "Quito")
VERBS = ("flew", "drove", "walked", "moved", "wrote", "went")


def sentence(i: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Sentence ``i`` and its true spans: a person, a verb, a place (learnable)."""
    tokens = [PEOPLE[i % 6], VERBS[(i // 6) % 6], "to", PLACES[(i * 5) % 6], "on", "day", str(i)]
    return tokens, [
        {"start": 0, "end": 1, "label": "PER"},
        {"start": 3, "end": 4, "label": "LOC"},
    ]


def truth_of(tokens: list[str]) -> list[dict[str, Any]]:
    return sentence(int(tokens[-1]))[1]


def conll(n: int) -> str:
    blocks = []
    for i in range(n):
        tokens, _ = sentence(i)
        tags = ["B-PER", "O", "O", "B-LOC", "O", "O", "O"]
        blocks.append("\n".join(f"{t} {g}" for t, g in zip(tokens, tags, strict=True)))
    return "-DOCSTART- O\n\n" + "\n\n".join(blocks) + "\n"


@pytest.fixture
def ner_project(db_url: str, tmp_path: Path) -> Any:
    """An NER project of 40 sentences on ``db_url`` (retrain every 4, first model at 4)."""

    def make(**settings: Any) -> Any:
        data = tmp_path / "sentences.conll"
        data.write_text(conll(40), encoding="utf-8")
        settings.setdefault("retrain_every", 4)
        settings.setdefault("min_labels", 4)
        return init_project(
            tmp_path / "ner", data, TYPES, task="ner", name="ner", db=db_url, **settings
        )

    return make


def _client(config: Any) -> tuple[TestClient, dict[str, str], Any]:
    app = create_app(config, start_trainer=False)
    return TestClient(app), bearer(read_admin_token(config.directory)), app.state.studio.trainer


def _answer(client: TestClient, headers: dict, served: dict, annotation: Any, key: str) -> Any:
    return client.post(
        "/api/p/ner/answers",
        headers=headers,
        json={
            "item_id": served["item"]["id"],
            "lease_id": served["lease"]["id"],
            "labels": [],
            "skipped": annotation is None,
            "seconds": 1.0,
            "idempotency_key": key,
            "annotation": annotation,
        },
    )


# ------------------------------------------------------------------ import and settings


def test_conll_and_jsonl_import_tokens_and_name_bad_lines() -> None:
    text = "# id = first\nAda B-PER\nflew O\n\n-DOCSTART- O\n\nBob\nran\n"
    records, errors = parse_bytes(text.encode(), "s.conll", "ner")
    assert errors == []
    assert [(r.tokens, r.text, r.external_id, r.line) for r in records] == [
        (("Ada", "flew"), "Ada flew", "first", 2),
        (("Bob", "ran"), "Bob ran", None, 7),
    ]
    lines = [
        {"text": "Ada  Lovelace wrote", "tokens": ["Ada", "Lovelace", "wrote"]},
        {"text": "split  on   spaces"},
        {"text": "Ada wrote", "tokens": ["Bob"]},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    records, errors = parse_bytes(data, "s.jsonl", "ner")
    assert [r.tokens for r in records] == [("Ada", "Lovelace", "wrote"), ("split", "on", "spaces")]
    assert records[0].text == "Ada  Lovelace wrote"  # the original spacing is kept
    assert [(e.line, e.field) for e in errors] == [(3, "tokens")]
    assert "not found in the text" in errors[0].message
    _, errors = parse_bytes(b"a b\n", "s.txt", "ner")
    assert "unknown format" in errors[0].message and ".conll" in errors[0].message


def test_ner_settings_are_checked(tmp_path: Path) -> None:
    config = ProjectConfig(tmp_path, "x", TYPES, task="ner").validate()
    assert config.strategy == "seq_mnlp" and config.model_name == "crf-tagger"
    with pytest.raises(ValueError, match=r"tagger strategy: one of .*seq_mnlp"):
        ProjectConfig(tmp_path, "x", TYPES, task="ner", strategy="margin").validate()
    with pytest.raises(ValueError, match="sample_paths"):
        ProjectConfig(tmp_path, "x", TYPES, task="ner", strategy="seq_vote_entropy").validate()
    with pytest.raises(ValueError, match="bare types"):
        ProjectConfig(tmp_path, "x", ("B-PER", "LOC"), task="ner").validate()
    with pytest.raises(ValueError, match="multi_label"):
        ProjectConfig(tmp_path, "x", TYPES, task="ner", multi_label=True).validate()
    with pytest.raises(ValueError, match="for text projects"):
        ProjectConfig(tmp_path, "x", TYPES, task="ner", features="minilm").validate()
    with pytest.raises(ValueError, match="for ner projects"):
        ProjectConfig(tmp_path, "x", TYPES, query="subsequences").validate()
    with pytest.raises(ValueError, match="span_max"):
        ProjectConfig(tmp_path, "x", TYPES, task="ner", span_min=4, span_max=3).validate()
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "a b", "tokens": ["c"]}\n', encoding="utf-8")
    with pytest.raises(ImportFailed, match="line 1, field 'tokens'"):
        init_project(tmp_path / "p", data, TYPES, task="ner")


# ------------------------------------------------------------------ annotations


def test_check_annotation_canonical_form_and_errors(tmp_path: Path) -> None:
    config = ProjectConfig(tmp_path, "x", TYPES, task="ner")
    spans = [{"start": 3, "end": 4, "label": "LOC"}, {"start": 0, "end": 2, "label": "PER"}]
    canonical, labels = ner.check_annotation(config, 5, {"mode": "correct", "spans": spans})
    assert canonical == {"mode": "correct", "range": [0, 5], "spans": spans[::-1]}
    assert labels == ["PER", "LOC"]
    assert ner.annotation_tags(5, canonical) == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    teach, labels = ner.check_annotation(
        config,
        5,
        {
            "mode": "teach",
            "decisions": [{**spans[0], "accept": False}, {**spans[1], "accept": True}],
        },
    )
    assert teach["spans"] == [spans[1]] and labels == ["PER"]
    assert ner.annotation_tags(5, teach) == ["B-PER", "I-PER", None, None, None]
    bad = [
        ({"mode": "correct", "spans": [{"start": 0, "end": 2, "label": "PER"}] * 2}, "overlap"),
        ({"mode": "correct", "spans": [{"start": 4, "end": 6, "label": "PER"}]}, "not inside"),
        ({"mode": "correct", "spans": [{"start": 0, "end": 1, "label": "ORG"}]}, "unknown entity"),
        (
            {"mode": "correct", "range": [2, 4], "spans": [{"start": 0, "end": 1, "label": "PER"}]},
            "leaves the range",
        ),
        ({"mode": "correct", "range": [3, 3]}, "range must be"),
        ({"mode": "teach", "decisions": []}, "one or more"),
        ({"mode": "teach", "decisions": [{**spans[0], "accept": "yes"}]}, "true or false"),
        ({"mode": "guess"}, "'correct' or 'teach'"),
    ]
    for annotation, message in bad:
        with pytest.raises(StudioError, match=message) as caught:
            ner.check_annotation(config, 5, annotation)
        assert caught.value.status == 422


def _brute_force(tagger: Any, tokens: list[str], a: int, b: int, tags: list[str]) -> float:
    """P(tokens a..b-1 tagged ``tags`` and token b not I-<type>), by enumerating paths."""
    emissions = tagger.emissions([tokens])[0]
    transitions = tagger.transitions_
    labels = tagger.labels_
    inside = f"I-{tags[0][2:]}"
    total = hit = 0.0
    for path in itertools.product(range(len(labels)), repeat=len(tokens)):
        score = emissions[np.arange(len(tokens)), path].sum()
        score += sum(transitions[p, q] for p, q in itertools.pairwise(path))
        weight = float(np.exp(score))
        total += weight
        agrees = [labels[path[t]] for t in range(a, b)] == tags
        if agrees and not (b < len(tokens) and labels[path[b]] == inside):
            hit += weight
    return hit / total


@pytest.fixture(scope="module")
def small_tagger() -> Any:
    from activelab.sequence import CRFTagger

    X = [sentence(i)[0][:4] for i in range(12)] + [["Ada", "Lovelace", "in", "Paris"]] * 3
    y = [["B-PER", "O", "O", "B-LOC"]] * 12 + [["B-PER", "I-PER", "O", "B-LOC"]] * 3
    return CRFTagger(max_iterations=30).fit(X, y)


@settings(max_examples=15, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(["Ada", "Lovelace", "in", "Paris", "to", "Bob", "x"]),
        min_size=1,
        max_size=4,
    )
)
def test_entity_confidence_is_the_exact_span_probability(
    small_tagger: Any, words: list[str]
) -> None:
    from activelab.sequence import entities

    tags = small_tagger.predict([words])[0]
    found = entities([tags])[0]
    confidences = ner.entity_confidences(small_tagger, [words], [found])[0]
    assert len(confidences) == len(found)
    for (a, b, _), confidence in zip(found, confidences, strict=True):
        expected = _brute_force(small_tagger, words, a, b, tags[a:b])
        assert 0.0 <= confidence <= 1.0
        assert confidence == pytest.approx(expected, abs=1e-4)


def test_entity_confidence_of_a_sure_and_an_unsure_entity(small_tagger: Any) -> None:
    sure, unsure = ner.entity_confidences(
        small_tagger, [["Ada", "flew", "to", "Paris"], ["x", "x", "x", "Lovelace"]],
        [[(0, 1, "PER")], [(3, 4, "PER")]],
    )  # fmt: skip
    assert sure[0] > 0.8 and unsure[0] < sure[0]


def test_fit_tagger_fills_partial_sentences_and_keeps_the_known_stretch() -> None:
    sentences = [sentence(i)[0] for i in range(8)]
    tags: list[list[Any]] = [ner.annotation_tags(7, {"mode": "correct", "range": [0, 7],
                                                     "spans": sentence(i)[1]})
                             for i in range(6)]  # fmt: skip
    tags.append([None, None, None, "B-LOC", None, None, None])  # an accepted entity only
    tags.append(["B-PER", "O", None, None, None, None, None])  # a sub-sequence answer
    tagger, X_fit, y_fit, n_full = ner.fit_tagger(sentences, tags)
    assert n_full == 6 and X_fit[:6] == sentences[:6]
    # The partial sentences train as their known stretch plus 2 filled tokens each side.
    assert X_fit[6:] == [sentences[6][1:6], sentences[7][0:4]]
    assert y_fit[6][2] == "B-LOC" and y_fit[7][:2] == ["B-PER", "O"]
    assert all(tag is not None for row in y_fit for tag in row)
    assert tagger.predict([sentence(30)[0]])[0][:4] == ["B-PER", "O", "O", "B-LOC"]


# ------------------------------------------------------------------ the whole loop


def test_label_spans_train_rank_and_export(ner_project: Any) -> None:
    config = ner_project()
    client, headers, trainer = _client(config)
    assert client.get("/api/p/ner", headers=headers).json()["task"] == "ner"
    assert trainer.step() == "cold-start"
    served = client.post("/api/p/ner/next", headers=headers).json()
    assert served["item"]["tokens"][2] == "to" and served["suggestion"] is None
    assert served["reason"]["strategy"] == "typiclust"
    # Wrong answers are refused with what to do.
    wrong = _answer(
        client,
        headers,
        served,
        {"mode": "correct", "spans": [{"start": 0, "end": 9, "label": "PER"}]},
        "w",
    )
    assert wrong.status_code == 422 and "not inside" in wrong.json()["detail"]
    labelled = client.post(
        "/api/p/ner/answers",
        headers=headers,
        json={"item_id": served["item"]["id"], "lease_id": served["lease"]["id"],
              "labels": ["PER"], "idempotency_key": "x"},
    )  # fmt: skip
    assert labelled.status_code == 422 and "labels: []" in labelled.json()["detail"]
    keys = []
    for n in range(8):
        if n:
            served = client.post("/api/p/ner/next", headers=headers).json()
        annotation = {"mode": "correct", "spans": truth_of(served["item"]["tokens"])}
        reply = _answer(client, headers, served, annotation, f"k{n}")
        assert reply.status_code == 200, reply.text
        keys.append((served, annotation, reply.json()["answer_id"]))
        if n == 3:
            assert trainer.step() == "trained"
    again = _answer(client, headers, keys[0][0], keys[0][1], "k0").json()
    assert again == {"answer_id": keys[0][2], "duplicate": True}
    assert trainer.step() == "trained"
    info = client.get("/api/p/ner", headers=headers).json()
    assert info["model_version"] == 2 and info["curve"][-1]["n_labeled"] == 8
    assert info["curve"][-1]["estimate"] == pytest.approx(1.0)

    # The model's entities come with their exact probability; a teach answer accepts one.
    served = client.post("/api/p/ner/next", headers=headers).json()
    suggestion = served["suggestion"]
    assert served["reason"] == {**served["reason"], "strategy": "seq_mnlp", "model_version": 2}
    assert [(e["start"], e["end"], e["label"]) for e in suggestion["entities"]] == [
        (s["start"], s["end"], s["label"]) for s in truth_of(served["item"]["tokens"])
    ]
    assert all(0.5 < e["confidence"] <= 1 for e in suggestion["entities"])
    decisions = [{**e, "accept": e["label"] == "PER"} for e in suggestion["entities"]]
    decisions = [{k: d[k] for k in ("start", "end", "label", "accept")} for d in decisions]
    reply = _answer(client, headers, served, {"mode": "teach", "decisions": decisions}, "t")
    assert reply.status_code == 200
    skipped = client.post("/api/p/ner/next", headers=headers).json()
    assert _answer(client, headers, skipped, None, "s").status_code == 200

    exported = client.get("/api/p/ner/export", params={"format": "jsonl"}, headers=headers)
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert len(rows) == 10
    first = rows[0]
    assert first["spans"][0] == {"start": 0, "end": len(first["tokens"][0]), "label": "PER",
                                 "token_start": 0, "token_end": 1}  # fmt: skip
    loc = first["spans"][1]
    assert first["text"][loc["start"] : loc["end"]] == first["tokens"][3]
    assert first["annotator"] == "admin" and first["strategy"] == "typiclust"
    assert first["model_version"] == 0 and first["answered_at"] and first["seconds"] == 1.0
    teach = rows[8]
    assert teach["mode"] == "teach" and teach["strategy"] == "seq_mnlp"
    assert teach["model_version"] == 2 and teach["score"] is not None
    assert teach["tags"] == ["B-PER", "-", "-", "-", "-", "-", "-"]
    assert [d["accept"] for d in teach["decisions"]] == [True, False]
    assert rows[9]["skipped"] and rows[9]["spans"] == []

    text = client.get("/api/p/ner/export", params={"format": "conll"}, headers=headers).text
    blocks = [block.splitlines() for block in text.strip().split("\n\n")]
    assert len(blocks) == 9  # the skip is left out
    comments = dict(line[2:].split(" = ", 1) for line in blocks[8] if line.startswith("# "))
    assert comments["strategy"] == "seq_mnlp" and comments["model_version"] == "2"
    assert comments["accept"].endswith("PER") and comments["reject"].endswith("LOC")
    from activelab.sequence import read_conll

    first_block = text.split("\n\n")[0].splitlines()
    corpus = read_conll([line for line in first_block if not line.startswith("# ")])
    assert corpus.tags[0] == ["B-PER", "O", "O", "B-LOC", "O", "O", "O"]
    csv = client.get("/api/p/ner/export", params={"format": "csv"}, headers=headers)
    assert csv.status_code == 422 and "jsonl or conll" in csv.json()["detail"]
    review = client.put(f"/api/p/ner/answers/{keys[0][2]}", headers=headers, json={"labels": []})
    assert review.status_code == 422
    # Undo brings the last answer's sentence back.
    back = client.post("/api/p/ner/undo", headers=headers).json()
    assert back["item"]["id"] == skipped["item"]["id"]


def test_subsequence_queries_ask_for_the_most_uncertain_stretch(ner_project: Any) -> None:
    config = ner_project(query="subsequences", span_min=2, span_max=3)
    client, headers, trainer = _client(config)
    trainer.step()
    for n in range(4):
        served = client.post("/api/p/ner/next", headers=headers).json()
        assert served["suggestion"] is None  # cold start: whole sentences
        annotation = {"mode": "correct", "spans": truth_of(served["item"]["tokens"])}
        assert _answer(client, headers, served, annotation, f"k{n}").status_code == 200
    assert trainer.step() == "trained"
    served = client.post("/api/p/ner/next", headers=headers).json()
    query = served["suggestion"]["query"]
    assert 2 <= query["end"] - query["start"] <= 3
    tokens = served["item"]["tokens"]
    spans = [s for s in truth_of(tokens) if query["start"] <= s["start"] < query["end"]]
    outside = [s for s in truth_of(tokens) if s not in spans]
    rng = [query["start"], query["end"]]
    if outside:
        refused = _answer(client, headers, served,
                          {"mode": "correct", "range": rng, "spans": outside}, "bad")  # fmt: skip
        assert refused.status_code == 422
    annotation = {"mode": "correct", "range": rng, "spans": spans}
    assert _answer(client, headers, served, annotation, "part").status_code == 200
    part = list(rng)
    for n in range(3):  # enough new answers for a retrain that uses the partial one
        served = client.post("/api/p/ner/next", headers=headers).json()
        query = served["suggestion"]["query"]
        rng = [query["start"], query["end"]]
        spans = [s for s in truth_of(served["item"]["tokens"]) if rng[0] <= s["start"] < rng[1]
                 and s["end"] <= rng[1]]  # fmt: skip
        reply = _answer(client, headers, served, {"mode": "correct", "range": rng, "spans": spans},
                        f"p{n}")  # fmt: skip
        assert reply.status_code == 200, reply.text
    assert trainer.step() == "trained"
    assert client.get("/api/p/ner", headers=headers).json()["model_version"] == 2
    record = json.loads(client.get("/api/p/ner/export", headers=headers).text.splitlines()[4])
    annotated = record["annotated"]
    assert [annotated["token_start"], annotated["token_end"]] == part
    assert record["text"][annotated["start"] : annotated["end"]] == " ".join(
        record["tokens"][part[0] : part[1]]
    )
    assert all((tag == "-") == (not part[0] <= t < part[1]) for t, tag in enumerate(record["tags"]))


def test_the_label_page_of_an_ner_project_is_the_span_page(ner_project: Any) -> None:
    client, _, _ = _client(ner_project())
    page = client.get("/p/ner/label")
    assert page.status_code == 200 and "/static/ner.js" in page.text
    assert 'id="tokens"' in page.text
    assert client.get("/static/ner.js").status_code == 200


def test_cli_init_makes_an_ner_project(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from activelab.studio import cli
    from activelab.studio.project import load_project

    data = tmp_path / "s.conll"
    data.write_text(conll(5), encoding="utf-8")
    args = ["init", str(tmp_path / "p"), "--task", "ner", "--data", str(data), "--labels",
            "PER,LOC", "--query", "subsequences"]  # fmt: skip
    result = CliRunner().invoke(cli.app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    config = load_project(tmp_path / "p")
    assert (config.task, config.strategy, config.query) == ("ner", "seq_mnlp", "subsequences")
    other = ["init", str(tmp_path / "q"), *args[2:], "--strategy", "margin"]
    refused = CliRunner().invoke(cli.app, other, env={"COLUMNS": "200"})
    assert refused.exit_code == 2 and "tagger strategy" in refused.output
