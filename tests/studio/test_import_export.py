"""Import errors name the line and the field; exports escape formulas and carry provenance."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from activelab.studio import exporters, importers
from activelab.studio.importers import ImportFailed, parse_bytes, read_records

from .conftest import bearer


def problems(data: bytes, name: str, task: str = "text") -> list[tuple[int, str]]:
    return [(p.line, p.field) for p in parse_bytes(data, name, task)[1]]


def test_csv_reads_text_id_and_meta() -> None:
    records, errors = parse_bytes(b'text,id,source\n"hello, world",a1,web\nbye,,\n', "x.csv")
    assert errors == []
    assert [(r.text, r.external_id, r.meta) for r in records] == [
        ("hello, world", "a1", {"source": "web"}),
        ("bye", None, {"source": ""}),
    ]
    assert [r.line for r in records] == [2, 3]


def test_csv_errors_name_the_line_and_the_field() -> None:
    data = b'text,id\nok,1\n,2\n"multi\nline text",3\n"quoted",4,extra\nfine,5\n   ,6\n'
    assert problems(data, "items.csv") == [(3, "text"), (6, "(line)"), (8, "text")]
    missing = parse_bytes(b"body,id\nx,1\n", "items.csv")[1]
    assert [(p.line, p.field) for p in missing] == [(1, "text")]
    assert "no column 'text'" in missing[0].message and "'body'" in missing[0].message


def test_jsonl_errors_name_the_line_and_the_field() -> None:
    lines = [
        '{"text": "fine", "id": 1}',
        "",
        '{"text": 5}',
        "{not json",
        '["a list"]',
        '{"body": "no text"}',
        '{"text": "ok", "meta": "not an object"}',
        '{"text": "ok", "id": [1]}',
        '{"text": "last", "lang": "en"}',
    ]
    data = "\n".join(lines).encode()
    assert problems(data, "items.jsonl") == [
        (3, "text"),
        (4, "(line)"),
        (5, "(line)"),
        (6, "text"),
        (7, "meta"),
        (8, "id"),
    ]
    records = parse_bytes(data, "items.jsonl")[0]
    assert [(r.line, r.text, r.meta) for r in records] == [
        (1, "fine", None),
        (9, "last", {"lang": "en"}),
    ]


def test_bad_encoding_names_the_line() -> None:
    data = b"a,b\n" + b"text\nfine\n\xff\xfe broken\n"
    assert problems(data, "items.csv") == [(4, "(line)")]


def test_unknown_format_is_refused() -> None:
    assert problems(b"x", "items.xlsx") == [(1, "(file)")]


def test_image_paths_must_stay_inside_the_folder() -> None:
    data = b'{"image": "../secret.png"}\n{"image": "/etc/x.png"}\n{"image": "a/b.txt"}\n'
    data += b'{"image": "ok/cat.png"}\n'
    assert problems(data, "i.jsonl", task="image") == [(1, "image"), (2, "image"), (3, "image")]
    assert importers.safe_relative_path("a/../../b.png") is None
    assert importers.safe_relative_path("c:evil.png") is None
    assert importers.safe_relative_path("cats/1.png") == "cats/1.png"


def test_read_records_raises_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("text\nfine\n\nalso fine\nx,y\n")
    with pytest.raises(ImportFailed) as failed:
        read_records(path)
    assert [(e.line, e.field) for e in failed.value.errors] == [(5, "(line)")]
    assert "line 5" in str(failed.value)
    path.write_text("text\n")
    with pytest.raises(ImportFailed, match="no items"):
        read_records(path)


def test_folder_of_images(tmp_path: Path) -> None:
    from PIL import Image

    for name in ("b/2.png", "a/1.jpg", "c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    records = read_records(tmp_path, task="image")
    assert [r.image for r in records] == ["a/1.jpg", "b/2.png", "c.png"]
    assert records[0].meta == {"folder": "a"}


def test_escape_cell_prefixes_every_formula_start() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert exporters.escape_cell(start + "1+1") == "'" + start + "1+1"
    assert exporters.escape_cell("1+1") == "1+1"
    assert exporters.escape_cell(-2.5) == -2.5
    assert exporters.escape_cell(None) is None


def _labelled_project(make_project, texts):
    """A project with one answer per text through the API; returns (client, config, token)."""
    from fastapi.testclient import TestClient

    from activelab.studio.app import create_app
    from activelab.studio.project import read_admin_token

    config = make_project(texts, labels=("pos", "neg"))
    token = read_admin_token(config.directory)
    client = TestClient(create_app(config, start_trainer=False))
    for i in range(len(texts)):
        served = client.post("/api/p/proj/next", headers=bearer(token)).json()
        client.post(
            "/api/p/proj/answers",
            headers=bearer(token),
            json={
                "item_id": served["item"]["id"],
                "lease_id": served["lease"]["id"],
                "labels": ["pos"] if i % 2 == 0 else [],
                "skipped": i % 2 == 1,
                "seconds": 1.25 + i,
                "idempotency_key": f"k{i}",
            },
        ).raise_for_status()
    return client, config, token


DANGEROUS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\ry", "plain"]


def test_csv_export_escapes_formula_injection_and_reads_back(make_project) -> None:
    client, _, token = _labelled_project(make_project, DANGEROUS)
    response = client.get("/api/p/proj/export?format=csv", headers=bearer(token))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="proj-answers.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == len(DANGEROUS)
    texts = {row["text"] for row in rows}
    assert texts == {("'" + t) if t[0] in "=+-@\t\r" else t for t in DANGEROUS}
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)


def test_exports_carry_annotator_times_seconds_and_why_shown(make_project) -> None:
    texts = ["first", "second", "third"]
    client, _config, token = _labelled_project(make_project, texts)
    jsonl = client.get("/api/p/proj/export?format=jsonl", headers=bearer(token))
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [row["text"] for row in rows] == ["first", "second", "third"]
    assert tuple(rows[0]) == exporters.COLUMNS
    first = rows[0]
    assert first["annotator"] == "admin" and first["role"] == "admin"
    assert first["labels"] == ["pos"] and first["skipped"] is False
    assert rows[1]["labels"] == [] and rows[1]["skipped"] is True
    assert [row["seconds"] for row in rows] == [1.25, 2.25, 3.25]
    assert first["served_at"] <= first["answered_at"]
    # No ranking ran (trainer off): the items were served in import order.
    assert (first["strategy"], first["model_version"]) == ("import-order", 0)
    assert first["external_id"] == "x0"

    pq = pytest.importorskip("pyarrow.parquet")
    parquet = client.get("/api/p/proj/export?format=parquet", headers=bearer(token))
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == list(exporters.COLUMNS)
    assert table.column("labels").to_pylist() == [["pos"], [], ["pos"]]
    assert table.column("seconds").to_pylist() == [1.25, 2.25, 3.25]


def test_exports_leave_out_withdrawn_answers_and_keep_review_history(make_project) -> None:
    client, _, token = _labelled_project(make_project, ["a", "b"])
    undone = client.post("/api/p/proj/undo", headers=bearer(token)).json()
    assert undone["item"]["text"] == "b"
    answers = client.get("/api/p/proj/answers", headers=bearer(token)).json()
    assert [a["item"]["text"] for a in answers] == ["a"]
    corrected = client.put(
        f"/api/p/proj/answers/{answers[0]['id']}", headers=bearer(token), json={"labels": ["neg"]}
    ).json()
    assert corrected["labels"] == ["neg"] and corrected["original_labels"] == ["pos"]
    rows = [
        json.loads(line)
        for line in client.get("/api/p/proj/export", headers=bearer(token)).text.splitlines()
    ]
    assert [(r["text"], r["labels"], r["original_labels"], r["reviewed_by"]) for r in rows] == [
        ("a", ["neg"], ["pos"], "admin")
    ]
