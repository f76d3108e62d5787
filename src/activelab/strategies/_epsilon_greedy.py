"""Epsilon-greedy exploration around any strategy."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._validation import check_number, n_rows
from activelab.strategies._base import Strategy
from activelab.strategies._combine import NeedsOf, resolve_base

__all__ = ["EpsilonGreedy", "epsilon_greedy"]


def epsilon_greedy(ranking: Any, n: int, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Replace each pick of a ranking, with probability ``epsilon``, by a random item.

    Slot ``t`` of the batch is, with probability ``1 − epsilon``, the next item of
    ``ranking`` not yet in the batch, and otherwise an item drawn uniformly from the
    ``n`` pool items not yet in the batch.

    Parameters
    ----------
    ranking : array-like of int, shape (k,)
        The base strategy's picks, most informative first (unique, in ``[0, n)``).
    n : int
        Pool size.
    epsilon : float
        Exploration probability per pick, in ``[0, 1]``.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of shape (k,), int64

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> epsilon_greedy([4, 2, 0], 10, 0.0, rng).tolist()
    [4, 2, 0]
    """
    ranking = np.asarray(ranking, dtype=np.int64)
    k = ranking.shape[0]
    explore = rng.random(k) < epsilon
    chosen = np.zeros(n, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    next_greedy = 0
    for slot in range(k):
        if explore[slot]:
            # Rejection sampling: at most k items are taken, so this ends fast unless
            # the batch is most of the pool, where the fallback draws exactly.
            for _ in range(32):
                item = int(rng.integers(n))
                if not chosen[item]:
                    break
            else:
                item = int(rng.choice(np.flatnonzero(~chosen)))
        else:
            while chosen[ranking[next_greedy]]:
                next_greedy += 1
            item = int(ranking[next_greedy])
        chosen[item] = True
        picks[slot] = item
    return picks


class EpsilonGreedy(Strategy):
    """Epsilon-greedy: each pick is the base strategy's next one, or random with probability ε.

    A cure for the sampling bias of pure exploitation: uncertainty sampling never looks
    at regions the model is confident about, even wrongly; a small ε keeps a fraction
    of the labels uniformly spread (:func:`epsilon_greedy`). The base strategy ranks
    ``k`` items; each batch slot keeps the next of them with probability ``1 − ε``, or
    takes a uniformly random pool item with probability ε.

    Parameters
    ----------
    strategy : str, (name, params) or Strategy, default="margin"
        The greedy strategy.
    epsilon : float, default=0.1
        Probability that a pick explores, in ``[0, 1]``.

    References
    ----------
    Bouneffouf, Laroche, Urvoy, Féraud & Allesiardo (2014), "Contextual bandit for
    active learning: active Thompson sampling", ICONIP (ε-greedy exploration in active
    learning). Sutton & Barto (2018), "Reinforcement learning: an introduction", §2.2.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> EpsilonGreedy("margin", epsilon=0.0).query(model, [[0.0], [2.0], [4.0]], 1).tolist()
    [1]
    """

    name: ClassVar[str] = "epsilon_greedy"
    needs = NeedsOf("strategy")  # type: ignore[assignment]
    summary: ClassVar[str] = "base strategy's next pick, or a random item with probability ε"
    reference: ClassVar[str] = "Bouneffouf et al. 2014"
    default_bases: ClassVar[str] = "margin"

    def __init__(self, strategy: Any = "margin", epsilon: float = 0.1) -> None:
        self.strategy = strategy
        self.epsilon = epsilon

    def _adapter(self, model: Any) -> Any:
        return resolve_base(self.strategy, self.name)._adapter(model)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        epsilon = check_number(self.epsilon, "epsilon", self.name, 0.0, 1.0)
        base = resolve_base(self.strategy, self.name)
        ranking = base._select(model, X_pool, k, X_labeled, y_labeled, rng)
        return epsilon_greedy(ranking, n_rows(X_pool), epsilon, rng)
