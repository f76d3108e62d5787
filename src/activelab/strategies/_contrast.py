"""Strategies that contrast the pool with the labeled set: CAL (KL divergence to the
labeled neighbours) and DAL (a labeled-vs-unlabeled discriminator)."""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from activelab._distances import k_nearest, squared_norms
from activelab._validation import (
    RandomStateLike,
    check_int,
    check_number,
    check_probabilities,
    check_random_state,
    n_rows,
)
from activelab.select import top_k
from activelab.strategies._base import Strategy, embeddings

__all__ = ["Contrastive", "Discriminative"]


def _require_labeled(X_labeled: Any, who: str) -> int:
    """Number of labeled rows; a ValueError when there are none."""
    count = 0 if X_labeled is None else n_rows(X_labeled)
    if count == 0:
        found = "None" if X_labeled is None else "an empty labeled set"
        raise ValueError(
            f"{who} compares the pool with the labeled set, so it needs X_labeled; got "
            f"{found}. Pass the labeled rows: query(model, X_pool, k, X_labeled, y_labeled)."
        )
    return count


@numba.njit(cache=True, nogil=True)
def _cal_scores(neighbours, labeled_proba, neg_entropy, log_pool, out):  # pragma: no cover
    """``mean_j KL(q_j ‖ p_i)`` over each row's labeled neighbours ``j``, clipped at 0.

    ``KL(q ‖ p) = Σ_c q_c log q_c − Σ_c q_c log p_c``; ``neg_entropy`` holds the first sum.
    """
    n_neighbors = neighbours.shape[1]
    for i in range(neighbours.shape[0]):
        score = 0.0
        for t in range(n_neighbors):
            neighbour = neighbours[i, t]
            score += neg_entropy[neighbour]
            for c in range(labeled_proba.shape[1]):
                score -= labeled_proba[neighbour, c] * log_pool[i, c]
        out[i] = max(score / n_neighbors, 0.0)


def _clipped(proba: Any, eps: float, who: str) -> np.ndarray:
    """Probabilities clipped to ``[eps, 1]`` and renormalised (finite KL divergences)."""
    clipped = np.clip(check_probabilities(proba, who), eps, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return clipped


class Contrastive(Strategy):
    r"""Contrastive Active Learning (CAL): items that disagree with their labeled neighbours.

    For each pool item :math:`x` with predicted distribution :math:`p(\cdot \mid x)`, find
    its ``K`` nearest labeled items :math:`x_1..x_K` in embedding space (Euclidean) and
    score

    .. math:: s(x) = \frac{1}{K} \sum_{j=1}^{K}
              \mathrm{KL}\left(p(\cdot \mid x_j) \,\Vert\, p(\cdot \mid x)\right)

    where, as in the paper, :math:`p(\cdot \mid x_j)` is the model's *predicted*
    distribution for the labeled neighbour. The ``k`` highest scores are queried (ties at
    random). Probabilities are clipped at ``eps`` and renormalised first, so the
    divergence stays finite. The neighbour search is
    :func:`activelab._distances.k_nearest`, blocked over the pool (float32 BLAS products
    ``x·l`` against the labeled set, a compiled heap pass per row); a compiled pass then
    sums :math:`\sum_c q_{jc} \log q_{jc} - \sum_c q_{jc} \log p_c` over each item's
    neighbours. Equidistant neighbours are taken in a random order.

    Differences from the peers: scikit-activeml's ``ContrastiveAL`` computes the same
    score (same clipping) with ``K = 5`` by default; pass ``n_neighbors=5`` to match. The
    paper and small-text use ``K = 10``; small-text's ``ContrastiveActiveLearning``
    searches the neighbours among *all* items, unlabeled ones and the item itself
    included, and L2-normalises the embeddings, so its scores differ from the paper's.

    Parameters
    ----------
    n_neighbors : int, default=10
        Labeled neighbours per item (fewer if fewer items are labeled).
    eps : float, default=1e-7
        Probabilities are clipped to ``[eps, 1]`` and renormalised.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the highest score first.

    References
    ----------
    Margatina, Vernikos, Barrault & Aletras (2021), "Active learning by acquiring
    contrastive examples", EMNLP, pp. 650–663.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.2], [1.8], [2.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.array([[0.1], [1.0], [1.9]])
    >>> Contrastive(n_neighbors=2).query(model, pool, 1, X, [0, 0, 1, 1]).tolist()
    [1]
    """

    name: ClassVar[str] = "contrastive"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "mean KL(labeled neighbour ‖ item) over the K nearest labeled items"
    reference: ClassVar[str] = "Margatina et al. 2021 (EMNLP)"

    def __init__(self, n_neighbors: int = 10, eps: float = 1e-7) -> None:
        self.n_neighbors = n_neighbors
        self.eps = eps

    def utilities(
        self, model: Any, X_pool: Any, X_labeled: Any, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """CAL score of every pool item, higher is more informative.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool, X_labeled : array-like, sparse matrix or DataFrame
        random_state : int, numpy.random.Generator or None
            Orders equidistant neighbours.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._scores(
            self._adapter(model), X_pool, X_labeled, check_random_state(random_state)
        )

    def _scores(self, model, X_pool, X_labeled, rng) -> np.ndarray:
        n_labeled = _require_labeled(X_labeled, self.name)
        n_neighbors = min(check_int(self.n_neighbors, "n_neighbors", self.name, 1), n_labeled)
        eps = check_number(self.eps, "eps", self.name, 0.0, 0.1, open_low=True)
        log_pool = np.log(_clipped(model.predict_proba(X_pool), eps, self.name))
        labeled_proba = _clipped(model.predict_proba(X_labeled), eps, self.name)
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, keep_sparse=True)
        # A random order of the labeled rows makes equidistant neighbours random.
        order = rng.permutation(n_labeled)
        labeled = labeled[order]
        labeled_proba = labeled_proba[order]
        neg_entropy = np.einsum("ij,ij->i", labeled_proba, np.log(labeled_proba))
        neighbours, _ = k_nearest(
            pool, squared_norms(pool), labeled, squared_norms(labeled), n_neighbors
        )
        utilities = np.empty(pool.shape[0], dtype=np.float64)
        _cal_scores(neighbours, labeled_proba, neg_entropy, log_pool, utilities)
        return utilities

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(self._scores(model, X_pool, X_labeled, rng), k, rng)


class Discriminative(Strategy):
    r"""Discriminative Active Learning (DAL): query what looks least like the labeled set.

    A binary classifier (the *discriminator*) learns to tell labeled embeddings (class 0)
    from unlabeled ones (class 1); the pool items it rates most confidently "unlabeled",
    :math:`\arg\max_x P(\text{unlabeled} \mid \phi(x))`, are the ones the labeled set
    represents worst. As in the paper, the batch is built in ``n_subrounds`` sub-batches:
    after each, the chosen items move to the labeled side and the discriminator is
    trained again. Each training set has the labeled side and at most
    ``unlabeled_factor ×`` as many pool items drawn at random (the authors' code uses 10),
    and the default discriminators weight the two classes to balance them (the authors'
    ``class_weight``). Every remaining pool item is scored, and ties are broken at random.

    Needs only embeddings: with ``model=None`` the numeric features are used.

    Differences from the peers: scikit-activeml's ``DiscriminativeAL`` trains on the whole
    pool without class balancing and refits after every single pick (``n_subrounds=k``,
    ``unlabeled_factor=None``, ``discriminator=LogisticRegression()`` reproduces it; its
    ``greedy_selection=True`` is ``n_subrounds=1``). small-text's
    ``DiscriminativeActiveLearning`` scores the whole pool like us but puts the rounding
    remainder into the last sub-batch and draws its subsample from numpy's global
    generator. The authors' code scores only the training subsample.

    Parameters
    ----------
    discriminator : {"logistic", "mlp"} or scikit-learn classifier, default="logistic"
        ``"logistic"``: ``LogisticRegression(class_weight="balanced")``; ``"mlp"``: an
        ``MLPClassifier`` with one hidden layer of 64 units, trained for 20 epochs (the
        authors train 10–20) with balanced sample weights. An estimator is cloned for
        every sub-round (its ``random_state``, if None, is seeded from the query's
        generator).
    n_subrounds : int, default=10
        Sub-batches per query (at most ``k``); sizes differ by at most one.
    unlabeled_factor : float or None, default=10
        Pool items per labeled item in each training set; None trains on the whole pool.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: sub-batch by sub-batch, each most confidently "unlabeled"
        first.

    References
    ----------
    Gissin & Shalev-Shwartz (2019), "Discriminative active learning", arXiv:1907.06347.

    Examples
    --------
    >>> import numpy as np
    >>> X_labeled = np.zeros((5, 2))
    >>> X_pool = np.vstack([np.zeros((5, 2)), np.full((5, 2), 4.0)])
    >>> picks = Discriminative().query(None, X_pool, 3, X_labeled, random_state=0)
    >>> bool((picks >= 5).all())
    True
    """

    name: ClassVar[str] = "discriminative"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "items a labeled-vs-unlabeled classifier rates most 'unlabeled'"
    reference: ClassVar[str] = "Gissin & Shalev-Shwartz 2019"

    def __init__(
        self,
        discriminator: Any = "logistic",
        n_subrounds: int = 10,
        unlabeled_factor: float | None = 10.0,
    ) -> None:
        self.discriminator = discriminator
        self.n_subrounds = n_subrounds
        self.unlabeled_factor = unlabeled_factor

    def _new_discriminator(self, rng: np.random.Generator) -> tuple[Any, bool]:
        """A fresh discriminator and whether to pass balanced sample weights to ``fit``."""
        from sklearn.base import clone

        seed = int(rng.integers(2**31 - 1))
        if isinstance(self.discriminator, str):
            if self.discriminator == "logistic":
                from sklearn.linear_model import LogisticRegression

                return LogisticRegression(class_weight="balanced", max_iter=1000), False
            if self.discriminator == "mlp":
                from sklearn.neural_network import MLPClassifier

                mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=20, random_state=seed)
                return mlp, True
        elif callable(getattr(self.discriminator, "fit", None)) and callable(
            getattr(self.discriminator, "predict_proba", None)
        ):
            estimator = clone(self.discriminator)
            params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
            if "random_state" in params and params["random_state"] is None:
                estimator.set_params(random_state=seed)
            return estimator, False
        raise ValueError(
            f"{self.name}: discriminator must be 'logistic', 'mlp' or a classifier with fit "
            f"and predict_proba; got {self.discriminator!r}."
        )

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        n_labeled = _require_labeled(X_labeled, self.name)
        n_subrounds = min(check_int(self.n_subrounds, "n_subrounds", self.name, 1), k)
        factor = self.unlabeled_factor
        if factor is not None:
            factor = check_number(factor, "unlabeled_factor", self.name, 0.0, open_low=True)
        pool, labeled = embeddings(
            model, X_pool, X_labeled, self.name, dtype=np.float64, keep_sparse=True
        )
        stack = sp.vstack if sp.issparse(pool) or sp.issparse(labeled) else np.vstack
        sizes = [len(part) for part in np.array_split(np.arange(k), n_subrounds)]
        remaining = np.arange(pool.shape[0])
        chosen: list[np.ndarray] = []
        for size in sizes:
            labeled_side = n_labeled + sum(len(c) for c in chosen)
            n_train = remaining.shape[0]
            if factor is not None:
                n_train = min(n_train, max(1, int(np.ceil(factor * labeled_side))))
            train_pool = (
                remaining
                if n_train == remaining.shape[0]
                else rng.choice(remaining, size=n_train, replace=False)
            )
            parts = [labeled]
            if chosen:
                parts.append(pool[np.concatenate(chosen)])
            parts.append(pool[train_pool])
            X_train = stack(parts)
            y_train = np.concatenate(
                [np.zeros(labeled_side, dtype=np.int64), np.ones(n_train, dtype=np.int64)]
            )
            estimator, weigh = self._new_discriminator(rng)
            if weigh:  # the MLP: balanced sample weights, a fixed 20 epochs as the authors
                import warnings

                from sklearn.exceptions import ConvergenceWarning
                from sklearn.utils.class_weight import compute_sample_weight

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    estimator.fit(
                        X_train, y_train, sample_weight=compute_sample_weight("balanced", y_train)
                    )
            else:
                estimator.fit(X_train, y_train)
            column = list(np.asarray(estimator.classes_)).index(1)
            unlabeled_proba = np.asarray(estimator.predict_proba(pool[remaining]))[:, column]
            picked = top_k(unlabeled_proba.astype(np.float64), size, rng)
            chosen.append(remaining[picked])
            keep = np.ones(remaining.shape[0], dtype=bool)
            keep[picked] = False
            remaining = remaining[keep]
        return np.concatenate(chosen).astype(np.int64)
