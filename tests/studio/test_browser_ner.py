"""The span-labelling page in a real browser: keyboard spans, accept/reject, CoNLL export.

Playwright drives Debian's Chromium against a real server of an NER project (background
trainer on): spans are labelled with the keyboard only (arrows, Shift, 1–9, Backspace,
Enter), the model's proposals are accepted with A once a model exists, and the CoNLL
export downloaded from the admin page holds them with their provenance. A token carries
markup that must show as text. The page's pure helpers (key map, span edits) are checked
in the same browser.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn_crfsuite", reason="NER projects need the ner extra")

from activelab.studio.project import init_project

from . import test_browser as shared

# The browser, the page (with its error log) and the real server of the main browser tests.
browser = shared.browser
page = shared.page
_serve = shared._serve

pytestmark = pytest.mark.slow

PEOPLE = ("Ada Lovelace", "Bob", "Carla Diaz", "Dmitri", "Eva Stone", "Farid")
PLACES = ("Paris", "Oslo", "Lima", "Cairo", "Delhi", "Quito")
MARKUP = "<b>bold</b>"


def _sentence(i: int) -> str:
    extra = f" near {MARKUP}" if i % 4 == 0 else ""
    return f"{PEOPLE[i % 6]} flew to {PLACES[(i * 5) % 6]} on day {i}{extra}"


def _truth(tokens: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) of the person and the place of a sentence made by _sentence."""
    person = 2 if tokens[1] not in ("flew",) else 1
    place = tokens.index("to") + 1
    return [(0, person, "PER"), (place, place + 1, "LOC")]


@pytest.fixture(scope="module")
def ner_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("studio-ner")
    data = root / "sentences.jsonl"
    data.write_text(
        "".join(json.dumps({"text": _sentence(i), "id": f"s{i}"}) + "\n" for i in range(30)),
        encoding="utf-8",
    )
    config = init_project(
        root / "project", data, ("PER", "LOC"), task="ner", name="ner", retrain_every=3,
        min_labels=3,
    )  # fmt: skip
    with _serve(config) as served:
        yield served


def _tokens(page: Any) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('#tokens .tok'), (n) => n.textContent)"
    )


def _wait_for_new_sentence(page: Any, before: str) -> str:
    page.wait_for_function(
        "b => { const id = document.getElementById('item-id').textContent;"
        " return id !== b && id !== '–' && document.querySelector('#tokens .tok'); }",
        arg=before,
    )
    return page.inner_text("#item-id")


def _label_with_keys(page: Any, spans: list[tuple[int, int, str]]) -> None:
    """Label ``spans`` from the keyboard: move, extend with Shift, press the type's key."""
    page.keyboard.press("Home")
    cursor = 0
    for start, end, label in spans:
        for _ in range(start - cursor):
            page.keyboard.press("ArrowRight")
        for _ in range(end - start - 1):
            page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("1" if label == "PER" else "2")
        cursor = end - 1


def test_label_spans_with_the_keyboard_accept_proposals_and_export(
    page: Any, ner_studio: dict[str, Any], tmp_path: Path
) -> None:
    base, api = ner_studio["base"], ner_studio["api"]
    page.goto(f"{base}/login?token={ner_studio['token']}")
    page.wait_for_url("**/p/ner/label")
    page.wait_for_selector("#tokens .tok")
    page.evaluate("() => { window.__sameDocument = true; }")
    labelled: dict[str, list[tuple[int, int, str]]] = {}

    # Full correction, keyboard only. The first sentence also gets a wrong span that
    # Backspace removes again.
    item = page.inner_text("#item-id")
    for n in range(3):
        tokens = _tokens(page)
        spans = _truth(tokens)
        if n == 0:
            page.keyboard.press("End")
            page.keyboard.press("2")
            assert page.locator("#tokens .tok.ent").count() == 1
            page.keyboard.press("Backspace")
            assert page.locator("#tokens .tok.ent").count() == 0
        _label_with_keys(page, spans)
        tags = page.locator("#tokens .ent-tag").all_inner_texts()
        assert tags == [label for _, _, label in spans]
        labelled[item] = spans
        page.keyboard.press("Enter")
        item = _wait_for_new_sentence(page, item)
    # The trainer retrains after 3 answers; sentences ranked by the model come with its
    # entities pre-drawn, with their confidence (S skips the ones served before).
    deadline = time.monotonic() + 90
    while api.get("/api/p/ner").json()["model_version"] < 1:
        assert time.monotonic() < deadline, "no model after 3 answers"
        page.wait_for_timeout(250)
    for _ in range(6):
        if page.locator("#tokens .ent-tag").count():
            break
        page.keyboard.press("s")
        item = _wait_for_new_sentence(page, item)
    page.wait_for_selector("#tokens .ent-tag")
    drawn = page.locator("#tokens .ent-tag").all_inner_texts()
    assert all(text.split()[0] in ("PER", "LOC") and text.endswith("%") for text in drawn)
    assert page.inner_text("#model-version") != "0"

    # Accept/reject: M switches mode; A accepts each proposed entity, one at a time.
    page.keyboard.press("m")
    page.wait_for_selector("#proposal:not([hidden])")
    teach_item = page.inner_text("#item-id")
    proposals = len(drawn)
    for _ in range(proposals):
        page.wait_for_selector("#tokens .tok.proposal")
        page.keyboard.press("a")
    after_teach = _wait_for_new_sentence(page, teach_item)
    page.wait_for_selector("#sync:text('all answers saved')")

    # Markup in a token is text, never HTML.
    for _ in range(10):
        if any(MARKUP in t for t in _tokens(page)):
            break
        page.keyboard.press("s")
        after_teach = _wait_for_new_sentence(page, after_teach)
    assert any(MARKUP in t for t in _tokens(page))
    children = page.evaluate(
        "() => Array.from(document.querySelectorAll('#tokens .tok'),"
        " (n) => n.childElementCount).reduce((a, b) => a + b, 0)"
    )
    assert children == 0 and page.locator("#tokens b").count() == 0
    assert page.evaluate("() => window.__sameDocument === true")  # never a full reload
    assert page.problems == []

    # The server holds the keyboard's spans exactly.
    answers = api.get("/api/p/ner/answers", params={"limit": 100}).json()
    by_item = {str(a["item_id"]): a for a in answers}
    for item_id, spans in labelled.items():
        stored = by_item[item_id]["annotation"]
        assert stored["mode"] == "correct"
        assert [(s["start"], s["end"], s["label"]) for s in stored["spans"]] == spans
    teach = by_item[teach_item]["annotation"]
    assert teach["mode"] == "teach" and len(teach["decisions"]) == proposals
    assert all(d["accept"] for d in teach["decisions"])

    # Export CoNLL from the admin page.
    page.goto(f"{base}/p/ner/admin")
    page.wait_for_selector("#export-conll", state="visible")
    assert page.locator("#export-csv").is_hidden()
    with page.expect_download() as download:
        page.click("#export-conll")
    path = tmp_path / "spans.conll"
    download.value.save_as(path)
    blocks = [b.splitlines() for b in path.read_text(encoding="utf-8").strip().split("\n\n")]
    records = {}
    for block in blocks:
        comments = dict(line[2:].split(" = ", 1) for line in block if line.startswith("# "))
        rows = [line.split(" ") for line in block if not line.startswith("# ")]
        records[comments["item_id"]] = (comments, rows)
    for item_id, spans in labelled.items():
        comments, rows = records[item_id]
        assert comments["annotator"] == "admin" and comments["answered_at"]
        assert comments["strategy"] and comments["model_version"] != ""
        tags = [tag for _, tag in rows]
        for start, end, label in spans:
            assert tags[start] == f"B-{label}"
            assert tags[start + 1 : end] == [f"I-{label}"] * (end - start - 1)
    comments, rows = records[teach_item]
    assert comments["strategy"] == "seq_mnlp" and int(comments["model_version"]) >= 1
    assert comments["accept"]
    assert any(tag.startswith("B-") for _, tag in rows) and "-" in [tag for _, tag in rows]
    assert page.problems == []


def test_span_keys_and_edits(page: Any, ner_studio: dict[str, Any]) -> None:
    page.goto(f"{ner_studio['base']}/p/ner/label")
    result = page.evaluate(
        """async () => {
          const { nerKeyAction, setSpan, removeSpanAt } = await import('/static/keys.js');
          const c = { labelCount: 2, mode: 'correct' };
          const t = { labelCount: 2, mode: 'teach' };
          const k = (key, opts, extra = {}) => nerKeyAction({ key, ...extra }, opts);
          const spans = setSpan([{ start: 0, end: 2, label: 'PER' },
                                 { start: 4, end: 5, label: 'LOC' }], 1, 4, 'LOC');
          return {
            keys: [k('ArrowRight', c), k('ArrowLeft', c, { shiftKey: true }), k('2', c),
                   k('3', c), k('Enter', c), k('Enter', t), k('a', t), k('a', c), k('x', t),
                   k('Backspace', c), k('Delete', c), k('m', c), k('1', c, { ctrlKey: true })],
            spans,
            removed: removeSpanAt(spans, 2),
          };
        }"""
    )
    assert result["keys"] == [
        {"type": "move", "delta": 1, "extend": False},
        {"type": "move", "delta": -1, "extend": True},
        {"type": "label", "index": 1},
        None,
        {"type": "submit"},
        {"type": "accept"},
        {"type": "accept"},
        None,
        {"type": "reject"},
        {"type": "remove"},
        {"type": "remove"},
        {"type": "mode"},
        None,
    ]
    # The new span replaces the one it overlaps; the one after it stays.
    assert result["spans"] == [
        {"start": 1, "end": 4, "label": "LOC"},
        {"start": 4, "end": 5, "label": "LOC"},
    ]
    assert result["removed"] == [{"start": 4, "end": 5, "label": "LOC"}]
