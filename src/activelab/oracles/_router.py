"""Hybrid human/LLM labelling: route uncertain items to the human, the rest to the LLM."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab._data import take_rows
from activelab._validation import RandomStateLike, check_random_state
from activelab.oracles._base import Answers, LoopContext, Oracle, observe
from activelab.stopping import State, StoppingCriterion


@dataclass(frozen=True)
class RoutedLabel:
    """One answer an annotator gave through a :class:`Router`.

    Attributes
    ----------
    round : int
        The :meth:`Router.label` call it belongs to (0 first).
    index : int
        The item.
    annotator : str
        ``"human"`` or ``"llm"``.
    label : object
        The answer, or None when the annotator skipped the item.
    uncertainty : float
        The routing score of the item (higher: more uncertain; inf for an item the LLM
        could not label).
    cost : float
        This answer's share of what the annotator's batch cost.
    final : bool
        True when this answer is the label the router returned for the item.
    """

    round: int
    index: int
    annotator: str
    label: Any
    uncertainty: float
    cost: float
    final: bool


#: Names ``Router(uncertainty=...)`` takes: scores of the loop's model on the queried items.
MODEL_SCORES = ("least_confidence", "margin", "ratio", "entropy")


def _positions(indices: np.ndarray) -> dict[int, int]:
    return {int(i): j for j, i in enumerate(indices)}


class Router:
    """Send high-uncertainty items to the human (or expensive) oracle, the rest to the LLM.

    Two sources of uncertainty:

    - ``uncertainty=None`` (default): the LLM labels every item first and reports its
      confidence (:attr:`Answers.confidence`, e.g. :class:`LLMOracle` with
      ``n_samples > 1`` or log probabilities); uncertainty is ``1 - confidence``, as in
      CoAnnotating (Li et al. 2023). Items the LLM could not label go to the human.
    - a callable ``uncertainty(indices) -> scores`` (e.g. the current model's margin
      score): items are routed *before* anyone is asked, so the LLM is asked only for
      its share. Items the LLM then skips go to the human while the budget allows.

    How many go to the human: ``threshold`` (every item whose uncertainty exceeds it) or
    ``human_fraction`` (that share of each batch, the most uncertain; remainders carry
    over so the long-run share is exact). ``human_budget`` caps the human's total cost;
    once spent, everything goes to the LLM.

    Every answer is recorded (:attr:`records`): who labelled what, with what
    uncertainty, at what cost. Human labels are passed to the LLM as few-shot examples
    when it has ``add_examples`` (:class:`LLMOracle` does).

    Parameters
    ----------
    human : Oracle
        The expensive, trusted oracle (a simulated annotator, a person). In the studio
        (``llm = "route"``) it is the queue: an oracle that answers nothing now, so the
        items routed to it wait for people (:mod:`activelab.studio.llm`).
    llm : Oracle
        The cheap oracle, usually an :class:`LLMOracle`.
    threshold : float, optional
        Route to the human when uncertainty > threshold.
    human_fraction : float, optional
        Share of each batch routed to the human, in ``[0, 1]``. Give exactly one of
        ``threshold`` and ``human_fraction``.
    human_budget : float, optional
        Most the human may cost in total (needs ``human_cost``).
    uncertainty : callable or str, optional
        ``uncertainty(indices) -> array of shape (len(indices),)``; or the name of a
        score of the loop's current model, ``"least_confidence"``, ``"margin"``,
        ``"ratio"`` or ``"entropy"`` (:mod:`activelab.scores` on the model's
        ``predict_proba`` of the queried items): ``simulate`` and
        :meth:`~activelab.ActiveLearner.ask` bind the model each round through
        :meth:`observe`. Before any model is fitted (the initial set) every item counts
        as maximally uncertain (score ``inf``): a threshold sends them all to the human,
        a fraction picks its share at random. None uses the LLM's confidence.
    human_cost : float or None
        Cost of one human label (per item asked); None takes the human oracle's own
        :attr:`Answers.cost`.
    llm_cost : float or None
        Cost of one LLM label; None (default) takes the LLM oracle's
        :attr:`Answers.cost` (an :class:`LLMOracle` reports its token cost there).
    share_examples : bool
        Give the human's labels to the LLM as few-shot examples.
    random_state : int, numpy.random.Generator or None
        Breaks ties in uncertainty at random.

    References
    ----------
    Li et al. (2023), "CoAnnotating: Uncertainty-guided work allocation between human
    and large language models for data annotation", EMNLP.

    Examples
    --------
    >>> from activelab.oracles import NoisyOracle, SimulatedOracle
    >>> y = np.array([0, 1, 0, 1, 0, 1])
    >>> router = Router(SimulatedOracle(y), NoisyOracle(y, noise=0.0),
    ...                 human_fraction=0.5, uncertainty=lambda idx: idx / 10.0,
    ...                 human_cost=1.0, llm_cost=0.01)
    >>> router.label(np.arange(6)).labels.tolist()
    [0, 1, 0, 1, 0, 1]
    >>> router.summary()["human"]
    {'labels': 3, 'asked': 3, 'cost': 3.0}
    """

    def __init__(
        self,
        human: Oracle,
        llm: Oracle,
        *,
        threshold: float | None = None,
        human_fraction: float | None = None,
        human_budget: float | None = None,
        uncertainty: Callable[[np.ndarray], Any] | str | None = None,
        human_cost: float | None = 1.0,
        llm_cost: float | None = None,
        share_examples: bool = True,
        random_state: RandomStateLike = None,
    ) -> None:
        for name, oracle in (("human", human), ("llm", llm)):
            if not callable(getattr(oracle, "label", None)):
                raise TypeError(f"{name} must be an oracle with label(indices); got {oracle!r}.")
        if (threshold is None) == (human_fraction is None):
            raise ValueError(
                "give exactly one of threshold= (route items whose uncertainty exceeds it) "
                "and human_fraction= (route that share of each batch); got "
                f"threshold={threshold}, human_fraction={human_fraction}."
            )
        if human_fraction is not None and not 0.0 <= human_fraction <= 1.0:
            raise ValueError(f"human_fraction must be in [0, 1]; got {human_fraction}.")
        if threshold is not None and not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number; got {threshold}.")
        if human_budget is not None:
            if human_cost is None or not human_cost > 0:
                raise ValueError(
                    "human_budget needs the cost of one human label up front: pass "
                    f"human_cost= (> 0); got human_cost={human_cost}."
                )
            if human_budget < 0:
                raise ValueError(f"human_budget must be >= 0; got {human_budget}.")
        for name, cost in (("human_cost", human_cost), ("llm_cost", llm_cost)):
            if cost is not None and not cost >= 0:
                raise ValueError(f"{name} must be >= 0 or None; got {cost}.")
        if isinstance(uncertainty, str):
            if uncertainty not in MODEL_SCORES:
                raise ValueError(
                    f"uncertainty names a score of the loop's model, one of {MODEL_SCORES}; "
                    f"got {uncertainty!r}. Or pass a callable indices -> scores."
                )
        elif uncertainty is not None and not callable(uncertainty):
            raise TypeError(
                "uncertainty must be a callable indices -> scores, a score name "
                f"{MODEL_SCORES}, or None; got {uncertainty!r}."
            )
        self.human = human
        self.llm = llm
        self.threshold = threshold
        self.human_fraction = human_fraction
        self.human_budget = human_budget
        self.uncertainty = uncertainty
        self.human_cost = human_cost
        self.llm_cost = llm_cost
        self.share_examples = bool(share_examples)
        self._rng = check_random_state(random_state)
        self._carry = 0.0
        self._round = 0
        self._context: LoopContext | None = None
        self.records: list[RoutedLabel] = []

    def observe(self, context: LoopContext) -> None:
        """Take the loop's current model (for ``uncertainty="margin"`` etc.) and pass the
        context on to the human and the LLM oracle.

        ``simulate`` calls this after every fit and :meth:`~activelab.ActiveLearner.ask`
        before it asks; call it yourself when you drive the router by hand.

        Parameters
        ----------
        context : LoopContext
        """
        self._context = context
        observe(self.human, context)
        observe(self.llm, context)

    # -- accounting -------------------------------------------------------------------

    def _spent(self, annotator: str) -> float:
        return float(sum(r.cost for r in self.records if r.annotator == annotator))

    @property
    def total_cost(self) -> float:
        """What every answer so far cost, human and LLM."""
        return float(sum(r.cost for r in self.records))

    def summary(self) -> dict[str, dict[str, float | int]]:
        """Per annotator: final labels given, items asked, and total cost.

        Returns
        -------
        dict
            ``{"human": {"labels", "asked", "cost"}, "llm": {...}}``.
        """
        out: dict[str, dict[str, float | int]] = {}
        for annotator in ("human", "llm"):
            mine = [r for r in self.records if r.annotator == annotator]
            out[annotator] = {
                "labels": sum(r.final for r in mine),
                "asked": len(mine),
                "cost": float(sum(r.cost for r in mine)),
            }
        return out

    def assignments(self) -> tuple[np.ndarray, np.ndarray]:
        """Who gave each returned label: the items, and ``"human"`` or ``"llm"`` for each.

        Returns
        -------
        (numpy.ndarray of int, numpy.ndarray of str)
        """
        final = [r for r in self.records if r.final]
        return (
            np.array([r.index for r in final], dtype=np.int64),
            np.array([r.annotator for r in final], dtype="<U5"),
        )

    # -- routing ----------------------------------------------------------------------

    def _human_slots(self) -> int | None:
        if self.human_budget is None:
            return None
        left = self.human_budget - self._spent("human")
        return max(math.floor(left / self.human_cost + 1e-9), 0)  # type: ignore[operator]

    def _choose(self, scores: np.ndarray, forced: np.ndarray) -> np.ndarray:
        """Mask of items for the human: forced ones first, then by the rule, under budget."""
        n = scores.shape[0]
        order = self._rng.permutation(n)  # random tie-break
        order = order[np.argsort(-np.where(forced[order], np.inf, scores[order]), kind="stable")]
        if self.threshold is not None:
            wanted = int(np.sum(forced | (scores > self.threshold)))
        else:
            target = self.human_fraction * n + self._carry  # type: ignore[operator]
            wanted = math.floor(target + 1e-9)
            self._carry = target - wanted
            wanted = max(wanted, int(forced.sum()))
        slots = self._human_slots()
        if slots is not None:
            wanted = min(wanted, slots)
        chosen = np.zeros(n, dtype=bool)
        chosen[order[:wanted]] = True
        return chosen

    def _model_scores(self, indices: np.ndarray) -> np.ndarray:
        from activelab import scores as score_functions

        if self._context is None:  # no model yet: every item as uncertain as can be
            return np.full(indices.shape[0], np.inf)
        model = self._context.model
        if not callable(getattr(model, "predict_proba", None)):
            raise TypeError(
                f"Router(uncertainty={self.uncertainty!r}) reads the loop model's "
                f"predict_proba, and {type(model).__name__} has none; use a classifier or "
                "pass uncertainty=callable."
            )
        proba = np.asarray(model.predict_proba(take_rows(self._context.X, indices)))
        return getattr(score_functions, self.uncertainty)(proba)  # type: ignore[arg-type]

    def _scores(self, indices: np.ndarray) -> np.ndarray:
        if isinstance(self.uncertainty, str):
            scores = np.asarray(self._model_scores(indices), dtype=np.float64)
        else:
            scores = np.asarray(self.uncertainty(indices), dtype=np.float64)  # type: ignore[misc]
        if scores.shape != indices.shape:
            raise ValueError(
                f"uncertainty(indices) must return one score per index, shape {indices.shape}; "
                f"got {scores.shape}."
            )
        if np.isnan(scores).any():
            raise ValueError("uncertainty(indices) returned NaN; return finite scores.")
        return scores

    def _cost(self, answers: Answers, n_asked: int, per_label: float | None) -> float:
        return float(answers.cost) if per_label is None else per_label * n_asked

    def label(self, indices: np.ndarray) -> Answers:
        """Route ``indices`` between the human and the LLM and return one label per item.

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
            Labels in the order of ``indices`` (skipped items left out); ``confidence``
            is the LLM's for its labels and NaN for the human's; ``cost`` is the
            round's total.
        """
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"a router takes integer indices; got dtype {indices.dtype}.")
        indices = indices.astype(np.int64).ravel()
        empty = np.empty(0, dtype=np.int64)
        if indices.size == 0:
            return Answers(empty, np.empty(0), empty, np.empty(0), 0.0)
        n = indices.shape[0]
        at = _positions(indices)
        llm_label: dict[int, Any] = {}
        llm_conf = np.full(n, np.nan)
        llm_asked = np.zeros(n, dtype=bool)
        llm_cost_each = 0.0

        revised: dict[int, Any] = {}  # earlier items either oracle relabelled

        def ask_llm(mask: np.ndarray) -> None:
            nonlocal llm_cost_each
            asked = indices[mask]
            if asked.size == 0:
                return
            answers = self.llm.label(asked)
            revised.update(answers.revised or {})
            cost = self._cost(answers, asked.size, self.llm_cost)
            llm_cost_each = cost / asked.size
            llm_asked[mask] = True
            confidence = (
                np.full(len(answers.indices), np.nan)
                if answers.confidence is None
                else np.asarray(answers.confidence, dtype=np.float64)
            )
            for j, (i, lab) in enumerate(zip(answers.indices, answers.labels, strict=True)):
                llm_label[int(i)] = lab
                llm_conf[at[int(i)]] = confidence[j]

        if self.uncertainty is None:
            ask_llm(np.ones(n, dtype=bool))
            answered = np.array([int(i) in llm_label for i in indices])
            if answered.any() and np.isnan(llm_conf[answered]).all():
                raise ValueError(
                    "Router without uncertainty= routes by the LLM's confidence, and the LLM "
                    "oracle reported none. Use LLMOracle(n_samples>=2) for self-consistency, a "
                    "server that returns logprobs, or pass uncertainty=callable."
                )
            scores = np.where(answered, 1.0 - np.nan_to_num(llm_conf, nan=1.0), np.inf)
            to_human = self._choose(scores, ~answered)
        else:
            scores = self._scores(indices)
            to_human = self._choose(scores, np.zeros(n, dtype=bool))
            ask_llm(~to_human)
            failed = llm_asked & np.array([int(i) not in llm_label for i in indices])
            if failed.any():
                scores = np.where(failed, np.inf, scores)
                slots = self._human_slots()
                extra = np.flatnonzero(failed)
                if slots is not None:
                    extra = extra[: max(slots - int(to_human.sum()), 0)]
                to_human[extra] = True

        human_label: dict[int, Any] = {}
        human_each = 0.0
        asked_human = indices[to_human]
        human_cost = 0.0
        if asked_human.size:
            answers = self.human.label(asked_human)
            revised.update(answers.revised or {})  # the human's revisions win
            human_cost = self._cost(answers, asked_human.size, self.human_cost)
            human_each = human_cost / asked_human.size
            for i, lab in zip(answers.indices, answers.labels, strict=True):
                human_label[int(i)] = lab
            if self.share_examples and len(answers.indices) and hasattr(self.llm, "add_examples"):
                self.llm.add_examples(np.asarray(answers.indices), np.asarray(answers.labels))

        got, labels, confidence, skipped = [], [], [], []
        for j, i in enumerate(indices.tolist()):
            if i in human_label:
                final, value, conf = "human", human_label[i], np.nan
            elif i in llm_label:
                final, value, conf = "llm", llm_label[i], llm_conf[j]
            else:
                final, value, conf = None, None, np.nan
            if llm_asked[j]:
                self.records.append(
                    RoutedLabel(
                        self._round,
                        i,
                        "llm",
                        llm_label.get(i),
                        float(scores[j]),
                        llm_cost_each,
                        final == "llm",
                    )
                )
            if to_human[j]:
                self.records.append(
                    RoutedLabel(
                        self._round,
                        i,
                        "human",
                        human_label.get(i),
                        float(scores[j]),
                        human_each,
                        final == "human",
                    )
                )
            if final is None:
                skipped.append(i)
            else:
                got.append(i)
                labels.append(value)
                confidence.append(conf)
        self._round += 1
        llm_total = llm_cost_each * int(llm_asked.sum())
        answered_now = set(got)
        return Answers(
            np.array(got, dtype=np.int64),
            np.asarray(labels),
            np.array(skipped, dtype=np.int64),
            np.array(confidence, dtype=np.float64),
            human_cost + llm_total,
            revised={i: lab for i, lab in revised.items() if i not in answered_now} or None,
        )


class CostBudget(StoppingCriterion):
    """Stop once an oracle has cost ``max_cost`` (money, minutes: the oracle's unit).

    Reads ``oracle.total_cost`` (:class:`Router`, :class:`LLMOracle`,
    :class:`MultiAnnotatorOracle` and :class:`RecordingOracle` keep it) after each round,
    counting from when the run started (:meth:`reset`). The loop checks after a batch is
    bought, so the last batch may overshoot the budget by at most one batch's cost.

    Parameters
    ----------
    oracle : object with ``total_cost``
    max_cost : float

    Examples
    --------
    >>> from activelab.oracles import RecordingOracle, SimulatedOracle
    >>> budget = CostBudget(RecordingOracle(SimulatedOracle([0, 1])), 5.0)
    >>> budget.update(State(round=0, n_labeled=2))
    False
    """

    def __init__(self, oracle: Any, max_cost: float) -> None:
        if not hasattr(oracle, "total_cost"):
            raise TypeError(
                f"CostBudget reads oracle.total_cost; {type(oracle).__name__} has none. Use a "
                "Router, LLMOracle, MultiAnnotatorOracle, or wrap it in RecordingOracle."
            )
        if not max_cost > 0:
            raise ValueError(f"max_cost must be > 0; got {max_cost}.")
        self.oracle = oracle
        self.max_cost = max_cost
        self.reason = None
        self._start = float(oracle.total_cost)

    def reset(self) -> None:
        """Count from the oracle's spending now (a new run)."""
        self.reason = None
        self._start = float(self.oracle.total_cost)

    def update(self, state: State) -> bool:
        """True once the oracle has cost ``max_cost`` since :meth:`reset`."""
        spent = float(self.oracle.total_cost) - self._start
        if spent >= self.max_cost:
            return self._fire(f"cost budget of {self.max_cost:g} spent ({spent:.4g})")
        return False
