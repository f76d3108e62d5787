"""The CRF's token features, and fast emission scores from a trained CRF's weights.

Every feature of a token is a function of one word — the token's own, or a neighbour's
within the context window — so features are computed once per distinct word, and the
emission scores of a whole pool are a few table look-ups: for each window offset ``o``,
a table ``(n_words, L)`` holds the summed state weights of the word's offset-``o``
attributes, and a token's emission is the bias plus the sum of its window's rows. This
is exactly the score crfsuite computes, at a fraction of the cost of building feature
dicts per token.

The feature set (documented in :class:`~activelab.sequence.CRFTagger`):

==================  ==========================================================
attribute           value
==================  ==========================================================
``bias``            always on
``w=``              the word as written
``lower=``          the word lower-cased
``p1=`` … ``pK=``   prefixes of 1..K characters (``affixes=K``)
``s1=`` … ``sK=``   suffixes of 1..K characters
``shape=``          characters mapped to ``X``/``x``/``d``, others kept (≤ 12 chars)
``short=``          the shape with runs collapsed (``Xxxx-dd`` → ``Xx-d``)
``title``           ``Title``-case word
``upper``           all letters upper-case
``lower``           all letters lower-case
``digit``           only digits
``has_digit``       contains a digit
``hyphen``          contains ``-``
``punct``           no letter or digit
``{o}:lower=``      for each offset ``o`` in ``±1..±window``: the neighbour's
``{o}:short=``      lower-cased word, short shape and case flags
``{o}:title``
``{o}:upper``
``{o}:BOS``         the window reaches before the sentence start (``o < 0``)
``{o}:EOS``         or after its end (``o > 0``)
==================  ==========================================================
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from activelab.sequence._ragged import Ragged

__all__ = ["WordFeatures"]

_BOS, _EOS = 0, 1  # reserved word ids


def _shape(word: str) -> str:
    out = []
    for ch in word[:12]:
        if ch.isupper():
            out.append("X")
        elif ch.islower():
            out.append("x")
        elif ch.isdigit():
            out.append("d")
        else:
            out.append(ch)
    return "".join(out)


def _short(shape: str) -> str:
    out: list[str] = []
    for ch in shape:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


class WordFeatures:
    """The feature set of one word at each window offset.

    Parameters
    ----------
    window : int
        Neighbours on each side whose features a token sees.
    affixes : int
        Longest prefix and suffix used.

    Examples
    --------
    >>> features = WordFeatures(window=1, affixes=2)
    >>> features.token(["Ada", "Lovelace"])[0][:4]
    ['bias', 'w=Ada', 'lower=ada', 'p1=A']
    """

    def __init__(self, window: int = 2, affixes: int = 3) -> None:
        self.window = int(window)
        self.affixes = int(affixes)
        self.offsets = [o for o in range(-self.window, self.window + 1) if o != 0]
        self._cache: dict[str, list[list[str]]] = {}

    def own(self, word: str) -> list[str]:
        """The attributes a word gives its own token."""
        lower = word.lower()
        shape = _shape(word)
        feats = [f"w={word}", f"lower={lower}"]
        for k in range(1, self.affixes + 1):
            if len(word) >= k:
                feats.append(f"p{k}={word[:k]}")
                feats.append(f"s{k}={word[-k:]}")
        feats.append(f"shape={shape}")
        feats.append(f"short={_short(shape)}")
        letters = any(ch.isalpha() for ch in word)
        if word.istitle():
            feats.append("title")
        if letters and word.isupper():
            feats.append("upper")
        if letters and word.islower():
            feats.append("lower")
        if word.isdigit():
            feats.append("digit")
        if any(ch.isdigit() for ch in word):
            feats.append("has_digit")
        if "-" in word:
            feats.append("hyphen")
        if not any(ch.isalnum() for ch in word):
            feats.append("punct")
        return feats

    def context(self, word: str, offset: int) -> list[str]:
        """The attributes a word gives the token ``offset`` positions away from it."""
        feats = [f"{offset}:lower={word.lower()}", f"{offset}:short={_short(_shape(word))}"]
        if word.istitle():
            feats.append(f"{offset}:title")
        if any(ch.isalpha() for ch in word) and word.isupper():
            feats.append(f"{offset}:upper")
        return feats

    def _per_offset(self, word: str) -> list[list[str]]:
        """Attributes of ``word`` at offset 0 and at each context offset (cached)."""
        cached = self._cache.get(word)
        if cached is None:
            cached = [self.own(word), *[self.context(word, o) for o in self.offsets]]
            if len(self._cache) < 500_000:
                self._cache[word] = cached
        return cached

    def token(self, words: Sequence[str]) -> list[list[str]]:
        """crfsuite attribute lists of every token of one sentence.

        Parameters
        ----------
        words : sequence of str

        Returns
        -------
        list of list of str
        """
        per_word = [self._per_offset(w) for w in words]
        n = len(words)
        out = []
        for t in range(n):
            feats = ["bias", *per_word[t][0]]
            for k, o in enumerate(self.offsets, 1):
                j = t + o
                if j < 0:
                    feats.append(f"{o}:BOS")
                elif j >= n:
                    feats.append(f"{o}:EOS")
                else:
                    feats.extend(per_word[j][k])
            out.append(feats)
        return out

    # ------------------------------------------------------------ vectorised scoring

    def word_ids(self, sentences: Sequence[Sequence[str]]) -> tuple[Ragged, list[str]]:
        """Each token's id in the batch's vocabulary (ids 0 and 1 are BOS and EOS).

        Parameters
        ----------
        sentences : list of list of str

        Returns
        -------
        ids : Ragged of int64
        vocabulary : list of str
            ``vocabulary[i - 2]`` is word ``i``.
        """
        index: dict[str, int] = {}
        flat = [w for sentence in sentences for w in sentence]
        ids = np.fromiter(
            (index.setdefault(w, len(index) + 2) for w in flat), dtype=np.int64, count=len(flat)
        )
        lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
        return Ragged.from_lengths(ids, lengths), list(index)

    def attribute_matrix(
        self, vocabulary: Sequence[str], slot: int, attributes: dict[str, int]
    ) -> sp.csr_matrix:
        """Indicator matrix ``(2 + n_words, n_attributes)`` of one window slot.

        Slot 0 is the token's own word; slot ``k`` is context offset ``self.offsets[k-1]``.
        Rows 0 and 1 hold the BOS and EOS attribute of that offset. Attributes the model
        does not know are dropped (their weight is 0).
        """
        rows: list[int] = []
        cols: list[int] = []
        if slot > 0:
            offset = self.offsets[slot - 1]
            for row, name in ((_BOS, f"{offset}:BOS"), (_EOS, f"{offset}:EOS")):
                col = attributes.get(name)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
        for i, word in enumerate(vocabulary, 2):
            for name in self._per_offset(word)[slot]:
                col = attributes.get(name)
                if col is not None:
                    rows.append(i)
                    cols.append(col)
        data = np.ones(len(rows))
        shape = (len(vocabulary) + 2, len(attributes))
        return sp.csr_matrix((data, (rows, cols)), shape=shape)

    def shifted_ids(self, ids: Ragged, offset: int) -> np.ndarray:
        """For each token, the id of the word ``offset`` positions away (BOS/EOS outside)."""
        position = ids.positions()
        length = np.repeat(ids.lengths, ids.lengths)
        target = position + offset
        rows = np.arange(ids.values.shape[0]) + offset
        out = np.where(target < 0, _BOS, _EOS).astype(np.int64)
        inside = (target >= 0) & (target < length)
        out[inside] = ids.values[rows[inside]]
        return out

    def emissions(
        self,
        sentences: Sequence[Sequence[str]],
        attributes: dict[str, int],
        weights: np.ndarray,
    ) -> Ragged:
        """Emission scores ``(n_tokens, L)`` of every token under state weights.

        Parameters
        ----------
        sentences : list of list of str
        attributes : dict from attribute name to row of ``weights``
        weights : array of shape (n_attributes, L)

        Returns
        -------
        Ragged of float64
        """
        ids, vocabulary = self.word_ids(sentences)
        n_labels = weights.shape[1]
        out = np.zeros((ids.values.shape[0], n_labels))
        bias = attributes.get("bias")
        if bias is not None:
            out += weights[bias]
        for slot in range(len(self.offsets) + 1):
            table = np.asarray(self.attribute_matrix(vocabulary, slot, attributes) @ weights)
            where = ids.values if slot == 0 else self.shifted_ids(ids, self.offsets[slot - 1])
            out += table[where]
        return ids.with_values(out)

    def embeddings(self, sentences: Sequence[Sequence[str]], dim: int = 256) -> np.ndarray:
        """Sentence embeddings: the mean of hashed token-attribute vectors, L2-normalised.

        Each of a token's own attributes (word, affixes, shape, case) is hashed (CRC-32)
        to one of ``dim`` coordinates with a sign; a sentence is the mean of its tokens'
        vectors (length-independent), scaled to unit length. Deterministic across runs.

        Parameters
        ----------
        sentences : list of list of str
        dim : int

        Returns
        -------
        numpy.ndarray of shape (n_sentences, dim), float32
        """
        ids, vocabulary = self.word_ids(sentences)
        rows: list[int] = []
        cols: list[int] = []
        signs: list[float] = []
        for i, word in enumerate(vocabulary, 2):
            for name in self._per_offset(word)[0]:
                code = zlib.crc32(name.encode("utf-8"))
                rows.append(i)
                cols.append(code % dim)
                signs.append(1.0 if (code >> 16) & 1 else -1.0)
        hashed = sp.csr_matrix((signs, (rows, cols)), shape=(len(vocabulary) + 2, dim))
        counts = sp.csr_matrix(
            (np.ones(ids.values.shape[0]), (ids.sentence_ids(), ids.values)),
            shape=(len(ids), len(vocabulary) + 2),
        )
        emb = np.asarray((counts @ hashed).todense(), dtype=np.float64)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        np.divide(emb, norms, out=emb, where=norms > 0)
        return emb.astype(np.float32)
