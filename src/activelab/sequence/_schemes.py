"""Tag schemes (IOB1, IOB2, BIOES): entity spans from tags, tags from spans, conversions.

A tag is ``"O"`` or ``"<prefix>-<type>"`` with prefix ``B`` (begin), ``I`` (inside),
``E`` (end) or ``S`` (single). The schemes differ in which prefixes they use:

- **IOB1** (CoNLL-2003's original, wikigold's): every entity token is ``I-X``; ``B-X``
  only opens an entity that directly follows another entity of the same type.
- **IOB2** (also called BIO): the first token of every entity is ``B-X``, the rest ``I-X``.
- **BIOES** (also IOBES): ``S-X`` for a one-token entity; otherwise ``B-X``, ``I-X``…,
  ``E-X``.

Two ways to read entities from tags, as seqeval does:

- ``mode="conlleval"`` (the default): the rules of the CoNLL evaluation script
  ``conlleval`` (and seqeval's default ``get_entities``), which accept every prefix in any
  scheme and repair ill-formed sequences (``O I-X`` opens an entity, a type change closes
  one). This is how a tagger's output is usually scored, and it reads all three schemes.
- ``mode="strict"``: only well-formed entities of the scheme count (IOB2: ``B-X I-X*``;
  BIOES: ``S-X`` or ``B-X I-X* E-X``); an ``I-X`` that does not continue an entity is
  dropped. It equals seqeval's ``mode="strict"``. Not defined for IOB1.

Spans are ``(start, end, type)`` with ``end`` exclusive (Python slicing), per sentence.
Everything runs as numpy passes over all tokens of all sentences at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab.sequence._ragged import Ragged

__all__ = [
    "SCHEMES",
    "check_scheme",
    "convert_tags",
    "detect_scheme",
    "entities",
    "spans_to_tags",
]

#: The tag schemes activelab reads and writes.
SCHEMES: tuple[str, ...] = ("IOB1", "IOB2", "BIOES")

_ALIASES = {"IOB1": "IOB1", "IOB2": "IOB2", "BIO": "IOB2", "BIOES": "BIOES", "IOBES": "BIOES"}
_ALLOWED = {"IOB1": "OBI", "IOB2": "OBI", "BIOES": "OBIES"}

# Prefix codes.
O, B, I, E, S = 0, 1, 2, 3, 4  # noqa: E741 - the tag prefixes themselves
_PREFIX_CODE = {"O": O, "B": B, "I": I, "E": E, "S": S}
_PREFIX_CHAR = np.array(["O", "B", "I", "E", "S"])


def check_scheme(scheme: str) -> str:
    """The canonical name of a tag scheme (``"BIO"`` → ``"IOB2"``, ``"IOBES"`` → ``"BIOES"``).

    Parameters
    ----------
    scheme : str

    Returns
    -------
    str
        One of :data:`SCHEMES`.

    Examples
    --------
    >>> check_scheme("bio")
    'IOB2'
    """
    canonical = _ALIASES.get(str(scheme).upper())
    if canonical is None:
        raise ValueError(
            f"unknown tag scheme {scheme!r}; use one of {', '.join(SCHEMES)} "
            "(aliases: BIO = IOB2, IOBES = BIOES)."
        )
    return canonical


class _Encoded:
    """Tags of many sentences as prefix codes and type codes over all tokens."""

    __slots__ = ("offsets", "prefix", "type", "types")

    def __init__(self, prefix: np.ndarray, type_: np.ndarray, types: list[str], offsets):
        self.prefix = prefix
        self.type = type_
        self.types = types
        self.offsets = offsets


def _flatten(sequences: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    if isinstance(sequences, str) or (
        len(sequences) > 0 and isinstance(sequences[0], str)  # type: ignore[index]
    ):
        raise TypeError(
            "tags must be a list of sentences, each a list of tag strings, e.g. "
            "[['B-PER', 'I-PER', 'O']]; got a flat list of strings — wrap it in a list."
        )
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = [tag for sentence in sequences for tag in sentence]
    return flat, np.concatenate([[0], np.cumsum(lengths)])


def _encode_tags(sequences: Sequence[Sequence[str]]) -> _Encoded:
    """Parse tag strings into prefix and type codes (type -1 for ``O``)."""
    flat, offsets = _flatten(sequences)
    lookup: dict[str, tuple[int, int]] = {}
    types: dict[str, int] = {}
    for tag in set(flat):
        if not isinstance(tag, str):
            raise TypeError(f"tags must be strings; got {tag!r} ({type(tag).__name__}).")
        if tag == "O":
            lookup[tag] = (O, -1)
            continue
        head, dash, name = tag.partition("-")
        if not dash or head not in _PREFIX_CODE or head == "O" or not name:
            raise ValueError(
                f"tag {tag!r} is not 'O' or '<B|I|E|S>-<type>' (e.g. 'B-PER'). Convert "
                "other tag sets first (e.g. map 'B_PER' to 'B-PER')."
            )
        lookup[tag] = (_PREFIX_CODE[head], types.setdefault(name, len(types)))
    codes = np.array([lookup[t] for t in flat], dtype=np.int64).reshape(-1, 2)
    return _Encoded(codes[:, 0].copy(), codes[:, 1].copy(), list(types), offsets)


def _previous(values: np.ndarray, offsets: np.ndarray, fill: int) -> np.ndarray:
    """``values`` shifted by one token within each sentence; ``fill`` at sentence starts."""
    prev = np.empty_like(values)
    if values.shape[0] == 0:
        return prev
    prev[1:] = values[:-1]
    starts = offsets[:-1][offsets[:-1] < offsets[1:]]
    prev[starts] = fill
    return prev


def _first_after(boundaries: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """For each position, the smallest boundary strictly greater than it."""
    return boundaries[np.searchsorted(boundaries, positions, side="right")]


def _spans_conlleval(enc: _Encoded) -> np.ndarray:
    p, c = enc.prefix, enc.type
    pp = _previous(p, enc.offsets, O)
    pc = _previous(c, enc.offsets, -1)
    different = pc != c
    p_bso = (p == B) | (p == S) | (p == O)
    p_ie = (p == I) | (p == E)
    end = (pp == E) | (pp == S) | (((pp == B) | (pp == I)) & p_bso) | ((pp != O) & different)
    start = (
        (p == B) | (p == S) | (((pp == E) | (pp == S) | (pp == O)) & p_ie) | ((p != O) & different)
    )
    starts = np.flatnonzero(start)
    boundaries = np.union1d(np.flatnonzero(end), enc.offsets[1:])
    ends = _first_after(boundaries, starts)
    return np.stack([starts, ends, c[starts]], axis=1)


def _spans_strict(enc: _Encoded, scheme: str) -> np.ndarray:
    p, c = enc.prefix, enc.type
    allowed = {_PREFIX_CODE[ch] for ch in _ALLOWED[scheme]}
    bad = ~np.isin(p, list(allowed))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"token {i} has prefix {_PREFIX_CHAR[p[i]]!r}, which {scheme} does not use "
            f"(allowed: {', '.join(_ALLOWED[scheme])}). Pass the right scheme, or convert "
            "the tags with convert_tags first."
        )
    pp = _previous(p, enc.offsets, O)
    pc = _previous(c, enc.offsets, -1)
    inside = (p == I) & ((pp == B) | (pp == I)) & (pc == c)
    boundaries = np.union1d(np.flatnonzero(~inside), enc.offsets[1:])
    if scheme == "IOB2":
        starts = np.flatnonzero(p == B)
        return np.stack([starts, _first_after(boundaries, starts), c[starts]], axis=1)
    singles = np.flatnonzero(p == S)
    begins = np.flatnonzero(p == B)
    run_end = _first_after(boundaries, begins)  # the first token after B-X I-X*
    sentence_end = _first_after(enc.offsets[1:], begins)
    last = np.minimum(run_end, max(p.shape[0] - 1, 0))
    valid = (run_end < sentence_end) & (p[last] == E) & (c[last] == c[begins])
    spans = np.concatenate(
        [
            np.stack([singles, singles + 1, c[singles]], axis=1),
            np.stack([begins[valid], run_end[valid] + 1, c[begins[valid]]], axis=1),
        ]
    )
    return spans[np.argsort(spans[:, 0], kind="stable")]


def _span_table(
    tags: Sequence[Sequence[str]], scheme: str | None, mode: str
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """All entities as ``(sentence, start, end, type_code)`` rows, token positions global."""
    enc = _encode_tags(tags)
    if mode == "conlleval":
        spans = _spans_conlleval(enc)
    elif mode == "strict":
        scheme = check_scheme(scheme or "IOB2")
        if scheme == "IOB1":
            raise ValueError(
                "strict mode is defined for IOB2 and BIOES; convert IOB1 tags with "
                "convert_tags(tags, 'IOB1', 'IOB2') first, or use mode='conlleval'."
            )
        spans = _spans_strict(enc, scheme)
    else:
        raise ValueError(f"mode must be 'conlleval' or 'strict'; got {mode!r}.")
    sentence = np.searchsorted(enc.offsets, spans[:, 0], side="right") - 1
    return sentence, spans, enc.types, enc.offsets


def entities(
    tags: Sequence[Sequence[str]], scheme: str | None = None, mode: str = "conlleval"
) -> list[list[tuple[int, int, str]]]:
    """Entity spans of each sentence.

    Parameters
    ----------
    tags : list of list of str
        One list of tags per sentence.
    scheme : {"IOB1", "IOB2", "BIOES"}, optional
        Needed by ``mode="strict"`` (default IOB2); ``"conlleval"`` reads every scheme.
    mode : {"conlleval", "strict"}
        See the module docstring.

    Returns
    -------
    list of list of (start, end, type)
        Per sentence, the entities in order; ``end`` is exclusive.

    Examples
    --------
    >>> entities([["B-PER", "I-PER", "O", "I-LOC"]])
    [[(0, 2, 'PER'), (3, 4, 'LOC')]]
    >>> entities([["B-PER", "I-PER", "O", "I-LOC"]], "IOB2", mode="strict")
    [[(0, 2, 'PER')]]
    """
    sentence, spans, types, offsets = _span_table(tags, scheme, mode)
    out: list[list[tuple[int, int, str]]] = [[] for _ in range(len(offsets) - 1)]
    local = spans[:, :2] - offsets[sentence][:, None]
    for s, (start, end), t in zip(
        sentence.tolist(), local.tolist(), spans[:, 2].tolist(), strict=True
    ):
        out[s].append((start, end, types[t]))
    return out


def spans_to_tags(
    spans: Sequence[Sequence[tuple[int, int, str]]], lengths: Sequence[int], scheme: str = "IOB2"
) -> list[list[str]]:
    """Tags of each sentence from its entity spans.

    Parameters
    ----------
    spans : list of list of (start, end, type)
        Per sentence, non-overlapping entities; ``end`` exclusive.
    lengths : sequence of int
        Tokens per sentence.
    scheme : {"IOB1", "IOB2", "BIOES"}

    Returns
    -------
    list of list of str

    Examples
    --------
    >>> spans_to_tags([[(0, 2, "PER"), (2, 3, "PER")]], [4], "IOB1")
    [['I-PER', 'I-PER', 'B-PER', 'O']]
    >>> spans_to_tags([[(0, 2, "PER"), (3, 4, "LOC")]], [4], "BIOES")
    [['B-PER', 'E-PER', 'O', 'S-LOC']]
    """
    scheme = check_scheme(scheme)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(spans) != lengths.shape[0]:
        raise ValueError(f"{len(spans)} sentences of spans but {lengths.shape[0]} lengths.")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    rows = [
        (offsets[i] + start, offsets[i] + end, label, start, end, lengths[i], i)
        for i, sentence in enumerate(spans)
        for start, end, label in sentence
    ]
    prefix = np.zeros(int(offsets[-1]), dtype=np.int64)
    types = np.full(int(offsets[-1]), -1, dtype=np.int64)
    names: dict[str, int] = {}
    if rows:
        table = np.array([r[:2] for r in rows], dtype=np.int64)
        local = np.array([r[3:] for r in rows], dtype=np.int64)
        if (
            np.any(local[:, 0] < 0)
            or np.any(local[:, 1] > local[:, 2])
            or np.any(local[:, 1] <= local[:, 0])
        ):
            bad = int(
                np.flatnonzero(
                    (local[:, 0] < 0) | (local[:, 1] > local[:, 2]) | (local[:, 1] <= local[:, 0])
                )[0]
            )
            raise ValueError(
                f"span {rows[bad][3:5]} of sentence {rows[bad][6]} does not fit its "
                f"{rows[bad][5]} tokens; spans need 0 <= start < end <= length."
            )
        codes = np.array([names.setdefault(r[2], len(names)) for r in rows], dtype=np.int64)
        order = np.argsort(table[:, 0], kind="stable")
        table, codes = table[order], codes[order]
        if np.any(table[1:, 0] < table[:-1, 1]):
            bad = int(np.flatnonzero(table[1:, 0] < table[:-1, 1])[0])
            raise ValueError(
                f"spans overlap at token {int(table[bad + 1, 0])}; entities must not overlap."
            )
        length = table[:, 1] - table[:, 0]
        token = np.repeat(np.arange(len(table)), length)
        position = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        where = table[token, 0] + position
        types[where] = codes[token]
        first = position == 0
        last = position == length[token] - 1
        if scheme == "IOB2":
            prefix[where] = np.where(first, B, I)
        elif scheme == "BIOES":
            prefix[where] = np.select([first & last, first, last], [S, B, E], default=I)
        else:  # IOB1: B only when the previous token ends an entity of the same type.
            follows = np.zeros(len(table), dtype=bool)
            follows[1:] = (table[1:, 0] == table[:-1, 1]) & (codes[1:] == codes[:-1])
            # A span never follows one in another sentence: that one would end at the
            # sentence boundary, and the sentence's first token has no predecessor.
            sentence_start = np.isin(table[:, 0], offsets[:-1])
            follows &= ~sentence_start
            prefix[where] = np.where(first & follows[token], B, I)
    label_names = np.array(["O", *[f"{p}-{t}" for t in names for p in "BIES"]], dtype=object)
    index = np.where(types < 0, 0, 1 + types * 4 + (prefix - 1))
    flat = label_names[index]
    return [flat[offsets[i] : offsets[i + 1]].tolist() for i in range(lengths.shape[0])]


def convert_tags(tags: Sequence[Sequence[str]], source: str, target: str) -> list[list[str]]:
    """Rewrite tags from one scheme to another, keeping every entity.

    The entities are read with the conlleval rules (which accept ill-formed input, see
    :func:`entities`) and written in ``target``.

    Parameters
    ----------
    tags : list of list of str
    source, target : {"IOB1", "IOB2", "BIOES"}

    Returns
    -------
    list of list of str

    Examples
    --------
    >>> convert_tags([["I-ORG", "I-ORG", "O", "I-PER"]], "IOB1", "BIOES")
    [['B-ORG', 'E-ORG', 'O', 'S-PER']]
    """
    check_scheme(source)
    target = check_scheme(target)
    lengths = [len(sentence) for sentence in tags]
    return spans_to_tags(entities(tags), lengths, target)


def detect_scheme(tags: Sequence[Sequence[str]]) -> str:
    """Guess the scheme of tags: BIOES if ``E-``/``S-`` occur, IOB1 if an entity opens
    with ``I-``, else IOB2.

    Parameters
    ----------
    tags : list of list of str

    Returns
    -------
    str

    Examples
    --------
    >>> detect_scheme([["I-PER", "O"]]), detect_scheme([["B-PER", "I-PER"]])
    ('IOB1', 'IOB2')
    """
    enc = _encode_tags(tags)
    if np.isin(enc.prefix, [E, S]).any():
        return "BIOES"
    pp = _previous(enc.prefix, enc.offsets, O)
    pc = _previous(enc.type, enc.offsets, -1)
    opens_with_i = (enc.prefix == I) & ((pp == O) | (pc != enc.type))
    return "IOB1" if opens_with_i.any() else "IOB2"


def encode_labels(tags: Sequence[Sequence[str]], labels: Sequence[str]) -> Ragged:
    """Tag strings as indices into ``labels``, one ragged row per token.

    Parameters
    ----------
    tags : list of list of str
    labels : sequence of str

    Returns
    -------
    Ragged of int64
    """
    index = {label: i for i, label in enumerate(labels)}
    flat, offsets = _flatten(tags)
    try:
        codes = np.fromiter((index[t] for t in flat), dtype=np.int64, count=len(flat))
    except KeyError as error:
        raise ValueError(
            f"tag {error.args[0]!r} is not among the model's labels {list(labels)}; the "
            "model never saw it in training (or the tags use another scheme)."
        ) from None
    return Ragged(codes, offsets)


def decode_labels(paths: Ragged, labels: Sequence[str]) -> list[list[str]]:
    """Label indices back to tag strings, one list per sentence.

    Parameters
    ----------
    paths : Ragged of int
    labels : sequence of str

    Returns
    -------
    list of list of str
    """
    names = np.asarray(list(labels), dtype=object)[np.asarray(paths.values, dtype=np.int64)]
    return [names[a:b].tolist() for a, b in zip(paths.offsets[:-1], paths.offsets[1:], strict=True)]


def as_tag_lists(tags: Any) -> list[list[str]]:
    """A list of lists of str from any sequence of sequences (tuples, arrays)."""
    return [list(map(str, sentence)) for sentence in tags]
