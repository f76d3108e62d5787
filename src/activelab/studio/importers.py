"""Reading items to label: CSV, JSONL and folders of images, with errors that say where.

- CSV: a header row; the column ``text`` (``image`` for image projects) is required,
  ``id`` becomes the item's external id, every other column goes to ``meta``.
- JSONL: one JSON object per line with ``text`` (or ``image``), optional ``id`` and
  ``meta`` (an object); other keys go to ``meta`` too. Blank lines are ignored.
- A folder: every ``.png``, ``.jpg``, ``.jpeg``, ``.gif``, ``.bmp`` or ``.webp`` file in
  it or its subfolders, in sorted order; the external id is the relative path.
- NER projects (sentences of tokens): CoNLL (``.conll``, ``.iob``, ``.bio``, ``.tsv``):
  one token per line in the first column (other columns, such as existing tags, are
  ignored), a blank line between sentences, ``-DOCSTART-`` lines skipped, comment lines
  ``# key = value`` skipped (``# id = X`` names the next sentence); JSONL with ``text``
  and optional ``tokens`` (they must appear in the text, in order; without them the text
  is split on whitespace); CSV with a ``text`` column, split on whitespace.

Every problem is reported as ``line N, field F: what is wrong`` (line 1 is the CSV
header); a file with errors is refused by ``init`` and partly added (the good rows) by
the API's ``/import``, which returns the errors.

>>> records, errors = parse_bytes(b"text,id\\nhello,a1\\n,a2\\n", "items.csv")
>>> [r.text for r in records], [str(e) for e in errors]
(['hello'], ["line 3, field 'text': the text is empty; give every row a text."])
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from activelab.studio.db import Item

__all__ = [
    "IMAGE_SUFFIXES",
    "ImportFailed",
    "ImportProblem",
    "Record",
    "add_records",
    "parse_bytes",
    "read_records",
    "safe_relative_path",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
#: CoNLL files of NER projects.
CONLL_SUFFIXES = (".conll", ".iob", ".bio", ".tsv")
#: Longest accepted text, in characters.
MAX_TEXT = 100_000
#: Most tokens in one sentence of an NER project.
MAX_TOKENS = 1000


@dataclass(frozen=True)
class Record:
    """One item read from a file: a text or an image path, an id and metadata."""

    line: int
    text: str | None = None
    image: str | None = None
    external_id: str | None = None
    meta: dict[str, Any] | None = None
    tokens: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ImportProblem:
    """What is wrong with one line of an input file.

    Attributes
    ----------
    line : int
        1-based line number (for CSV, line 1 is the header).
    field : str
        The column or key at fault (``"(line)"`` for the line as a whole).
    message : str
    """

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        """``line N, field 'F': message``."""
        return f"line {self.line}, field {self.field!r}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """``{line, field, message}`` for JSON replies."""
        return {"line": self.line, "field": self.field, "message": self.message}


class ImportFailed(ValueError):
    """An input file had errors; ``errors`` lists each, with its line and field."""

    def __init__(self, source: str, errors: list[ImportProblem]) -> None:
        self.source = source
        self.errors = errors
        shown = "\n".join(f"  {error}" for error in errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(
            f"{source}: {len(errors)} error(s); fix them and import again:\n{shown}{more}"
        )


def safe_relative_path(value: str) -> str | None:
    """``value`` as a clean relative POSIX path that cannot leave its folder, or None.

    Parameters
    ----------
    value : str

    Returns
    -------
    str or None
        None for absolute paths, drive letters, ``..`` components, NUL bytes or empty
        paths.

    Examples
    --------
    >>> safe_relative_path("cats/1.png"), safe_relative_path("../etc/passwd")
    ('cats/1.png', None)
    """
    if not value or "\x00" in value or "\\" in value:
        return None
    path = PurePosixPath(value)
    if path.is_absolute() or ":" in path.parts[0] or any(part == ".." for part in path.parts):
        return None
    clean = str(path)
    return None if clean in ("", ".") else clean


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportFailed(
            source,
            [ImportProblem(line, "(line)", "not UTF-8 text; save the file as UTF-8.")],
        ) from None


def _field_value(
    value: Any, line: int, field: str, task: str, errors: list[ImportProblem]
) -> str | None:
    """Check the text or image field of one record; None (and an error) when bad."""
    if value is None or (isinstance(value, str) and not value.strip()):
        what = "image path" if task == "image" else "text"
        errors.append(ImportProblem(line, field, f"the {what} is empty; give every row a {what}."))
        return None
    if not isinstance(value, str):
        errors.append(ImportProblem(line, field, f"must be a string; got {type(value).__name__}."))
        return None
    if task != "image":
        if len(value) > MAX_TEXT:
            errors.append(
                ImportProblem(
                    line, field, f"the text has {len(value)} characters; the most is {MAX_TEXT}."
                )
            )
            return None
        return value
    clean = safe_relative_path(value)
    if clean is None:
        errors.append(
            ImportProblem(
                line,
                field,
                f"{value!r} is not a relative path inside the project folder (no absolute "
                "paths, no '..').",
            )
        )
        return None
    if not clean.lower().endswith(IMAGE_SUFFIXES):
        errors.append(
            ImportProblem(line, field, f"{value!r} is not an image ({', '.join(IMAGE_SUFFIXES)}).")
        )
        return None
    return clean


def _external_id(value: Any, line: int, errors: list[ImportProblem]) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append(ImportProblem(line, "id", f"must be a string or an integer; got {value!r}."))
        return None
    text = str(value)
    if len(text) > 200:
        errors.append(ImportProblem(line, "id", "is longer than 200 characters."))
        return None
    return text


def _parse_csv(text: str, task: str) -> tuple[list[Record], list[ImportProblem]]:
    field = "image" if task == "image" else "text"
    reader = csv.reader(io.StringIO(text, newline=""))
    errors: list[ImportProblem] = []
    try:
        header = next(reader)
    except StopIteration:
        return [], [ImportProblem(1, "(line)", "the file is empty; it needs a header row.")]
    except csv.Error as error:
        return [], [ImportProblem(1, "(line)", f"not valid CSV: {error}.")]
    columns = [column.strip() for column in header]
    if field not in columns:
        return [], [
            ImportProblem(
                1,
                field,
                f"no column {field!r}; the header has {', '.join(map(repr, columns))}. "
                f"Name the column with the {'texts' if task == 'text' else 'image paths'} "
                f"{field!r}.",
            )
        ]
    records = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            errors.append(ImportProblem(start, "(line)", f"not valid CSV: {error}."))
            break
        line, start = start, reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            errors.append(
                ImportProblem(
                    line,
                    "(line)",
                    f"has {len(row)} cells; the header has {len(columns)}. Quote cells that "
                    "hold commas.",
                )
            )
            continue
        values = dict(zip(columns, row, strict=True))
        before = len(errors)
        value = _field_value(values.pop(field), line, field, task, errors)
        external_id = _external_id(values.pop("id", None), line, errors)
        if value is None or len(errors) > before:
            continue
        meta = {key: cell for key, cell in values.items() if key} or None
        record = _record(line, task, value, external_id, meta)
        if task == "ner":
            record = _tokenise(record, None, errors, field)
            if record is None:
                continue
        records.append(record)
    return records, errors


def _record(
    line: int, task: str, value: str, external_id: str | None, meta: dict[str, Any] | None
) -> Record:
    if task == "ner":
        return Record(line, text=value, external_id=external_id, meta=meta, tokens=())
    if task == "text":
        return Record(line, text=value, external_id=external_id, meta=meta)
    return Record(line, image=value, external_id=external_id, meta=meta)


def _tokenise(
    record: Record, given: Any, errors: list[ImportProblem], field: str = "tokens"
) -> Record | None:
    """An NER record with its tokens: ``given`` (checked against the text) or split on
    whitespace; None (and an error) when they do not fit."""
    from activelab.sequence._io import _char_offsets

    text = str(record.text)
    if given is not None and (
        not isinstance(given, list) or not all(isinstance(t, str) and t for t in given)
    ):
        errors.append(ImportProblem(record.line, field, "must be a list of non-empty strings."))
        return None
    try:
        tokens, _ = _char_offsets(text, given)
    except ValueError as error:
        errors.append(ImportProblem(record.line, field, f"{error}"))
        return None
    if not tokens:
        errors.append(ImportProblem(record.line, field, "the sentence has no token."))
        return None
    if len(tokens) > MAX_TOKENS:
        errors.append(
            ImportProblem(
                record.line, field, f"{len(tokens)} tokens; the most is {MAX_TOKENS} a sentence."
            )
        )
        return None
    return dataclasses.replace(record, tokens=tuple(tokens))


def _parse_conll(text: str) -> tuple[list[Record], list[ImportProblem]]:
    """Sentences of a CoNLL file: the first column of each line; tags are ignored."""
    records: list[Record] = []
    errors: list[ImportProblem] = []
    tokens: list[str] = []
    start = 0
    external_id: str | None = None

    def close() -> None:
        nonlocal tokens, external_id
        if tokens:
            if len(tokens) > MAX_TOKENS:
                errors.append(
                    ImportProblem(
                        start,
                        "(sentence)",
                        f"{len(tokens)} tokens; the most is {MAX_TOKENS} a sentence (is a "
                        "blank line missing between sentences?).",
                    )
                )
            else:
                text = " ".join(tokens)
                records.append(
                    Record(start, text=text, external_id=external_id, tokens=tuple(tokens))
                )
        tokens, external_id = [], None

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            close()
            continue
        if line.startswith("# "):
            key, _, value = line[2:].partition("=")
            if key.strip() == "id" and value.strip():
                close()
                external_id = value.strip()[:200]
            continue
        token = line.split()[0]
        if token == "-DOCSTART-":
            close()
            continue
        if not tokens:
            start = number
        tokens.append(token)
    close()
    return records, errors


def _parse_jsonl(text: str, task: str) -> tuple[list[Record], list[ImportProblem]]:
    field = "image" if task == "image" else "text"
    records, errors = [], []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            errors.append(ImportProblem(line, "(line)", f"not valid JSON: {error.msg}."))
            continue
        if not isinstance(value, dict):
            errors.append(
                ImportProblem(line, "(line)", f"must be a JSON object; got {type(value).__name__}.")
            )
            continue
        if field not in value:
            errors.append(
                ImportProblem(
                    line, field, f"missing; each line needs {field!r} (keys: {sorted(value)})."
                )
            )
            continue
        before = len(errors)
        content = _field_value(value.pop(field), line, field, task, errors)
        external_id = _external_id(value.pop("id", None), line, errors)
        tokens = value.pop("tokens", None) if task == "ner" else None
        meta = value.pop("meta", None)
        if meta is not None and not isinstance(meta, dict):
            errors.append(ImportProblem(line, "meta", "must be a JSON object."))
        if content is None or len(errors) > before:
            continue
        record = _record(line, task, content, external_id, {**(meta or {}), **value} or None)
        if task == "ner":
            record = _tokenise(record, tokens, errors)
            if record is None:
                continue
        records.append(record)
    return records, errors


def parse_bytes(
    data: bytes, filename: str, task: str = "text"
) -> tuple[list[Record], list[ImportProblem]]:
    """Parse the bytes of a CSV or JSONL file into records and problems.

    Parameters
    ----------
    data : bytes
    filename : str
        Its suffix (``.csv``, ``.jsonl``, ``.ndjson``, ``.json``) picks the format.
    task : {"text", "image", "ner"}

    Returns
    -------
    (list of Record, list of ImportProblem)
    """
    suffix = Path(filename).suffix.lower()
    known = (".csv", ".jsonl", ".ndjson", ".json") + (CONLL_SUFFIXES if task == "ner" else ())
    if suffix not in known:
        formats = "a .conll, .jsonl or .csv file" if task == "ner" else "a .csv or a .jsonl file"
        return [], [ImportProblem(1, "(file)", f"{filename!r}: unknown format; import {formats}.")]
    try:
        text = _decode(data, filename)
    except ImportFailed as failed:
        return [], failed.errors
    if suffix in CONLL_SUFFIXES:
        return _parse_conll(text)
    if suffix == ".csv":
        return _parse_csv(text, task)
    return _parse_jsonl(text, task)


def _folder_records(folder: Path) -> list[Record]:
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not path.is_symlink() and path.suffix.lower() in IMAGE_SUFFIXES
    )
    records = []
    for number, path in enumerate(files, start=1):
        relative = path.relative_to(folder).as_posix()
        parent = str(PurePosixPath(relative).parent)
        meta = {"folder": parent} if parent != "." else None
        records.append(Record(number, image=relative, external_id=relative, meta=meta))
    return records


def read_records(
    source: str | os.PathLike[str], task: str = "text", limit: int | None = None
) -> list[Record]:
    """Read a CSV/JSONL file or a folder of images; raise :class:`ImportFailed` on errors.

    Parameters
    ----------
    source : str or path
    task : {"text", "image"}
    limit : int, optional
        Keep the first ``limit`` records.

    Returns
    -------
    list of Record
        For a folder, image paths are relative to it; for files of an image task,
        relative to the file's folder (each must exist there).
    """
    path = Path(source)
    if path.is_dir():
        if task != "image":
            raise ImportFailed(
                str(path), [ImportProblem(0, "(file)", "a folder imports images; set task image.")]
            )
        records = _folder_records(path)
        if not records:
            raise ImportFailed(
                str(path),
                [ImportProblem(0, "(file)", f"no images ({', '.join(IMAGE_SUFFIXES)}) found.")],
            )
        return records[:limit] if limit is not None else records
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass a CSV or JSONL file or a folder.")
    records, errors = parse_bytes(path.read_bytes(), path.name, task)
    if task == "image":
        for record in records:
            if not (path.parent / str(record.image)).is_file():
                errors.append(
                    ImportProblem(
                        record.line, "image", f"{record.image!r} not found next to {path.name}."
                    )
                )
    if errors:
        raise ImportFailed(str(path), sorted(errors, key=lambda e: e.line))
    if not records:
        raise ImportFailed(str(path), [ImportProblem(1, "(file)", "the file holds no items.")])
    return records[:limit] if limit is not None else records


def add_records(
    session: Session, project_id: int, records: Iterable[Record], folder: Path | None = None
) -> int:
    """Insert records as items after the project's last item; return how many.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        In a write transaction.
    project_id : int
    records : iterable of Record
    folder : pathlib.Path, optional
        The project folder; image records must exist inside it.

    Returns
    -------
    int
    """
    start = session.scalar(
        select(func.coalesce(func.max(Item.position), -1)).where(Item.project_id == project_id)
    )
    rows = []
    for offset, record in enumerate(records, start=int(start) + 1):
        rows.append(
            {
                "project_id": project_id,
                "position": offset,
                "external_id": record.external_id,
                "text": record.text,
                "image_path": record.image,
                "meta": record.meta,
                "tokens": list(record.tokens) if record.tokens is not None else None,
                "done": False,
                "n_labels": 0,
                "priority": -offset,
            }
        )
    for start_row in range(0, len(rows), 1000):
        session.execute(Item.__table__.insert(), rows[start_row : start_row + 1000])
    return len(rows)
