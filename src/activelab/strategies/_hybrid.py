"""Uncertain or unstable items, clustered: CLUE and DropQuery.

Both run :func:`activelab._kmeans.cluster_representatives` (weighted k-means, the member
nearest each centre) on the model's embeddings: CLUE over the pool with entropy weights,
DropQuery over the items whose prediction flips under feature dropout. Sparse
embeddings are clustered as CSR; dense ones are centred and held in float32.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from activelab import scores
from activelab._distances import as_embedding, block_rows
from activelab._kmeans import cluster_representatives
from activelab._validation import RandomStateLike, check_int, check_number, check_random_state
from activelab.models import ModelAdapter, SklearnAdapter
from activelab.select import top_k
from activelab.strategies._base import Strategy, embeddings

__all__ = ["CLUE", "DropQuery"]


class CLUE(Strategy):
    r"""Clustering Uncertainty-weighted Embeddings (CLUE).

    Runs k-means with ``k`` centres on the pool's embeddings, each item weighted by the
    entropy of its predicted class distribution, and queries the member nearest each
    centre. It minimises the uncertainty-weighted k-means objective

    .. math:: \min_{\mu_1..\mu_k} \sum_{x \in \text{pool}} H(Y \mid x)
              \min_j \lVert \phi(x) - \mu_j \rVert^2,
              \qquad H(Y \mid x) = -\sum_c p(c \mid x) \log p(c \mid x)

    so the batch is diverse (one item per cluster) and drawn towards uncertain regions.
    Seeding is greedy weighted k-means++ (D² sampling); Lloyd iterations run in float32 with
    BLAS distances in bounded row blocks (:func:`activelab._kmeans.kmeans`). The batch is
    ordered by cluster weight, heaviest first. Clusters left without members (fewer
    distinct items than ``k``) give nothing, and the batch is filled with the most
    uncertain remaining items. If every weight is zero (a model certain about every
    item) all weights become 1.

    Differences from scikit-activeml's ``Clue``: the same objective, but our own k-means
    (theirs is ``sklearn.cluster.KMeans``, float64, at most 300 iterations, with its own
    seed), so the picks differ by the clustering's random start; they take the pool item
    nearest each centre, we the cluster's member nearest it (the same item unless an
    item of a neighbouring cluster lies closer to the centre than every member); they
    order the batch by centre index, we by cluster weight. The paper's softmax
    temperature on the logits is not applied (we only see probabilities).

    Parameters
    ----------
    max_iter : int, default=100
        Most Lloyd iterations.
    tol : float, default=1e-4
        Stop when the squared centre shift is at most ``tol`` times the mean feature
        variance (scikit-learn's convention), or when no label changes.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the representative of the heaviest cluster first.

    References
    ----------
    Prabhu, Chandrasekaran, Saenko & Hoffman (2021), "Active domain adaptation via
    clustering uncertainty-weighted embeddings", ICCV, pp. 8505–8514.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1], [2.0], [2.1]])
    >>> model = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1])
    >>> CLUE().query(model, X, 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "clue"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "entropy-weighted k-means on embeddings, item nearest each centre"
    reference: ClassVar[str] = "Prabhu et al. 2021 (ICCV)"

    def __init__(self, max_iter: int = 100, tol: float = 1e-4) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        max_iter = check_int(self.max_iter, "max_iter", self.name, 1)
        tol = check_number(self.tol, "tol", self.name, 0.0)
        weights = scores.entropy(model.predict_proba(X_pool))
        n = weights.shape[0]
        if k == n:  # every item is picked: order by uncertainty alone
            return top_k(weights, k, rng)
        if not weights.sum() > 0:
            weights = np.ones(n)
        embedded, _ = embeddings(model, X_pool, None, self.name, keep_sparse=True)
        return cluster_representatives(
            embedded, k, rng, weights=weights, max_iter=max_iter, tol=tol, greedy=True
        )


class DropQuery(Strategy):
    r"""DropQuery: items whose prediction flips under feature dropout, clustered.

    For ``n_masks`` random dropout masks :math:`m` (each feature kept with probability
    :math:`1 - r`, kept features scaled by :math:`1/(1-r)` as in inverted dropout) the
    model's classifier head predicts the masked embedding,
    :math:`\hat y_m(x) = \arg\max_c f(m \odot \phi(x))_c`. An item is a *candidate* when
    its prediction differs from the unperturbed :math:`\hat y(x)` in more than half the
    masks. If there are more than ``k`` candidates, k-means with ``k`` centres runs on the
    candidates' embeddings and each cluster's member nearest its centre is queried
    (largest cluster first); otherwise every candidate is queried (most flips first) and the
    batch is filled with random non-candidates.

    For a scikit-learn model the embedding is :meth:`embed` (a Pipeline's features
    before its last step, or the numeric input) and the head is the final estimator; any
    other adapter must provide ``head_proba(embedding)``.

    Differences from scikit-activeml's ``DropQuery``: they drop features of the raw input
    without rescaling (``rescale=False`` here), default to 5 masks (the paper uses 3),
    and when there are too few candidates they cluster the ``k`` items with the highest
    flip rate instead of filling at random as the paper does; their k-means is
    ``sklearn.cluster.KMeans``, so picks differ by the clustering's random start.

    Parameters
    ----------
    dropout_rate : float, default=0.75
        Probability of zeroing each feature, in ``(0, 1)``.
    n_masks : int, default=3
        Dropout masks per item.
    rescale : bool, default=True
        Scale kept features by ``1 / (1 - dropout_rate)``.
    max_iter : int, default=100
        Most Lloyd iterations of the candidate clustering.
    tol : float, default=1e-4
        k-means tolerance (see :class:`CLUE`).

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the largest cluster's representative first, or the
        candidates by decreasing flips, then the random fill.

    References
    ----------
    Gupte, Aklilu, Nirschl & Yeung-Levy (2024), "Revisiting active learning in the era of
    vision foundation models", TMLR.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    >>> DropQuery().query(model, X, 4, random_state=0).shape
    (4,)
    """

    name: ClassVar[str] = "dropquery"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "items whose prediction flips under feature dropout, k-means on them"
    reference: ClassVar[str] = "Gupte et al. 2024 (TMLR)"

    def __init__(
        self,
        dropout_rate: float = 0.75,
        n_masks: int = 3,
        rescale: bool = True,
        max_iter: int = 100,
        tol: float = 1e-4,
    ) -> None:
        self.dropout_rate = dropout_rate
        self.n_masks = n_masks
        self.rescale = rescale
        self.max_iter = max_iter
        self.tol = tol

    def _head(self, model: ModelAdapter) -> tuple[Any, Any]:
        """The classifier head's ``predict_proba`` and the feature names it was fitted on."""
        if isinstance(model, SklearnAdapter):
            steps = getattr(model.estimator, "steps", None)
            head = steps[-1][1] if steps else model.estimator
            if callable(getattr(head, "predict_proba", None)):
                return head.predict_proba, getattr(head, "feature_names_in_", None)
        head_proba = getattr(model, "head_proba", None)
        if callable(head_proba):
            return head_proba, None
        raise TypeError(
            f"{self.name} perturbs the embedding and predicts it with the classifier head; "
            f"{model.describe()} has no head to call. Use a scikit-learn classifier or "
            "Pipeline (the final step is the head), or an adapter with head_proba(embedding)."
        )

    def flip_counts(
        self, model: Any, X_pool: Any, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """How many of the ``n_masks`` dropout masks flip each item's prediction.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool : array-like, sparse matrix or DataFrame
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (n,), int64
        """
        adapter = self._adapter(model)
        return self._flips(adapter, adapter.embed(X_pool), check_random_state(random_state))

    def _flips(self, model: ModelAdapter, embedded: Any, rng: np.random.Generator) -> np.ndarray:
        rate = check_number(self.dropout_rate, "dropout_rate", self.name, 0.0, open_low=True)
        if rate >= 1.0:
            raise ValueError(f"{self.name}: dropout_rate must be below 1; got {rate!r}.")
        n_masks = check_int(self.n_masks, "n_masks", self.name, 1)
        head_proba, names = self._head(model)
        sparse = sp.issparse(embedded)
        embedded = sp.csr_matrix(embedded) if sparse else np.asarray(embedded)
        keep_scale = 1.0 / (1.0 - rate) if self.rescale else 1.0

        def predict(block: Any) -> np.ndarray:
            if names is not None and not sparse and len(names) == block.shape[1]:
                import pandas as pd

                block = pd.DataFrame(block, columns=names)
            return np.asarray(head_proba(block)).argmax(axis=1)

        n = embedded.shape[0]
        flips = np.zeros(n, dtype=np.int64)
        rows = block_rows(embedded.shape[1])
        for start in range(0, n, rows):
            block = embedded[start : start + rows]
            unperturbed = predict(block)
            for _ in range(n_masks):
                if sparse:
                    masked = block.copy()
                    keep = rng.random(masked.data.shape[0], dtype=np.float32) >= rate
                    masked.data = masked.data * keep * keep_scale
                else:
                    keep = rng.random(block.shape, dtype=np.float32) >= rate
                    masked = block * keep
                    if keep_scale != 1.0:
                        masked *= keep_scale
                flips[start : start + rows] += predict(masked) != unperturbed
        return flips

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        max_iter = check_int(self.max_iter, "max_iter", self.name, 1)
        tol = check_number(self.tol, "tol", self.name, 0.0)
        embedded = model.embed(X_pool)
        flips = self._flips(model, embedded, rng)
        n = flips.shape[0]
        candidates = np.flatnonzero(2 * flips > int(self.n_masks))
        if candidates.shape[0] <= k:
            first = candidates
            if candidates.shape[0]:
                first = candidates[
                    top_k(flips[candidates].astype(np.float64), len(candidates), rng)
                ]
            others = np.setdiff1d(np.arange(n), candidates, assume_unique=True)
            fill = rng.choice(others, size=k - candidates.shape[0], replace=False)
            return np.concatenate([first, fill]).astype(np.int64)
        if not sp.issparse(embedded):
            embedded = np.asarray(embedded)
        subset = as_embedding(embedded[candidates], self.name, keep_sparse=True)
        picks = cluster_representatives(subset, k, rng, max_iter=max_iter, tol=tol, greedy=True)
        return candidates[picks].astype(np.int64)
