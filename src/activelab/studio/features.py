"""Features of a project's items: what the model reads and what diversity measures.

- Text (model ``tfidf-logreg``): TF-IDF of word unigrams and bigrams (sublinear term
  frequency), fitted on every item of the project — unsupervised, so using the pool is
  fair — is the model's input. The embedding for distances (cold start, batch
  diversity) is its latent semantic analysis: TruncatedSVD to at most 100 dimensions,
  rows scaled to unit length, float32. The diversity selectors measure Euclidean
  distance, which on unit rows ranks pairs as cosine similarity does.
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

__all__ = ["Features", "image_features", "text_features"]

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

    def __post_init__(self) -> None:
        self.rows = {int(item_id): row for row, item_id in enumerate(self.item_ids)}

    def positions(self, item_ids: Sequence[int]) -> np.ndarray:
        """Row positions of the given item ids (ids without features are dropped).

        Parameters
        ----------
        item_ids : sequence of int

        Returns
        -------
        numpy.ndarray of int64
        """
        return np.array(
            [self.rows[int(i)] for i in item_ids if int(i) in self.rows], dtype=np.int64
        )


def text_features(texts: Sequence[str], seed: int = 0, item_ids: Any = None) -> Features:
    """TF-IDF for the model and its unit-length LSA embedding for distances.

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

    References
    ----------
    Deerwester, Dumais, Furnas, Landauer & Harshman (1990), "Indexing by latent semantic
    analysis", JASIS 41(6).
    """
    from sklearn.decomposition import TruncatedSVD
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
    components = min(EMBEDDING_DIM, matrix.shape[1] - 1, n - 1)
    if components >= 2:
        embedding = TruncatedSVD(n_components=components, random_state=seed).fit_transform(matrix)
    else:
        embedding = matrix.toarray()
    embedding = np.asarray(embedding, dtype=np.float32)
    lengths = np.linalg.norm(embedding, axis=1, keepdims=True)
    np.divide(embedding, lengths, out=embedding, where=lengths > 0)
    ids = np.arange(n, dtype=np.int64) if item_ids is None else np.asarray(item_ids, np.int64)
    return Features(ids, matrix, embedding)


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
