"""The Strategy base classes: what the model must provide, a score, and a selector."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from activelab._distances import as_embedding, check_widths
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.models import Features, ModelAdapter, wrap
from activelab.select import SAMPLING_MODES, sample


class Strategy(BaseEstimator):
    """A query strategy: picks the ``k`` pool items most worth labeling.

    Subclasses set the class attributes ``name``, ``needs`` (model capabilities such as
    ``"predict_proba"`` or ``"sample_proba"``), ``summary`` (one line) and ``reference``
    (the paper), and implement :meth:`_select`. ``__init__`` only stores parameters, so a
    strategy clones, pickles and prints like a scikit-learn estimator.

    The class attribute ``task`` says which learning problem the strategy is for:
    ``"classification"`` (the default: it reads class probabilities or the labeled set's
    classes), ``"regression"`` (it reads numeric predictions of a regressor — the
    capabilities ``predict``, ``predict_std``, ``sample_predict``, ``apply`` — or numeric
    targets; it refuses a classifier with a TypeError) or ``"any"`` (it reads features
    only and works on either). The conformance tests run each strategy on a model and
    data of its task.
    """

    name: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    task: ClassVar[str] = "classification"

    def query(
        self,
        model: Any,
        X_pool: Any,
        k: int,
        X_labeled: Any = None,
        y_labeled: Any = None,
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """Indices of the ``k`` pool items to label next, most informative first.

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
            Read, never fitted, by the strategy. Anything with ``predict_proba`` works;
            strategies that need more (posterior samples, embeddings) say so in a
            TypeError naming the adapter that provides it. Strategies that need only
            ``embed`` accept None and use the numeric features of ``X_pool`` (cold start).
        X_pool : array-like, sparse matrix, DataFrame or list of texts
            The unlabeled pool.
        k : int
            Batch size, ``1 <= k <= len(X_pool)``.
        X_labeled, y_labeled : optional
            The labeled set, for strategies that use it.
        random_state : int, numpy.random.Generator or None
            Seeds tie-breaking and any sampling.

        Returns
        -------
        numpy.ndarray of shape (k,), int64
            Unique indices into ``X_pool``.
        """
        adapter = self._adapter(model)
        k = check_k(k, n_rows(X_pool))
        rng = check_random_state(random_state)
        return self._select(adapter, X_pool, k, X_labeled, y_labeled, rng)

    def _adapter(self, model: Any) -> ModelAdapter | None:
        if not self.needs:
            return None
        if model is None:
            if set(self.needs) <= {"embed"}:
                return Features()  # cold start: the features are the embedding
            raise TypeError(
                f"{self.name} needs a fitted model ({', '.join(self.needs)}); got model=None."
            )
        adapter = wrap(model)
        for capability in self.needs:
            adapter.require(capability, self.name)
        return adapter

    def _select(
        self,
        model: ModelAdapter | None,
        X_pool: Any,
        k: int,
        X_labeled: Any,
        y_labeled: Any,
        rng: np.random.Generator,
    ) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class ScoreStrategy(Strategy):
    """A strategy that scores every pool item and picks by a sampling rule.

    Parameters
    ----------
    sampling : {"top", "softmax", "power", "softrank"}
        ``"top"`` takes the k highest utilities; the others draw a stochastic batch
        (Kirsch et al. 2023), see :func:`activelab.select.stochastic_batch`.
    temperature : float
        Temperature of the stochastic modes.
    """

    def __init__(self, sampling: str = "top", temperature: float = 1.0) -> None:
        self.sampling = sampling
        self.temperature = temperature

    def utilities(self, model: Any, X_pool: Any) -> np.ndarray:
        """Utility of each pool item, higher is more informative.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._utilities(self._adapter(model), X_pool)

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )
        return sample(self._utilities(model, X_pool), k, self.sampling, self.temperature, rng)


def embeddings(
    model: ModelAdapter,
    X_pool: Any,
    X_labeled: Any,
    who: str,
    *,
    dtype: Any = np.float32,
    keep_sparse: bool = False,
) -> tuple[Any, Any]:
    """``model.embed`` of the pool and of the labeled set, checked once and of equal width.

    Parameters
    ----------
    model : ModelAdapter
    X_pool, X_labeled : array-like, sparse matrix or DataFrame
        ``X_labeled`` may be None or empty.
    who : str
        The strategy, for messages.
    dtype, keep_sparse
        As for :func:`activelab._distances.as_embedding`.

    Returns
    -------
    pool : array or CSR matrix of shape (n, d)
    labeled : array or CSR matrix of shape (m, d), or None when there is no labeled set
    """
    pool = as_embedding(
        model.embed(X_pool),
        who,
        dtype=dtype,
        keep_sparse=keep_sparse,
        what="the embeddings of X_pool",
    )
    if X_labeled is None or n_rows(X_labeled) == 0:
        return pool, None
    labeled = as_embedding(
        model.embed(X_labeled),
        who,
        dtype=dtype,
        keep_sparse=keep_sparse,
        what="the embeddings of X_labeled",
    )
    check_widths(pool, labeled, who)
    return pool, labeled
