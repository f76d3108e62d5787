"""BatchBALD: a batch with the most joint mutual information (Kirsch et al. 2019)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._batchbald import batchbald_greedy
from activelab.models import ModelAdapter
from activelab.strategies._base import Strategy


class BatchBALD(Strategy):
    r"""BatchBALD: greedy batch of maximal joint mutual information with the parameters.

    Where BALD ranks items one by one (and fills a batch with near-copies), BatchBALD
    grows the batch greedily, adding the item with the largest gain in

    .. math:: I(y_1, \dots, y_b; \omega) = H(y_1, \dots, y_b)
        - \sum_i \mathbb{E}_\omega H(y_i \mid \omega),

    estimated from the model's posterior samples or committee members
    (:meth:`~activelab.models.ModelAdapter.sample_proba`). The joint entropy is exact
    while the label configurations of the batch so far number at most
    ``n_joint_samples``, then importance-sampled from that many configurations. The first
    pick is the BALD argmax. See :func:`activelab.select.batchbald_greedy`.

    Parameters
    ----------
    n_joint_samples : int, default=10_000
        Label configurations enumerated exactly, or sampled beyond that.

    References
    ----------
    Kirsch, van Amersfoort & Gal (2019), "BatchBALD: Efficient and diverse batch
    acquisition for deep Bayesian active learning", NeurIPS.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    >>> BatchBALD().query(forest, [[1.4], [1.5], [1.6], [9.0]], 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "batchbald"
    needs: ClassVar[tuple[str, ...]] = ("sample_proba",)
    summary: ClassVar[str] = "greedy batch of maximal joint mutual information"
    reference: ClassVar[str] = "Kirsch, van Amersfoort & Gal 2019"

    def __init__(self, n_joint_samples: int = 10_000) -> None:
        self.n_joint_samples = n_joint_samples

    def _select(
        self,
        model: ModelAdapter,
        X_pool: Any,
        k: int,
        X_labeled: Any,
        y_labeled: Any,
        rng: np.random.Generator,
    ) -> np.ndarray:
        return batchbald_greedy(model.sample_proba(X_pool), k, self.n_joint_samples, rng)
