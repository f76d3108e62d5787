r"""Active learning by learning (ALBL): a contextual bandit (EXP4.P) over strategies.

Each round every *expert* strategy recommends pool items; EXP4.P mixes the
recommendations by its expert probabilities and draws the picks at random from the
mixture. Once the labels of the picks are known, the reward of each draw is the
importance-weighted accuracy (IW-ACC) of the refitted model on everything drawn so far,
and EXP4.P moves weight to the experts whose recommendations were drawn and paid off.

State across rounds. The loop (``simulate``, ``ActiveLearner``) calls ``query`` once per
round and hands the labels back only inside ``X_labeled``/``y_labeled``. ALBL remembers
each pick's row (a content key, ``activelab._data.row_keys``) and how many labeled rows
there were when it picked; on the next call it looks for its picks among the labeled rows added
since (both loops append new labels at the end) and takes their labels from there.
Picks that are not found (skipped by the oracle, or never taught) are dropped without a
reward. A labeled set smaller than at the last call means a new run: ALBL starts over.
``clone()`` gives a fresh strategy (the state lives in attributes ending in ``_``).
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np

from activelab._data import concat_rows, row_keys, take_rows
from activelab._validation import n_rows
from activelab.strategies._base import Strategy
from activelab.strategies._uncertainty import RandomSampling

DEFAULT_EXPERTS: tuple[str, ...] = ("margin", "coreset", "random")


def default_p_min(n_experts: int, horizon: int) -> float:
    r"""EXP4.P's exploration floor :math:`p_{\min} = \sqrt{\ln N / (N T)}`, at most ``1/N``.

    Parameters
    ----------
    n_experts : int
        :math:`N`.
    horizon : int
        :math:`T`, the number of draws planned.

    Returns
    -------
    float

    Examples
    --------
    >>> round(default_p_min(3, 100), 4)
    0.0605
    """
    return min(float(np.sqrt(np.log(n_experts) / (n_experts * horizon))), 1.0 / n_experts)


def exp4p_probabilities(log_weights: np.ndarray, p_min: float) -> np.ndarray:
    r"""Expert probabilities of EXP4.P, with an exploration floor :math:`p_{\min}`.

    .. math:: p_i = (1 - N p_{\min})\, \frac{w_i}{\sum_j w_j} + p_{\min}

    Parameters
    ----------
    log_weights : array of shape (N,)
        :math:`\log w_i` (kept in logs: the weights grow exponentially).
    p_min : float
        In ``[0, 1/N]``.

    Returns
    -------
    numpy.ndarray of shape (N,)
        Sums to 1.

    Examples
    --------
    >>> exp4p_probabilities(np.log([1.0, 3.0]), 0.1).tolist()
    [0.30000000000000004, 0.7000000000000001]
    """
    logs = np.asarray(log_weights, dtype=np.float64)
    shares = np.exp(logs - logs.max())
    shares /= shares.sum()
    return (1.0 - logs.shape[0] * p_min) * shares + p_min


def exp4p_update(
    log_weights: np.ndarray,
    advice: np.ndarray,
    probabilities: np.ndarray,
    drawn_probability: float,
    reward: float,
    p_min: float,
    delta: float,
    horizon: int,
) -> np.ndarray:
    r"""One EXP4.P step after the drawn item earned ``reward``.

    With :math:`\xi_i(x)` the probability expert :math:`i` gave the drawn item, :math:`q(x)
    = \sum_i p_i \xi_i(x)` the probability it was drawn with, and :math:`r` the reward,

    .. math:: \hat y_i = \frac{r\, \xi_i(x)}{q(x)}, \qquad \hat v_i = \frac{1}{p_i}, \qquad
              w_i \leftarrow w_i \exp\!\Big(\frac{p_{\min}}{2}\Big(\hat y_i + \hat v_i
              \sqrt{\frac{\ln(N/\delta)}{N\,T}}\Big)\Big).

    :math:`\hat y_i` is an unbiased estimate of expert :math:`i`'s reward; :math:`\hat v_i`
    bounds its variance and is the confidence bonus that makes the guarantee hold with
    probability :math:`1 - \delta`. As in ALBL, the bandit's arms are the experts
    (:math:`K = N`), so the variance term is :math:`1/p_i` rather than a sum over the
    pool.

    Parameters
    ----------
    log_weights : array of shape (N,)
    advice : array of shape (N,)
        :math:`\xi_i(x)` for the drawn item.
    probabilities : array of shape (N,)
        The expert probabilities the item was drawn with (:func:`exp4p_probabilities`).
    drawn_probability : float
        :math:`q(x)`.
    reward : float
        :math:`r`, the IW-ACC after the item's label was learned (:func:`iw_accuracy`).
    p_min, delta : float
    horizon : int
        :math:`T`.

    Returns
    -------
    numpy.ndarray of shape (N,)
        The new log-weights.

    References
    ----------
    Beygelzimer, Langford, Li, Reyzin & Schapire (2011), "Contextual bandit algorithms
    with supervised learning guarantees", AISTATS (EXP4.P).

    Examples
    --------
    >>> exp4p_update(np.zeros(2), np.array([1.0, 0.0]), np.array([0.5, 0.5]), 0.5, 1.0,
    ...              0.1, 0.5, 10).round(4).tolist()
    [0.1263, 0.0263]
    """
    logs = np.asarray(log_weights, dtype=np.float64)
    xi = np.asarray(advice, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    n_experts = logs.shape[0]
    y_hat = reward * xi / drawn_probability
    v_hat = 1.0 / p
    bonus = np.sqrt(np.log(n_experts / delta) / (n_experts * horizon))
    return logs + p_min / 2.0 * (y_hat + v_hat * bonus)


def iw_accuracy(correct: np.ndarray, importance: np.ndarray, n_pool: int, horizon: int) -> float:
    r"""Importance-weighted accuracy (IW-ACC), ALBL's reward.

    .. math:: \mathrm{IW\text{-}ACC} = \frac{1}{nT} \sum_{t} W_t\, [f(x_t) = y_t]

    Each item drawn so far counts with :math:`W_t = 1/q_t(x_t)`, the inverse of the
    probability it was drawn with, so :math:`\frac1n E[W_t [f(x_t) = y_t]]` is the
    accuracy of :math:`f` on the :math:`n` items of the pool: the reward measures the
    current model, not what the strategies happened to pick.

    Parameters
    ----------
    correct : array of bool of shape (t,)
        Whether the current model is right on each draw.
    importance : array of shape (t,)
        :math:`W_t`.
    n_pool : int
        :math:`n`, the items the draws were made from.
    horizon : int
        :math:`T`.

    Returns
    -------
    float

    References
    ----------
    Hsu & Lin (2015), "Active learning by learning", AAAI.

    Examples
    --------
    >>> iw_accuracy(np.array([True, False, True]), np.array([2.0, 4.0, 8.0]), 10, 2)
    0.5
    """
    weights = np.asarray(importance, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    return float(np.sum(weights[hits])) / (n_pool * horizon)


class ALBL(Strategy):
    r"""Active learning by learning: EXP4.P chooses among strategies as it goes.

    ALBL treats each strategy of ``experts`` as an expert of the contextual bandit
    EXP4.P. A deterministic expert recommends its best item still available (its ranked
    batch, one at a time); ``"random"`` recommends the uniform distribution over the
    pool *as it was at the start*, labeled picks included. Each pick is drawn from the
    mixture :math:`q(x) = \sum_i p_i \xi_i(x)` of the recommendations by the expert
    probabilities :math:`p` (:func:`exp4p_probabilities`); a draw that lands on an item
    ALBL already labeled costs nothing: it is rewarded at once and drawn again, as in the
    authors' implementation, which keeps the reward unbiased. Once a pick's label is
    known, its reward is the importance-weighted accuracy of the refitted model on all
    draws (:func:`iw_accuracy`, each weighted by :math:`1/q`), and EXP4.P updates the
    weights (:func:`exp4p_update`). For ``k > 1`` the ``k`` picks are drawn one after
    another without replacement from the mixture, and their updates wait for the labels.

    The probability of each pick among the unlabeled pool is left in
    ``selection_probabilities_``, for importance-weighted training
    (:mod:`activelab.training`).

    Parameters
    ----------
    experts : sequence of str or Strategy
        Registry names or Strategy objects (copied); ``"random"`` is the uniform sampler.
        The paper uses uncertainty, a representative strategy (QUIRE) and random.
    horizon : int
        :math:`T`, the number of draws planned (about the label budget); sets
        :math:`p_{\min}` and scales the reward.
    delta : float
        EXP4.P's confidence parameter, in ``(0, 1]``.
    p_min : float or None
        Minimum probability of each expert, in ``(0, 1/N]`` (also EXP4.P's learning
        rate); None: :func:`default_p_min`.

    Attributes
    ----------
    experts_ : list of Strategy
    log_weights_ : numpy.ndarray of shape (N,)
    expert_probabilities_ : numpy.ndarray of shape (N,)
        The expert probabilities for the next draw.
    rewards_ : list of float
        The reward of every update so far.
    selection_probabilities_ : numpy.ndarray of shape (k,)
        Probability of each pick of the last query among the pool items left then.

    References
    ----------
    Hsu & Lin (2015), "Active learning by learning", AAAI. Beygelzimer, Langford, Li,
    Reyzin & Schapire (2011), "Contextual bandit algorithms with supervised learning
    guarantees", AISTATS.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X[::10], y[::10])
    >>> ALBL(horizon=20).query(model, X[1::10], 2, X[::10], y[::10], random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "albl"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)
    summary: ClassVar[str] = "bandit (EXP4.P) over strategies, rewarded by IW accuracy"
    reference: ClassVar[str] = "Hsu & Lin 2015"

    def __init__(
        self,
        experts: Sequence[str | Strategy] = DEFAULT_EXPERTS,
        horizon: int = 100,
        delta: float = 0.1,
        p_min: float | None = None,
    ) -> None:
        self.experts = experts
        self.horizon = horizon
        self.delta = delta
        self.p_min = p_min

    # -- parameters and state -------------------------------------------------------------

    def _check_params(self) -> float:
        """Validate the parameters and return the exploration floor p_min."""
        experts = self.experts
        if isinstance(experts, str | Strategy) or not isinstance(experts, Sequence):
            raise ValueError(
                "albl: experts is a list of registry names or Strategy objects, e.g. "
                f"['margin', 'coreset', 'random']; got {experts!r}."
            )
        if len(experts) == 0:
            raise ValueError("albl: experts is empty; give at least one strategy.")
        for expert in experts:
            if isinstance(expert, ALBL) or expert == "albl":
                raise ValueError("albl cannot be one of its own experts.")
            if not isinstance(expert, str | Strategy):
                raise ValueError(
                    f"albl: each expert is a registry name or a Strategy; got {expert!r}."
                )
        horizon = self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
            raise ValueError(
                f"albl: horizon is the number of draws planned, an int >= 1; got {horizon!r}."
            )
        delta = self.delta
        if not isinstance(delta, numbers.Real) or isinstance(delta, bool) or not 0 < delta <= 1:
            raise ValueError(f"albl: delta must be in (0, 1]; got {delta!r}.")
        n_experts = len(experts)
        if self.p_min is None:
            return default_p_min(n_experts, int(horizon))
        p_min = self.p_min
        ok = isinstance(p_min, numbers.Real) and not isinstance(p_min, bool)
        if not ok or not 0 < p_min <= 1.0 / n_experts:
            raise ValueError(
                f"albl: p_min must be in (0, 1/{n_experts}] for {n_experts} experts (it is "
                f"also EXP4.P's learning rate); got {p_min!r}. Leave it None for "
                "sqrt(ln N / (N T))."
            )
        return float(p_min)

    def _start(self, p_min: float) -> None:
        from sklearn.base import clone

        from activelab import strategies as registry

        self.experts_ = [registry.get(e) if isinstance(e, str) else clone(e) for e in self.experts]
        self.log_weights_ = np.zeros(len(self.experts_))
        self.expert_probabilities_ = exp4p_probabilities(self.log_weights_, p_min)
        self.rewards_: list[float] = []
        self._labeled_X: Any = None  # the picks whose labels ALBL learned, once each
        self._labeled_y: np.ndarray = np.empty(0)
        self._draw_items: list[int] = []  # per draw: which of those, and W = 1/q
        self._draw_importance: list[float] = []
        self._pending: list[tuple[Hashable, np.ndarray, np.ndarray, float]] = []
        self._n_labeled_before = 0

    # -- the bandit -----------------------------------------------------------------------

    def _reward_and_update(
        self,
        item: int,
        advice: np.ndarray,
        probabilities: np.ndarray,
        drawn_probability: float,
        correct: np.ndarray,
        n_pool: int,
        p_min: float,
    ) -> None:
        self._draw_items.append(item)
        self._draw_importance.append(1.0 / drawn_probability)
        reward = iw_accuracy(
            correct[np.asarray(self._draw_items, dtype=np.int64)],
            np.asarray(self._draw_importance),
            n_pool,
            int(self.horizon),
        )
        self.rewards_.append(reward)
        self.log_weights_ = exp4p_update(
            self.log_weights_,
            advice,
            probabilities,
            drawn_probability,
            reward,
            p_min,
            float(self.delta),
            int(self.horizon),
        )
        self.expert_probabilities_ = exp4p_probabilities(self.log_weights_, p_min)

    def _learn_pending(self, X_labeled: Any, y_labeled: Any, n_labeled: int) -> list[int]:
        """Find the last picks among the labeled rows added since; return their step ids."""
        pending, self._pending = self._pending, []
        if not pending or y_labeled is None or n_labeled <= self._n_labeled_before:
            return []
        added = np.arange(self._n_labeled_before, n_labeled)
        new_rows = take_rows(X_labeled, added)
        positions: dict[Hashable, list[int]] = {}
        for position, key in enumerate(row_keys(new_rows)):
            positions.setdefault(key, []).append(position)
        found, steps = [], []
        for step, (key, *_) in enumerate(pending):
            if positions.get(key):
                found.append(positions[key].pop(0))
                steps.append(step)
        if not found:
            return []
        rows = take_rows(new_rows, np.asarray(found))
        labels = np.asarray(y_labeled)[added][found]
        first = len(self._labeled_y)
        self._labeled_X = rows if self._labeled_X is None else concat_rows(self._labeled_X, rows)
        self._labeled_y = np.concatenate([self._labeled_y, labels]) if first else labels
        self._pending = [pending[s] for s in steps]
        return list(range(first, first + len(steps)))

    def _draw(
        self,
        recommended: dict[int, int],
        uniform: np.ndarray,
        available: np.ndarray,
        n_seen: int,
        correct: np.ndarray,
        n_pool: int,
        p_min: float,
        rng: np.random.Generator,
    ) -> tuple[int, np.ndarray, np.ndarray, float, float]:
        """Draw one pool item from the experts' mixture (rewarding free draws on the way).

        Returns the item, its advice column, the expert probabilities it was drawn with,
        its probability :math:`q(x)`, and its probability among the unlabeled items.
        """
        n_available = int(available.sum())
        share = 1.0 / (n_available + n_seen)  # the uniform expert's mass on each item
        while True:
            p = self.expert_probabilities_
            p_uniform = float(p[uniform].sum())
            expert = int(rng.choice(p.shape[0], p=p / p.sum()))
            if uniform[expert]:
                u = int(rng.integers(n_available + n_seen))
                if u >= n_available:  # an item ALBL labeled already: free, rewarded now
                    advice = np.where(uniform, share, 0.0)
                    self._reward_and_update(
                        u - n_available, advice, p, p_uniform * share, correct, n_pool, p_min
                    )
                    continue
                x = int(np.flatnonzero(available)[u])
            else:
                x = recommended[expert]
            advice = np.array(
                [share if uniform[i] else float(recommended[i] == x) for i in range(p.shape[0])]
            )
            drawn = float(p @ advice)
            return x, advice, p.copy(), drawn, drawn / (1.0 - p_uniform * share * n_seen)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        p_min = self._check_params()
        n_labeled = 0 if X_labeled is None else n_rows(X_labeled)
        if not hasattr(self, "experts_") or n_labeled < self._n_labeled_before:
            self._start(p_min)
        n = n_rows(X_pool)
        learned = self._learn_pending(X_labeled, y_labeled, n_labeled)
        n_seen = len(self._labeled_y)
        correct = np.zeros(n_seen, dtype=bool)
        if n_seen:
            correct = np.asarray(model.predict(self._labeled_X)) == self._labeled_y
        for item, (_, advice, probabilities, drawn) in zip(learned, self._pending, strict=True):
            self._reward_and_update(item, advice, probabilities, drawn, correct, n + n_seen, p_min)
        self._pending = []

        uniform = np.array([isinstance(e, RandomSampling) for e in self.experts_])
        rankings = {
            i: expert.query(model, X_pool, k, X_labeled, y_labeled, random_state=rng)
            for i, expert in enumerate(self.experts_)
            if not uniform[i]
        }
        cursor = dict.fromkeys(rankings, 0)
        available = np.ones(n, dtype=bool)
        picks, in_pool_probabilities, steps = [], [], []
        for _ in range(k):
            recommended = {}  # each deterministic expert's best item still available
            for i, ranking in rankings.items():
                while not available[ranking[cursor[i]]]:
                    cursor[i] += 1
                recommended[i] = int(ranking[cursor[i]])
            x, advice, p, drawn, in_pool = self._draw(
                recommended, uniform, available, n_seen, correct, n + n_seen, p_min, rng
            )
            available[x] = False
            picks.append(x)
            in_pool_probabilities.append(in_pool)
            steps.append((advice, p, drawn))
        picks_array = np.asarray(picks, dtype=np.int64)
        keys = row_keys(take_rows(X_pool, picks_array))
        self._pending = [(key, *step) for key, step in zip(keys, steps, strict=True)]
        self._n_labeled_before = n_labeled
        self.selection_probabilities_ = np.asarray(in_pool_probabilities, dtype=np.float64)
        return picks_array
