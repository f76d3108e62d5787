"""Exporting answers as JSONL, CSV or Parquet, with who, when, and why each item was shown.

One row per live answer (withdrawn answers are left out; a reviewed answer carries the
reviewer's labels, the annotator's in ``original_labels``):

``answer_id, item_id, external_id, text, image, labels, skipped, annotator, role,
served_at, answered_at, updated_at, seconds, reviewed_by, original_labels, strategy,
model_version, score, probability, meta, gold_labels, gold_confidence, aggregation,
machine, llm_model, llm_confidence, llm_cost, llm_uncertainty``

``gold_labels`` is the item's label as the project aggregates its answers (the label the
model trains on: majority vote, or Dawid–Skene EM with ``aggregation = "dawid_skene"``;
a reviewed answer wins), the same on every row of the item; ``gold_confidence`` the
share of votes for it (majority) or its posterior probability (Dawid–Skene).
``machine`` is true for the LLM labeller's answers (annotator ``llm:<model>``, role
``machine``), which carry the LLM's ``llm_confidence``, this label's share of its
round's cost (``llm_cost``) and the model uncertainty that routed the item to the LLM
(``llm_uncertainty``, also in ``score``).

``strategy``, ``model_version``, ``score`` and ``probability`` say why the item was
shown: the selection rule, the model that ranked it (0: cold start), its utility, and the
probability with which the rule drew it given the earlier draws (1.0 for a deterministic
rule, None when it was served after the ranked batch ran out). Downstream training can
weight each label by ``1 / probability`` to correct the sampling bias
(:mod:`activelab.training`).

CSV: lists are joined with ``|``, ``meta`` is JSON, and every text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so a
spreadsheet shows it as text instead of running it as a formula (OWASP, "CSV
injection"). Numbers stay numbers.

NER projects export their spans instead (:func:`ner_records`): JSONL, one sentence per
live answer with the entities as character and token offsets, or CoNLL (one ``token
TAG`` line per token, IOB2, ``#`` comment lines with the provenance before each
sentence, ``-`` for a token the answer says nothing about).

>>> escape_cell("=HYPERLINK(\\"http://x\\")"), escape_cell("fine"), escape_cell(-1.5)
('\\'=HYPERLINK("http://x")', 'fine', -1.5)
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from activelab.studio.db import Annotator, Answer, Item, Project

__all__ = [
    "COLUMNS",
    "FORMATS",
    "NER_FORMATS",
    "answer_rows",
    "escape_cell",
    "export",
    "ner_records",
    "to_conll",
    "to_csv",
    "to_jsonl",
    "to_parquet",
]

COLUMNS = (
    "answer_id",
    "item_id",
    "external_id",
    "text",
    "image",
    "labels",
    "skipped",
    "annotator",
    "role",
    "served_at",
    "answered_at",
    "updated_at",
    "seconds",
    "reviewed_by",
    "original_labels",
    "strategy",
    "model_version",
    "score",
    "probability",
    "meta",
    "gold_labels",
    "gold_confidence",
    "aggregation",
    "machine",
    "llm_model",
    "llm_confidence",
    "llm_cost",
    "llm_uncertainty",
)
#: Format → (media type, file suffix).
FORMATS = {
    "jsonl": ("application/x-ndjson", "jsonl"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
}
#: The formats of NER projects.
NER_FORMATS = {
    "jsonl": ("application/x-ndjson", "jsonl"),
    "conll": ("text/plain; charset=utf-8", "conll"),
}
#: The provenance each NER record carries (also the CoNLL comment lines, in this order).
PROVENANCE = (
    "answer_id",
    "item_id",
    "external_id",
    "annotator",
    "served_at",
    "answered_at",
    "seconds",
    "strategy",
    "model_version",
    "score",
    "probability",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe.

    Parameters
    ----------
    value : any
        Non-strings are returned unchanged.

    Returns
    -------
    any
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def answer_rows(session: Session, project: Project) -> list[dict[str, Any]]:
    """Every live answer of a project as an export row (see the module docstring).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project : Project

    Returns
    -------
    list of dict
        Keys :data:`COLUMNS`, in answer order.
    """
    from activelab.studio.answers import gold_labels

    aggregation = project.aggregation or "majority"
    if aggregation == "dawid_skene" and project.multi_label:
        aggregation = "majority"
    gold = gold_labels(session, project.id, project.multi_label, aggregation)
    reviewer = aliased(Annotator)
    rows = session.execute(
        select(Answer, Item, Annotator.name, Annotator.role, reviewer.name)
        .join(Item, Item.id == Answer.item_id)
        .join(Annotator, Annotator.id == Answer.annotator_id)
        .outerjoin(reviewer, reviewer.id == Answer.reviewed_by)
        .where(Answer.project_id == project.id, Answer.withdrawn_at.is_(None))
        .order_by(Answer.id)
    ).all()
    return [
        {
            "answer_id": answer.id,
            "item_id": item.id,
            "external_id": item.external_id,
            "text": item.text,
            "image": item.image_path,
            "labels": list(answer.labels),
            "skipped": bool(answer.skipped),
            "annotator": name,
            "role": role,
            "served_at": _iso(answer.served_at),
            "answered_at": _iso(answer.created_at),
            "updated_at": _iso(answer.updated_at),
            "seconds": answer.seconds,
            "reviewed_by": reviewed_by,
            "original_labels": answer.original_labels,
            "strategy": answer.strategy,
            "model_version": answer.model_version,
            "score": answer.score,
            "probability": answer.probability,
            "meta": item.meta or {},
            "gold_labels": list(gold[item.id][0]) if item.id in gold else None,
            "gold_confidence": gold[item.id][1] if item.id in gold else None,
            "aggregation": aggregation,
            "machine": answer.machine is not None,
            "llm_model": (answer.machine or {}).get("model"),
            "llm_confidence": (answer.machine or {}).get("confidence"),
            "llm_cost": (answer.machine or {}).get("cost"),
            "llm_uncertainty": (answer.machine or {}).get("uncertainty"),
        }
        for answer, item, name, role, reviewed_by in rows
    ]


def to_jsonl(rows: list[dict[str, Any]]) -> bytes:
    """Rows as JSON Lines (UTF-8).

    Parameters
    ----------
    rows : list of dict

    Returns
    -------
    bytes
    """
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        value = "|".join(map(str, value))
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False) if value else ""
    elif value is None:
        return ""
    return escape_cell(value)


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """Rows as CSV with a header, lists joined by ``|``, formula-like cells escaped.

    Parameters
    ----------
    rows : list of dict

    Returns
    -------
    bytes
        UTF-8 with a byte-order mark, so spreadsheets detect the encoding.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[column]) for column in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_parquet(rows: list[dict[str, Any]]) -> bytes:
    """Rows as a Parquet file (lists as list columns, meta as a JSON string).

    Parameters
    ----------
    rows : list of dict

    Returns
    -------
    bytes
    """
    from activelab._extras import require

    pa = require("pyarrow", "studio", "exporting Parquet")
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("answer_id", pa.int64()),
            ("item_id", pa.int64()),
            ("external_id", pa.string()),
            ("text", pa.string()),
            ("image", pa.string()),
            ("labels", pa.list_(pa.string())),
            ("skipped", pa.bool_()),
            ("annotator", pa.string()),
            ("role", pa.string()),
            ("served_at", pa.string()),
            ("answered_at", pa.string()),
            ("updated_at", pa.string()),
            ("seconds", pa.float64()),
            ("reviewed_by", pa.string()),
            ("original_labels", pa.list_(pa.string())),
            ("strategy", pa.string()),
            ("model_version", pa.int64()),
            ("score", pa.float64()),
            ("probability", pa.float64()),
            ("meta", pa.string()),
            ("gold_labels", pa.list_(pa.string())),
            ("gold_confidence", pa.float64()),
            ("aggregation", pa.string()),
            ("machine", pa.bool_()),
            ("llm_model", pa.string()),
            ("llm_confidence", pa.float64()),
            ("llm_cost", pa.float64()),
            ("llm_uncertainty", pa.float64()),
        ]
    )
    columns = {column: [row[column] for row in rows] for column in COLUMNS}
    columns["meta"] = [json.dumps(value, ensure_ascii=False) for value in columns["meta"]]
    table = pa.Table.from_pydict(columns, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def ner_records(session: Session, project: Project) -> list[dict[str, Any]]:
    """Every live NER answer as a sentence record with its spans and provenance.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project : Project

    Returns
    -------
    list of dict
        ``{text, tokens, spans: [{start, end, label, token_start, token_end}],
        annotated: {start, end, token_start, token_end} | null, mode, decisions,
        skipped, tags, meta}`` plus :data:`PROVENANCE`; character ``end`` and
        ``token_end`` exclusive. ``annotated`` is the stretch the answer labelled
        (``mode = "correct"``); teach answers (``mode = "teach"``) know only their
        accepted entities, listed with every decision in ``decisions``. ``tags`` has one
        IOB2 tag per token, ``"-"`` where the answer says nothing.
    """
    from activelab.sequence._io import _char_offsets
    from activelab.studio.ner import annotation_tags

    rows = session.execute(
        select(Answer, Item, Annotator.name)
        .join(Item, Item.id == Answer.item_id)
        .join(Annotator, Annotator.id == Answer.annotator_id)
        .where(Answer.project_id == project.id, Answer.withdrawn_at.is_(None))
        .order_by(Answer.id)
    ).all()
    records = []
    for answer, item, name in rows:
        text = item.text or ""
        tokens = list(item.tokens or text.split())
        _, offsets = _char_offsets(text, tokens)
        note = answer.annotation or {}

        def chars(a: int, b: int, offsets: Any = offsets) -> tuple[int, int]:
            return int(offsets[a][0]), int(offsets[b - 1][1])

        spans = []
        for span in note.get("spans", []):
            start, end = chars(span["start"], span["end"])
            spans.append(
                {
                    "start": start,
                    "end": end,
                    "label": span["label"],
                    "token_start": span["start"],
                    "token_end": span["end"],
                }
            )
        annotated = None
        if note.get("range"):
            a, b = note["range"]
            start, end = chars(a, b)
            annotated = {"start": start, "end": end, "token_start": a, "token_end": b}
        tags = annotation_tags(len(tokens), note) if note else [None] * len(tokens)
        records.append(
            {
                "answer_id": answer.id,
                "item_id": item.id,
                "external_id": item.external_id,
                "text": text,
                "tokens": tokens,
                "spans": spans,
                "annotated": annotated,
                "mode": note.get("mode"),
                "decisions": note.get("decisions"),
                "skipped": bool(answer.skipped),
                "tags": [tag or "-" for tag in tags],
                "annotator": name,
                "served_at": _iso(answer.served_at),
                "answered_at": _iso(answer.created_at),
                "seconds": answer.seconds,
                "strategy": answer.strategy,
                "model_version": answer.model_version,
                "score": answer.score,
                "probability": answer.probability,
                "meta": item.meta or {},
            }
        )
    return records


def _comment(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def to_conll(records: list[dict[str, Any]]) -> bytes:
    """NER records as CoNLL: ``#`` provenance lines, then ``token TAG`` lines, a blank line.

    Skipped answers are left out. Comment lines are ``# key = value`` (the CoNLL-U
    convention; drop them before :func:`activelab.sequence.read_conll`, which reads
    every line as a token). ``-`` marks a token the answer says nothing about (spaCy's
    "missing" tag).

    Parameters
    ----------
    records : list of dict
        From :func:`ner_records`.

    Returns
    -------
    bytes
        UTF-8.
    """
    lines: list[str] = []
    for record in records:
        if record["skipped"]:
            continue
        for key in PROVENANCE:
            lines.append(f"# {key} = {_comment(record[key])}\n")
        annotated = record["annotated"]
        if annotated is not None:
            lines.append(
                f"# annotated_tokens = {annotated['token_start']}-{annotated['token_end']}\n"
            )
        for decision in record["decisions"] or []:
            verdict = "accept" if decision["accept"] else "reject"
            lines.append(
                f"# {verdict} = {decision['start']}-{decision['end']} {decision['label']}\n"
            )
        for token, tag in zip(record["tokens"], record["tags"], strict=True):
            lines.append(f"{token} {tag}\n")
        lines.append("\n")
    return "".join(lines).encode("utf-8")


def export(session: Session, project: Project, fmt: str) -> tuple[bytes, str, str]:
    """A project's answers in one format.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    project : Project
    fmt : {"jsonl", "csv", "parquet"}, or for NER projects {"jsonl", "conll"}

    Returns
    -------
    (bytes, str, str)
        The file, its media type and a file name.
    """
    if project.task == "ner":
        if fmt not in NER_FORMATS:
            raise ValueError(
                f"an NER project exports {' or '.join(NER_FORMATS)} (spans); got {fmt!r}."
            )
        records = ner_records(session, project)
        data = to_jsonl(records) if fmt == "jsonl" else to_conll(records)
        media_type, suffix = NER_FORMATS[fmt]
        return data, media_type, f"{project.name}-spans.{suffix}"
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    rows = answer_rows(session, project)
    writer = {"jsonl": to_jsonl, "csv": to_csv, "parquet": to_parquet}[fmt]
    media_type, suffix = FORMATS[fmt]
    return writer(rows), media_type, f"{project.name}-answers.{suffix}"
