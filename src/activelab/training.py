r"""Training schemes for the loop: pseudo-labels (self-training, CEAL) and importance weights.

The loop fits the model once per round on the labeled set. Two options change what that
fit sees, and neither touches the budget:

- a **training scheme** (:class:`SelfTraining`, :class:`CEAL`) adds pseudo-labeled pool
  items, chosen and labeled by the model of the previous round, to this round's fit only.
  They are recomputed every round, never kept, never counted in ``n_labeled`` and never
  returned as labeled: ``simulate(..., training=CEAL())``.
- **importance weighting** (``simulate(..., importance_weighting=True)``) corrects the
  sampling bias of a stochastic strategy: each labeled item gets the LURE weight
  (:func:`lure_weights`) of the probability with which it was drawn
  (:func:`selection_probabilities`), passed to ``fit`` as ``sample_weight``, so the
  weighted training risk is an unbiased estimate of the risk on the whole pool.

>>> import activelab as al
>>> scheme = al.training.CEAL(delta=0.05, decay=0.0033)
>>> round(scheme.threshold_at(3), 4)
0.0434
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from activelab import scores
from activelab._validation import RandomStateLike, check_probabilities, check_random_state, n_rows
from activelab.models import ModelAdapter
from activelab.select import draw_probabilities, top_k
from activelab.strategies import RandomSampling, ScoreStrategy, Strategy

__all__ = [
    "CEAL",
    "PseudoLabels",
    "SelfTraining",
    "TrainingScheme",
    "importance_ratios",
    "lure_weights",
    "selection_probabilities",
]


@dataclass(frozen=True)
class PseudoLabels:
    """Pool items a training scheme labels with the model's own prediction.

    Attributes
    ----------
    indices : numpy.ndarray of int64
        Positions in the pool, most confident first.
    labels : numpy.ndarray
        The predicted class of each (the model's argmax).
    """

    indices: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        """Number of pseudo-labeled items."""
        return int(self.indices.shape[0])


class TrainingScheme(BaseEstimator):
    """Base of the training schemes: which pool items get pseudo-labels in a round.

    Subclasses set ``name`` and implement :meth:`_confident`. Like strategies,
    ``__init__`` only stores parameters; :meth:`validate` checks them, and the loop calls
    it before the first round.

    Parameters
    ----------
    max_per_round : int or None
        At most this many pseudo-labels per round (the most confident); None: no cap.
    """

    name: ClassVar[str] = ""

    def __init__(self, max_per_round: int | None = None) -> None:
        self.max_per_round = max_per_round

    def validate(self) -> None:
        """Raise a ValueError naming the parameter that is out of range."""
        cap = self.max_per_round
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, numbers.Integral) or cap < 1
        ):
            raise ValueError(
                f"{self.name}: max_per_round must be None (no cap) or an int of at least 1; "
                f"got {cap!r}."
            )

    def _confident(
        self, proba: np.ndarray, round: int
    ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        """(eligible mask, confidence: higher is surer) of each pool row."""
        raise NotImplementedError

    def pseudo_labels(
        self,
        model: ModelAdapter,
        X_pool: Any,
        round: int,
        random_state: RandomStateLike = None,
    ) -> PseudoLabels:
        """The pool items to pseudo-label before this round's fit, and their labels.

        Parameters
        ----------
        model : ModelAdapter
            The model of the previous round (fitted, not refitted here).
        X_pool : array-like, sparse matrix, DataFrame or list of texts
            The unlabeled pool left after this round's queries.
        round : int
            The round whose fit the pseudo-labels join: 1 for the first fit after the
            initial one. Round 0 (no model yet) gets none.
        random_state : int, numpy.random.Generator or None
            Breaks ties in confidence when ``max_per_round`` cuts.

        Returns
        -------
        PseudoLabels
        """
        self.validate()
        empty = PseudoLabels(np.empty(0, dtype=np.int64), np.empty(0))
        if round < 1 or n_rows(X_pool) == 0:
            return empty
        proba = check_probabilities(model.predict_proba(X_pool), self.name)
        eligible, confidence = self._confident(proba, round)
        candidates = np.flatnonzero(eligible)
        if candidates.size == 0:
            return empty
        keep = candidates.shape[0]
        if self.max_per_round is not None:
            keep = min(keep, int(self.max_per_round))
        rng = check_random_state(random_state)
        chosen = candidates[top_k(confidence[candidates], keep, rng)]
        classes = np.asarray(model.classes_)
        return PseudoLabels(chosen, classes[np.argmax(proba[chosen], axis=1)])


class SelfTraining(TrainingScheme):
    r"""Self-training: pool items the model is sure of join each round's fit, pseudo-labeled.

    Each round, every pool item whose top class probability reaches ``threshold``,

    .. math:: \max_c p(c \mid x) \ge \tau,

    is labeled with that class by the previous round's model and added to this round's
    fit (at most ``max_per_round``, most confident first). The pseudo-labels are
    recomputed every round and never kept, so an early mistake is not locked in; they
    never count as bought labels.

    Parameters
    ----------
    threshold : float
        :math:`\tau`, in ``(0, 1]``.
    max_per_round : int or None
        Cap on pseudo-labels per round; None: no cap.

    References
    ----------
    Yarowsky (1995), "Unsupervised word sense disambiguation rivaling supervised methods",
    ACL. McCallum & Nigam (1998), "Employing EM and pool-based active learning for text
    classification", ICML (active learning with the unlabeled pool in the fit).

    Examples
    --------
    >>> SelfTraining(threshold=0.9, max_per_round=100)
    SelfTraining(max_per_round=100, threshold=0.9)
    """

    name: ClassVar[str] = "SelfTraining"

    def __init__(self, threshold: float = 0.95, max_per_round: int | None = None) -> None:
        self.threshold = threshold
        self.max_per_round = max_per_round

    def validate(self) -> None:
        """Raise a ValueError naming the parameter that is out of range."""
        super().validate()
        if not _is_number(self.threshold) or not 0.0 < self.threshold <= 1.0:
            raise ValueError(
                f"SelfTraining: threshold is a probability in (0, 1]; got {self.threshold!r}. "
                "Typical values are 0.9 to 0.99."
            )

    def _confident(self, proba: np.ndarray, round: int) -> tuple[np.ndarray, np.ndarray]:
        confidence = proba.max(axis=1)
        return confidence >= self.threshold, confidence


class CEAL(TrainingScheme):
    r"""Cost-effective active learning: low-entropy pool items get pseudo-labels, δ decays.

    Besides the uncertain items the strategy buys from the oracle, every round CEAL
    pseudo-labels the *high-confidence* pool items, those whose predictive entropy is
    below a threshold,

    .. math:: H(x) = -\sum_c p(c \mid x) \log p(c \mid x) < \delta_t, \qquad
              \hat y = \arg\max_c p(c \mid x),

    with the model of the previous round, and fine-tunes on labeled and pseudo-labeled
    items together. The pseudo-labels are used for this round's fit only and go back to
    the pool afterwards (recomputed every round, as in the paper); they never count as
    bought labels. The threshold decays linearly as the model is trusted less for
    easy items and more labels arrive: :math:`\delta_t = \max(\delta - (t - 1)\,d_r, 0)`
    for round :math:`t \ge 1` (natural log, as :func:`activelab.scores.entropy`).

    Parameters
    ----------
    delta : float
        Initial threshold :math:`\delta` (the paper: 0.05 on CACD, 0.005 on Caltech-256).
    decay : float
        Decay :math:`d_r` per round (the paper: 0.0033 and 0.00033).
    max_per_round : int or None
        Cap on pseudo-labels per round (the paper has none).

    References
    ----------
    Wang, Zhang, Li, Zhang & Lin (2017), "Cost-effective active learning for deep image
    classification", IEEE Transactions on Circuits and Systems for Video Technology.

    Examples
    --------
    >>> CEAL(delta=0.05, decay=0.01).threshold_at(1)
    0.05
    """

    name: ClassVar[str] = "CEAL"

    def __init__(
        self, delta: float = 0.05, decay: float = 0.0033, max_per_round: int | None = None
    ) -> None:
        self.delta = delta
        self.decay = decay
        self.max_per_round = max_per_round

    def validate(self) -> None:
        """Raise a ValueError naming the parameter that is out of range."""
        super().validate()
        if not _is_number(self.delta) or self.delta <= 0:
            raise ValueError(
                f"CEAL: delta is an entropy threshold (natural log) and must be positive; "
                f"got {self.delta!r}. The paper uses 0.005 to 0.05."
            )
        if not _is_number(self.decay) or self.decay < 0:
            raise ValueError(
                f"CEAL: decay is subtracted from delta every round and must be a non-negative "
                f"number; got {self.decay!r}. Use 0 for a fixed threshold."
            )

    def threshold_at(self, round: int) -> float:
        """The entropy threshold :math:`\\delta_t` of round ``round`` (1 = first, never < 0).

        Parameters
        ----------
        round : int
            1 for the first fit with pseudo-labels.

        Returns
        -------
        float
        """
        self.validate()
        return max(float(self.delta) - (max(int(round), 1) - 1) * float(self.decay), 0.0)

    def _confident(self, proba: np.ndarray, round: int) -> tuple[np.ndarray, np.ndarray]:
        entropy = scores.entropy(proba)
        return entropy < self.threshold_at(round), -entropy


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


def selection_probabilities(
    strategy: Strategy, model: Any, X_pool: Any, picks: np.ndarray
) -> np.ndarray | None:
    r"""The probability with which a strategy drew each of its picks, or None if it is unknown.

    :math:`q_j` is the probability the ``j``-th pick had of being drawn from the pool items
    not yet picked. Known for

    - :class:`~activelab.strategies.RandomSampling`: :math:`q_j = 1 / (n - j + 1)`;
    - score strategies with ``sampling`` ``"softmax"``, ``"power"`` or ``"softrank"``:
      the Plackett–Luce probabilities of their utilities
      (:func:`activelab.select.draw_probabilities`; the utilities are computed once more);
    - any strategy that sets ``selection_probabilities_`` during ``query`` (``albl``).

    Deterministic strategies (top-k, core-set, …) and stochastic ones that do not expose
    their probabilities give None: importance weighting leaves their labels at weight 1.

    Parameters
    ----------
    strategy : Strategy
        The strategy that just returned ``picks``.
    model : fitted estimator or ModelAdapter
        The model it read.
    X_pool : array-like, sparse matrix, DataFrame or list of texts
    picks : array of int of shape (k,)
        What ``strategy.query`` returned, in its order.

    Returns
    -------
    numpy.ndarray of shape (k,) or None

    Examples
    --------
    >>> from activelab.strategies import RandomSampling
    >>> selection_probabilities(RandomSampling(), None, [[0], [1], [2], [3]], [2, 0]).tolist()
    [0.25, 0.3333333333333333]
    """
    chosen = np.asarray(picks, dtype=np.int64)
    own = getattr(strategy, "selection_probabilities_", None)
    if own is not None:
        own = np.asarray(own, dtype=np.float64)
        if own.shape == chosen.shape:
            return own
    if isinstance(strategy, RandomSampling):
        return 1.0 / (n_rows(X_pool) - np.arange(chosen.shape[0], dtype=np.float64))
    sampling = getattr(strategy, "sampling", "top")
    if (
        isinstance(strategy, ScoreStrategy)
        and type(strategy)._select is ScoreStrategy._select
        and sampling != "top"
    ):
        utilities = strategy.utilities(model, X_pool)
        return draw_probabilities(utilities, chosen, sampling, strategy.temperature)
    return None


def importance_ratios(probabilities: np.ndarray, n_left: np.ndarray) -> np.ndarray:
    r"""Per-draw importance ratios :math:`1 / (n_j\, q_j)`.

    For an item drawn with probability :math:`q_j` from :math:`n_j` items, the ratio of
    the uniform probability to :math:`q_j`: :math:`E[\ell(x_j) / (n_j q_j)]` is the mean
    loss over those :math:`n_j` items (Horvitz–Thompson). A uniform draw gives 1.

    Parameters
    ----------
    probabilities : array of shape (k,)
        :math:`q_j \in (0, 1]`.
    n_left : array of int of shape (k,) or int
        How many items each was drawn from.

    Returns
    -------
    numpy.ndarray of shape (k,), float64

    Examples
    --------
    >>> importance_ratios([0.5, 0.25], [4, 4]).tolist()
    [0.5, 1.0]
    """
    q = np.asarray(probabilities, dtype=np.float64)
    n = np.broadcast_to(np.asarray(n_left, dtype=np.float64), q.shape)
    if q.ndim != 1 or not np.all((q > 0) & (q <= 1)):
        raise ValueError(
            "importance_ratios needs draw probabilities in (0, 1], one per draw; got "
            f"{np.array2string(q, precision=4, threshold=8)}."
        )
    if not np.all(n >= 1):
        raise ValueError("importance_ratios: every draw is made from at least one item.")
    return 1.0 / (n * q)


def lure_weights(ratios: np.ndarray, n_total: int) -> np.ndarray:
    r"""LURE weights: make the weighted training risk an unbiased estimate of the pool risk.

    Active learning draws :math:`M` items one at a time, without replacement, from a pool
    of :math:`N`; the ``m``-th with probability :math:`q_m` among the
    :math:`N - m + 1` left. The plain mean loss of the labeled items is biased towards
    what the strategy likes; the levelled unbiased risk estimator

    .. math:: \tilde R = \frac1M \sum_{m=1}^{M} v_m\, \ell_m, \qquad
              v_m = 1 + \frac{N - M}{N - m}
              \left(\frac{1}{(N - m + 1)\, q_m} - 1\right)

    satisfies :math:`E[\tilde R] = \frac1N \sum_{i=1}^{N} \ell_i` for every acquisition
    policy with :math:`q_m > 0` wherever it matters. Uniform draws and deterministic
    picks (treated as uniform: no correction is possible) have weight 1; while
    :math:`M \ll N` the weight is close to the per-draw ratio :math:`1/((N - m + 1) q_m)`
    (Horvitz–Thompson, Beygelzimer et al. 2009). Weights are never negative.

    Parameters
    ----------
    ratios : array of shape (M,)
        :math:`1 / ((N - m + 1) q_m)` of each labeled item in the order it was drawn
        (:func:`importance_ratios`; 1 for the initial set and deterministic picks).
    n_total : int
        :math:`N`, the size of the pool the labels were drawn from (labeled items
        included), at least :math:`M`.

    Returns
    -------
    numpy.ndarray of shape (M,), float64

    References
    ----------
    Farquhar, Gal & Rainforth (2021), "On statistical bias in active learning: how and
    when to fix it", ICLR. Beygelzimer, Dasgupta & Langford (2009), "Importance weighted
    active learning", ICML. Ganti & Gray (2012), "UPAL: unbiased pool based active
    learning", AISTATS.

    Examples
    --------
    >>> lure_weights([2.0, 0.5], 4).round(4).tolist()
    [1.6667, 0.5]
    """
    ratio = np.asarray(ratios, dtype=np.float64)
    if ratio.ndim != 1 or not np.all(np.isfinite(ratio) & (ratio > 0)):
        raise ValueError("lure_weights needs one finite, positive importance ratio per item.")
    M = ratio.shape[0]
    if isinstance(n_total, bool) or not isinstance(n_total, numbers.Integral) or n_total < M:
        raise ValueError(
            f"lure_weights: n_total is the pool size N, at least the {M} labeled items; "
            f"got {n_total!r}."
        )
    m = np.arange(1, M + 1, dtype=np.float64)
    N = float(n_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(N - m > 0, (N - M) / (N - m), 0.0)
    return 1.0 + factor * (ratio - 1.0)
