"""Ragged arrays: one block of rows per sentence, stored as one array and its offsets.

Tagger outputs (per-token marginals, tag paths, posterior samples) have one row per
token and a different number of tokens per sentence. Keeping them as one concatenated
array plus sentence offsets lets every score run as a single vectorised numpy pass over
the pool instead of a Python loop over sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Ragged:
    """Rows grouped by sentence: ``values[offsets[i]:offsets[i + 1]]`` is sentence ``i``.

    Parameters
    ----------
    values : numpy.ndarray of shape (n_tokens, ...)
        The rows of every sentence, concatenated; any trailing shape (labels, members).
    offsets : array of int of shape (n_sentences + 1,)
        Non-decreasing, ``offsets[0] == 0`` and ``offsets[-1] == n_tokens``.

    Examples
    --------
    >>> r = Ragged.from_list([np.array([1.0, 2.0]), np.array([3.0])])
    >>> r.lengths.tolist(), r[1].tolist()
    ([2, 1], [3.0])
    >>> r.sum().tolist()
    [3.0, 3.0]
    """

    __slots__ = ("offsets", "values")

    def __init__(self, values: Any, offsets: Any) -> None:
        values = np.asarray(values)
        offsets = np.asarray(offsets, dtype=np.int64)
        if offsets.ndim != 1 or offsets.shape[0] < 1 or offsets[0] != 0:
            raise ValueError(
                "offsets must be a 1-D array that starts at 0 (one more entry than there "
                f"are sentences); got {offsets[:5].tolist()}…"
            )
        if np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must be non-decreasing (sentence lengths are >= 0).")
        if values.ndim == 0 or offsets[-1] != values.shape[0]:
            raise ValueError(
                f"offsets end at {int(offsets[-1])} but values has "
                f"{values.shape[0] if values.ndim else 0} rows; they must agree."
            )
        self.values = values
        self.offsets = offsets

    @classmethod
    def from_list(cls, blocks: Sequence[Any], trailing: tuple[int, ...] = ()) -> Ragged:
        """Concatenate per-sentence arrays.

        Parameters
        ----------
        blocks : sequence of array-like, each of shape (length_i, ...)
        trailing : tuple of int
            Trailing shape to use when ``blocks`` is empty.

        Returns
        -------
        Ragged
        """
        arrays = [np.asarray(b) for b in blocks]
        lengths = np.array([a.shape[0] if a.ndim else 0 for a in arrays], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if not arrays:
            return cls(np.empty((0, *trailing)), offsets)
        return cls(np.concatenate(arrays, axis=0), offsets)

    @classmethod
    def from_lengths(cls, values: Any, lengths: Any) -> Ragged:
        """Build from concatenated rows and the length of each sentence.

        Parameters
        ----------
        values : array of shape (sum(lengths), ...)
        lengths : array of int of shape (n_sentences,)

        Returns
        -------
        Ragged
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        return cls(values, np.concatenate([[0], np.cumsum(lengths)]))

    @property
    def lengths(self) -> np.ndarray:
        """Number of rows of each sentence, ``(n_sentences,)`` int64."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return self.offsets.shape[0] - 1

    def __getitem__(self, i: int) -> np.ndarray:
        if not -len(self) <= i < len(self):
            raise IndexError(f"sentence {i} out of range for {len(self)} sentences.")
        i = i % len(self)
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def __iter__(self):
        for i in range(len(self)):
            yield self.values[self.offsets[i] : self.offsets[i + 1]]

    def __repr__(self) -> str:
        return (
            f"Ragged({len(self)} sentences, {self.values.shape[0]} rows, "
            f"row shape {self.values.shape[1:]}, {self.values.dtype})"
        )

    def sentence_ids(self) -> np.ndarray:
        """The sentence of each row, ``(n_tokens,)`` int64."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def positions(self) -> np.ndarray:
        """The position of each row within its sentence, ``(n_tokens,)`` int64."""
        return np.arange(self.values.shape[0], dtype=np.int64) - np.repeat(
            self.offsets[:-1], self.lengths
        )

    def with_values(self, values: Any) -> Ragged:
        """Same sentences, new rows (e.g. a per-token score computed from these rows).

        Parameters
        ----------
        values : array of shape (n_tokens, ...)

        Returns
        -------
        Ragged
        """
        return Ragged(values, self.offsets)

    def sum(self) -> np.ndarray:
        """Per-sentence sum over rows (0 for an empty sentence).

        Returns
        -------
        numpy.ndarray of shape (n_sentences, ...)
        """
        return self._reduce(np.add, 0.0)

    def _reduce(self, ufunc: np.ufunc, empty: float) -> np.ndarray:
        values = np.asarray(self.values, dtype=np.float64)
        out = np.full((len(self), *values.shape[1:]), empty, dtype=np.float64)
        nonempty = self.lengths > 0
        if values.shape[0]:
            out[nonempty] = ufunc.reduceat(values, self.offsets[:-1][nonempty], axis=0)
        return out

    def mean(self) -> np.ndarray:
        """Per-sentence mean over rows (NaN for an empty sentence).

        Returns
        -------
        numpy.ndarray of shape (n_sentences, ...)
        """
        lengths = self.lengths.astype(np.float64)
        total = self.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / lengths.reshape(-1, *([1] * (total.ndim - 1)))

    def max(self) -> np.ndarray:
        """Per-sentence maximum over rows (-inf for an empty sentence).

        Returns
        -------
        numpy.ndarray of shape (n_sentences, ...)
        """
        return self._reduce(np.maximum, -np.inf)

    def take(self, sentences: Any) -> Ragged:
        """The listed sentences, in that order.

        Parameters
        ----------
        sentences : array of int

        Returns
        -------
        Ragged
        """
        sentences = np.asarray(sentences, dtype=np.int64)
        lengths = self.lengths[sentences]
        starts = self.offsets[:-1][sentences]
        rows = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        rows += np.arange(int(lengths.sum()), dtype=np.int64)
        return Ragged.from_lengths(self.values[rows], lengths)

    def to_list(self) -> list[np.ndarray]:
        """One array per sentence (views into :attr:`values`).

        Returns
        -------
        list of numpy.ndarray
        """
        return list(self)
