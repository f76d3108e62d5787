"""Features of a project's items: what the model reads and what diversity measures.

- Text (model ``tfidf-logreg``): TF-IDF of word unigrams and bigrams (sublinear term
  frequency), fitted on every item of the project — unsupervised, so using the pool is
  fair — is the model's input. The embedding for distances (cold start, batch
  diversity) is its latent semantic analysis: TruncatedSVD to at most 100 dimensions,
  rows scaled to unit length, float32. The diversity selectors measure Euclidean
  distance, which on unit rows ranks pairs as cosine similarity does.
  :func:`embed_texts` is the one place to plug another text embedder (sentence
  embeddings, say).
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

__all__ = ["Features", "embed_texts", "image_features", "lsa_embedding", "text_features"]

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


def embed_texts(texts: Sequence[str], matrix: Any, seed: int = 0) -> np.ndarray:
    """The distance embedding of a project's texts: **the place to plug a text embedder**.

    Cold start (TypiClust, k-means) and batch diversity measure distances on what this
    returns. Today it is :func:`lsa_embedding` of the TF-IDF ``matrix``. A sentence
    embedder (MiniLM through the ``torch`` extra, say) goes here: return its
    ``(n, d)`` float32 embedding of ``texts`` with rows of unit length, and fall back to
    LSA when its extra is not installed. Choose it here, in code, not by patching at
    run time: the trainer runs in a process of its own (spawned), which imports this
    module afresh.

    Parameters
    ----------
    texts : sequence of str
    matrix : scipy.sparse.csr_matrix
        Their TF-IDF rows (the model's input).
    seed : int

    Returns
    -------
    numpy.ndarray of shape (n, d), float32
        Rows of unit length (or zero).
    """
    return lsa_embedding(matrix, seed)


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
