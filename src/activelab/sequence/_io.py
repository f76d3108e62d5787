"""Reading and writing tagged text: CoNLL columns, JSONL character spans, spaCy pairs.

The in-memory form is :class:`TaggedCorpus`: a list of sentences, each a list of tokens,
with one tag per token in a named scheme (:mod:`activelab.sequence._schemes`).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelab._validation import RandomStateLike, check_random_state
from activelab.sequence._schemes import (
    check_scheme,
    convert_tags,
    detect_scheme,
    entities,
    spans_to_tags,
)

__all__ = [
    "TaggedCorpus",
    "from_spacy",
    "from_span_records",
    "read_conll",
    "read_jsonl",
    "to_spacy",
    "to_span_records",
    "write_conll",
    "write_jsonl",
]

PathLike = str | os.PathLike


@dataclass
class TaggedCorpus:
    """Sentences of tokens with one tag per token.

    Attributes
    ----------
    tokens : list of list of str
    tags : list of list of str
    scheme : str
        ``"IOB1"``, ``"IOB2"`` or ``"BIOES"``.
    documents : numpy.ndarray of int
        The document of each sentence (0 when the source has no document marks).
    name : str

    Examples
    --------
    >>> corpus = TaggedCorpus([["Ada", "Lovelace", "wrote"]], [["B-PER", "I-PER", "O"]], "IOB2")
    >>> corpus.n_tokens, corpus.to_scheme("BIOES").tags
    (3, [['B-PER', 'E-PER', 'O']])
    """

    tokens: list[list[str]]
    tags: list[list[str]]
    scheme: str = "IOB2"
    documents: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name: str = ""

    def __post_init__(self) -> None:
        self.scheme = check_scheme(self.scheme)
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{len(self.tokens)} token sentences but {len(self.tags)} tag ones.")
        for i, (words, labels) in enumerate(zip(self.tokens, self.tags, strict=True)):
            if len(words) != len(labels):
                raise ValueError(
                    f"sentence {i} has {len(words)} tokens but {len(labels)} tags; every "
                    "token needs exactly one tag."
                )
        documents = np.asarray(self.documents, dtype=np.int64)
        if documents.shape[0] == 0:
            documents = np.zeros(len(self.tokens), dtype=np.int64)
        if documents.shape != (len(self.tokens),):
            raise ValueError(f"documents needs one entry per sentence ({len(self.tokens)}).")
        self.documents = documents

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per sentence, ``(n_sentences,)`` int64."""
        return np.fromiter(map(len, self.tokens), dtype=np.int64, count=len(self.tokens))

    @property
    def n_tokens(self) -> int:
        """Total number of tokens."""
        return int(self.lengths.sum())

    @property
    def labels(self) -> list[str]:
        """The distinct tags, ``"O"`` first, then sorted by type and prefix."""
        found = {t for sentence in self.tags for t in sentence}
        return sorted(found, key=lambda t: (t != "O", t[2:], t[:1]))

    def subset(self, sentences: Iterable[int]) -> TaggedCorpus:
        """The listed sentences, in that order.

        Parameters
        ----------
        sentences : iterable of int

        Returns
        -------
        TaggedCorpus
        """
        index = np.asarray(list(sentences), dtype=np.int64)
        return TaggedCorpus(
            [self.tokens[i] for i in index],
            [self.tags[i] for i in index],
            self.scheme,
            self.documents[index] if index.size else np.zeros(0, dtype=np.int64),
            self.name,
        )

    def split(
        self, test_size: float = 0.2, random_state: RandomStateLike = 0
    ) -> tuple[TaggedCorpus, TaggedCorpus]:
        """A seeded random split by sentence.

        Parameters
        ----------
        test_size : float
            Share of sentences in the test part, in (0, 1).
        random_state : int, Generator or None

        Returns
        -------
        (TaggedCorpus, TaggedCorpus)
            Train and test parts.
        """
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(f"test_size must be in (0, 1); got {test_size!r}.")
        order = check_random_state(random_state).permutation(len(self))
        n_test = max(1, round(test_size * len(self)))
        return self.subset(np.sort(order[n_test:])), self.subset(np.sort(order[:n_test]))

    def to_scheme(self, scheme: str) -> TaggedCorpus:
        """The same corpus with tags rewritten in ``scheme`` (see :func:`convert_tags`).

        Parameters
        ----------
        scheme : {"IOB1", "IOB2", "BIOES"}

        Returns
        -------
        TaggedCorpus
        """
        scheme = check_scheme(scheme)
        tags = self.tags if scheme == self.scheme else convert_tags(self.tags, self.scheme, scheme)
        return TaggedCorpus(self.tokens, tags, scheme, self.documents, self.name)

    def entities(self) -> list[list[tuple[int, int, str]]]:
        """Entity spans of each sentence (conlleval rules), see :func:`entities`."""
        return entities(self.tags, self.scheme)


def _open_text(path: PathLike, mode: str) -> Any:
    if str(path).endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8", newline="")
    return open(path, mode, encoding="utf-8", newline="")


def read_conll(
    source: PathLike | io.TextIOBase | Iterable[str],
    *,
    scheme: str | None = None,
    to_scheme: str | None = None,
    token_column: int = 0,
    tag_column: int = -1,
    separator: str | None = None,
    docstart: str = "-DOCSTART-",
    name: str = "",
) -> TaggedCorpus:
    """Read a CoNLL file: one token per line with its tag, a blank line between sentences.

    Parameters
    ----------
    source : path, open text file or iterable of lines
        A path ending in ``.gz`` is decompressed.
    scheme : {"IOB1", "IOB2", "BIOES"}, optional
        The file's tag scheme; guessed with :func:`detect_scheme` when None.
    to_scheme : {"IOB1", "IOB2", "BIOES"}, optional
        Convert the tags on reading.
    token_column, tag_column : int
        Which columns hold the token and the tag (default: first and last).
    separator : str, optional
        Column separator; None splits on any whitespace (tabs and spaces).
    docstart : str
        A line whose token is this marks a new document and is not a sentence.
    name : str
        Stored on the corpus.

    Returns
    -------
    TaggedCorpus

    Examples
    --------
    >>> corpus = read_conll(["Ada B-PER", "Lovelace I-PER", "", "Hi O"])
    >>> len(corpus), corpus.scheme
    (2, 'IOB2')
    """
    if isinstance(source, str | os.PathLike):
        with _open_text(source, "r") as handle:
            return read_conll(
                handle.read().splitlines(),
                scheme=scheme,
                to_scheme=to_scheme,
                token_column=token_column,
                tag_column=tag_column,
                separator=separator,
                docstart=docstart,
                name=name or os.path.basename(str(source)),
            )
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    documents: list[int] = []
    words: list[str] = []
    labels: list[str] = []
    document = 0
    seen_docstart = False

    def close() -> None:
        if words:
            tokens.append(words.copy())
            tags.append(labels.copy())
            documents.append(document)
            words.clear()
            labels.clear()

    for number, raw in enumerate(source, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            close()
            continue
        columns = line.split(separator)
        if columns[token_column] == docstart:
            close()
            if seen_docstart or tokens:
                document += 1
            seen_docstart = True
            continue
        if len(columns) < 2:
            raise ValueError(
                f"line {number} has {len(columns)} column ({line!r}); CoNLL needs a token and "
                "a tag per line (set separator= if the columns are not whitespace-separated)."
            )
        words.append(columns[token_column])
        labels.append(columns[tag_column])
    close()
    found = check_scheme(scheme) if scheme is not None else detect_scheme(tags)
    corpus = TaggedCorpus(tokens, tags, found, np.asarray(documents, dtype=np.int64), name)
    return corpus.to_scheme(to_scheme) if to_scheme is not None else corpus


def write_conll(
    destination: PathLike | io.TextIOBase,
    corpus: TaggedCorpus | tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]],
    *,
    separator: str = " ",
    docstart: str | None = "-DOCSTART-",
) -> None:
    """Write sentences in CoNLL format (token, separator, tag; blank line between sentences).

    Parameters
    ----------
    destination : path or open text file
        A path ending in ``.gz`` is compressed.
    corpus : TaggedCorpus or (tokens, tags)
    separator : str
    docstart : str or None
        Written (as ``<docstart> O``) before each new document of a corpus with several
        documents; None writes no document marks.
    """
    if not isinstance(corpus, TaggedCorpus):
        words, labels = corpus
        corpus = TaggedCorpus(
            [list(w) for w in words], [list(t) for t in labels], detect_scheme(labels)
        )
    if isinstance(destination, str | os.PathLike):
        with _open_text(destination, "w") as handle:
            write_conll(handle, corpus, separator=separator, docstart=docstart)
        return
    lines: list[str] = []
    several = docstart is not None and np.unique(corpus.documents).shape[0] > 1
    previous = None
    for words, labels, document in zip(
        corpus.tokens, corpus.tags, corpus.documents.tolist(), strict=True
    ):
        if several and document != previous:
            lines.append(f"{docstart}{separator}O\n\n")
            previous = document
        lines.extend(f"{w}{separator}{t}\n" for w, t in zip(words, labels, strict=True))
        lines.append("\n")
    destination.write("".join(lines))


# ----------------------------------------------------------------- character spans

_WHITESPACE_TOKENS = re.compile(r"\S+")


def _char_offsets(text: str, tokens: Sequence[str] | None) -> tuple[list[str], np.ndarray]:
    """Tokens and their ``(start, end)`` character offsets in ``text``."""
    if tokens is None:
        found = [(m.group(), m.start(), m.end()) for m in _WHITESPACE_TOKENS.finditer(text)]
        return [f[0] for f in found], np.array([f[1:] for f in found], dtype=np.int64).reshape(
            -1, 2
        )
    offsets = np.empty((len(tokens), 2), dtype=np.int64)
    cursor = 0
    for i, token in enumerate(tokens):
        start = text.find(token, cursor)
        if start < 0:
            raise ValueError(
                f"token {i} ({token!r}) is not found in the text after character {cursor}; "
                "tokens must appear in the text in order."
            )
        offsets[i] = start, start + len(token)
        cursor = start + len(token)
    return list(tokens), offsets


def _align(
    spans: Sequence[tuple[int, int, str]], offsets: np.ndarray, alignment: str, where: str
) -> list[tuple[int, int, str]]:
    starts, ends = offsets[:, 0], offsets[:, 1]
    out = []
    for start, end, label in spans:
        if alignment == "strict":
            first = np.flatnonzero(starts == start)
            last = np.flatnonzero(ends == end)
            if first.size == 0 or last.size == 0 or last[0] < first[0]:
                raise ValueError(
                    f"{where}: the span ({start}, {end}, {label!r}) does not start and end on "
                    "token boundaries; fix the offsets, or pass alignment='expand' to grow it "
                    "to the tokens it overlaps."
                )
            out.append((int(first[0]), int(last[0]) + 1, str(label)))
        elif alignment == "expand":
            inside = np.flatnonzero((starts < end) & (ends > start))
            if inside.size == 0:
                raise ValueError(f"{where}: the span ({start}, {end}, {label!r}) covers no token.")
            out.append((int(inside[0]), int(inside[-1]) + 1, str(label)))
        else:
            raise ValueError(f"alignment must be 'strict' or 'expand'; got {alignment!r}.")
    return out


def to_span_records(
    corpus: TaggedCorpus | tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]],
) -> list[dict[str, Any]]:
    """Sentences as JSON-ready records with entities as character spans.

    The text is the tokens joined by single spaces.

    Parameters
    ----------
    corpus : TaggedCorpus or (tokens, tags)

    Returns
    -------
    list of dict
        ``{"text": str, "tokens": [str], "spans": [{"start", "end", "label",
        "token_start", "token_end"}]}``; character ``end`` and ``token_end`` are
        exclusive.

    Examples
    --------
    >>> to_span_records(([["Ada", "Lovelace", "wrote"]], [["B-PER", "I-PER", "O"]]))[0]["spans"]
    [{'start': 0, 'end': 12, 'label': 'PER', 'token_start': 0, 'token_end': 2}]
    """
    words, labels = (corpus.tokens, corpus.tags) if isinstance(corpus, TaggedCorpus) else corpus
    records = []
    for sentence_tokens, sentence_spans in zip(words, entities(labels), strict=True):
        sizes = np.fromiter(map(len, sentence_tokens), dtype=np.int64, count=len(sentence_tokens))
        starts = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]]) if sizes.size else sizes
        records.append(
            {
                "text": " ".join(sentence_tokens),
                "tokens": list(sentence_tokens),
                "spans": [
                    {
                        "start": int(starts[a]),
                        "end": int(starts[b - 1] + sizes[b - 1]),
                        "label": label,
                        "token_start": a,
                        "token_end": b,
                    }
                    for a, b, label in sentence_spans
                ],
            }
        )
    return records


def from_span_records(
    records: Iterable[dict[str, Any]], scheme: str = "IOB2", alignment: str = "strict"
) -> TaggedCorpus:
    """Sentences from records with a text and character spans.

    Parameters
    ----------
    records : iterable of dict
        Each ``{"text": str, "spans": [{"start", "end", "label"}], "tokens": [str]}``;
        without ``"tokens"`` the text is split on whitespace.
    scheme : {"IOB1", "IOB2", "BIOES"}
        The scheme of the tags produced.
    alignment : {"strict", "expand"}
        ``"strict"`` refuses a span that does not start and end on token boundaries;
        ``"expand"`` grows it to every token it overlaps.

    Returns
    -------
    TaggedCorpus

    Examples
    --------
    >>> record = {"text": "Ada Lovelace wrote", "spans": [{"start": 0, "end": 12, "label": "PER"}]}
    >>> from_span_records([record]).tags
    [['B-PER', 'I-PER', 'O']]
    """
    words: list[list[str]] = []
    spans: list[list[tuple[int, int, str]]] = []
    for number, record in enumerate(records):
        if "text" not in record:
            raise ValueError(f"record {number} has no 'text'; span records need one.")
        tokens, offsets = _char_offsets(record["text"], record.get("tokens"))
        raw = [(int(s["start"]), int(s["end"]), s["label"]) for s in record.get("spans", [])]
        spans.append(_align(raw, offsets, alignment, f"record {number}"))
        words.append(tokens)
    return TaggedCorpus(words, spans_to_tags(spans, [len(w) for w in words], scheme), scheme)


def write_jsonl(
    destination: PathLike | io.TextIOBase,
    corpus: TaggedCorpus | tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]],
) -> None:
    """Write :func:`to_span_records` of ``corpus`` as JSON lines.

    Parameters
    ----------
    destination : path or open text file
    corpus : TaggedCorpus or (tokens, tags)
    """
    if isinstance(destination, str | os.PathLike):
        with _open_text(destination, "w") as handle:
            write_jsonl(handle, corpus)
        return
    destination.write(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in to_span_records(corpus))
    )


def read_jsonl(
    source: PathLike | io.TextIOBase, scheme: str = "IOB2", alignment: str = "strict"
) -> TaggedCorpus:
    """Read JSON lines of span records (see :func:`from_span_records`).

    Parameters
    ----------
    source : path or open text file
    scheme : {"IOB1", "IOB2", "BIOES"}
    alignment : {"strict", "expand"}

    Returns
    -------
    TaggedCorpus
    """
    if isinstance(source, str | os.PathLike):
        with _open_text(source, "r") as handle:
            return read_jsonl(handle, scheme, alignment)
    records = [json.loads(line) for line in source.read().splitlines() if line.strip()]
    return from_span_records(records, scheme, alignment)


def to_spacy(
    corpus: TaggedCorpus | tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]],
) -> list[tuple[str, dict[str, list[tuple[int, int, str]]]]]:
    """spaCy-style training pairs ``(text, {"entities": [(start, end, label)]})``.

    Parameters
    ----------
    corpus : TaggedCorpus or (tokens, tags)

    Returns
    -------
    list of (str, dict)

    Examples
    --------
    >>> to_spacy(([["Ada", "Lovelace", "wrote"]], [["B-PER", "I-PER", "O"]]))
    [('Ada Lovelace wrote', {'entities': [(0, 12, 'PER')]})]
    """
    return [
        (r["text"], {"entities": [(s["start"], s["end"], s["label"]) for s in r["spans"]]})
        for r in to_span_records(corpus)
    ]


def from_spacy(
    pairs: Iterable[tuple[str, dict[str, Any]]], scheme: str = "IOB2", alignment: str = "strict"
) -> TaggedCorpus:
    """Sentences from spaCy-style pairs ``(text, {"entities": [(start, end, label)]})``.

    The text is split on whitespace.

    Parameters
    ----------
    pairs : iterable of (str, dict)
    scheme : {"IOB1", "IOB2", "BIOES"}
    alignment : {"strict", "expand"}

    Returns
    -------
    TaggedCorpus

    Examples
    --------
    >>> from_spacy([("Ada Lovelace wrote", {"entities": [(0, 12, "PER")]})]).tags
    [['B-PER', 'I-PER', 'O']]
    """
    records = [
        {
            "text": text,
            "spans": [
                {"start": s, "end": e, "label": label}
                for s, e, label in annotations.get("entities", [])
            ],
        }
        for text, annotations in pairs
    ]
    return from_span_records(records, scheme, alignment)
