"""Several noisy annotators: simulated crowds, choosing whom to ask (IEThresh), repeated
labelling of contested items, and aggregation into one label per item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from activelab._validation import RandomStateLike, check_random_state
from activelab.oracles._aggregate import (
    dawid_skene,
    label_uncertainty,
    majority_vote,
    vote_counts,
)
from activelab.oracles._base import Answers, LoopContext, Oracle, observe
from activelab.oracles._simulated import NoisyOracle

SELECTIONS = ("all", "random", "ie_thresh")
AGGREGATIONS = ("majority", "dawid_skene")


def simulated_annotators(
    y: Any,
    confusions: Any = None,
    accuracies: Sequence[float] | None = None,
    classes: Any = None,
    random_state: RandomStateLike = None,
) -> list[NoisyOracle]:
    """A simulated crowd: one :class:`NoisyOracle` per annotator, each with its own errors.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels.
    confusions : array of shape (n_annotators, C, C), optional
        ``confusions[a, c, l]``: probability that annotator ``a`` answers ``classes[l]``
        for an item of class ``classes[c]``.
    accuracies : sequence of float, optional
        Instead of ``confusions``: each annotator is right with this probability and
        otherwise answers one of the other classes uniformly.
    classes : array-like, optional
        The label set (default: sorted unique ``y``).
    random_state : int, numpy.random.Generator or None
        Seeds every annotator (each gets its own stream).

    Returns
    -------
    list of NoisyOracle

    Examples
    --------
    >>> crowd = simulated_annotators([0, 1, 0, 1], accuracies=[1.0, 0.0], random_state=0)
    >>> [a.label(np.arange(4)).labels.tolist() for a in crowd]
    [[0, 1, 0, 1], [1, 0, 1, 0]]
    """
    if (confusions is None) == (accuracies is None):
        raise ValueError("give exactly one of confusions= (per-annotator matrices) or accuracies=.")
    rng = check_random_state(random_state)
    labels = np.asarray(y)
    classes = np.unique(labels) if classes is None else np.asarray(classes)
    if confusions is not None:
        matrices = np.asarray(confusions, dtype=np.float64)
        if matrices.ndim != 3:
            raise ValueError(
                "confusions must have shape (n_annotators, C, C); got "
                f"{matrices.shape}. For one annotator, wrap its matrix in a list."
            )
        return [
            NoisyOracle(
                labels, transition=m, classes=classes, random_state=int(rng.integers(2**32))
            )
            for m in matrices
        ]
    accuracy = np.asarray(accuracies, dtype=np.float64)
    if accuracy.ndim != 1 or accuracy.size == 0 or ((accuracy < 0) | (accuracy > 1)).any():
        raise ValueError(f"accuracies must be a list of numbers in [0, 1]; got {accuracies}.")
    return [
        NoisyOracle(labels, noise=1.0 - a, classes=classes, random_state=int(rng.integers(2**32)))
        for a in accuracy
    ]


def interval_estimates(
    n_agree: Any, n_asked: Any, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower bound, mean and upper bound of each annotator's agreement rate (IE learning).

    Each annotator's rewards (1 when its label agreed with the item's majority vote) get
    two pseudo-observations, a 0 and a 1, as in scikit-activeml; with ``n`` rewards of
    mean ``m`` and (population) standard deviation ``s``, the interval is
    ``m ± t_{alpha/2, n-1} · s / sqrt(n)``.

    Parameters
    ----------
    n_agree, n_asked : array of shape (n_annotators,)
        Agreements with the majority, and labels given.
    alpha : float
        Half the significance level of the Student-t interval, in (0, 1).

    Returns
    -------
    (lower, mean, upper) : three arrays of shape (n_annotators,)

    References
    ----------
    Donmez, Carbonell & Schneider (2009), "Efficiently learning the accuracy of labeling
    sources for selective sampling", KDD.

    Examples
    --------
    >>> lower, mean, upper = interval_estimates([8, 1], [8, 8])
    >>> bool(upper[0] > upper[1]), mean.round(2).tolist()
    (True, [0.9, 0.2])
    """
    agree = np.asarray(n_agree, dtype=np.float64)
    asked = np.asarray(n_asked, dtype=np.float64)
    if agree.shape != asked.shape or (agree < 0).any() or (agree > asked).any():
        raise ValueError(
            "n_agree and n_asked must have the same shape with 0 <= n_agree <= n_asked; got "
            f"{agree.tolist()} and {asked.tolist()}."
        )
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    n = asked + 2.0
    mean = (agree + 1.0) / n
    std = np.sqrt(mean * (1.0 - mean))
    half = student_t.isf(alpha / 2.0, n - 1.0) * std / np.sqrt(n)
    return mean - half, mean, mean + half


class IEThresh:
    """Interval Estimation Threshold: ask the annotators whose accuracy may be high.

    Ask every annotator whose upper confidence bound on its agreement rate
    (:func:`interval_estimates`) is at least ``epsilon`` times the largest; an annotator
    whose labels keep disagreeing with the majority drops out, one with few labels keeps
    a wide interval and is still explored (Donmez et al. 2009). scikit-activeml's
    ``IntervalEstimationThreshold`` compares ``UI + 1`` instead of ``UI`` with the
    threshold, which admits more annotators for the same ``epsilon``; this follows the
    paper.

    Parameters
    ----------
    epsilon : float
        In ``[0, 1]``; 1 asks only the best-looking annotator(s), 0 asks everyone.
    alpha : float
        Half the significance level of the interval, in (0, 1).

    Examples
    --------
    >>> IEThresh(epsilon=0.9).choose([40, 10, 38], [40, 40, 40]).tolist()
    [True, False, True]
    """

    def __init__(self, epsilon: float = 0.9, alpha: float = 0.05) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1]; got {epsilon}.")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
        self.epsilon = epsilon
        self.alpha = alpha

    def __repr__(self) -> str:
        return f"IEThresh(epsilon={self.epsilon!r}, alpha={self.alpha!r})"

    def upper(self, n_agree: Any, n_asked: Any) -> np.ndarray:
        """Upper interval bound of each annotator's agreement rate.

        Parameters
        ----------
        n_agree, n_asked : array of shape (n_annotators,)

        Returns
        -------
        numpy.ndarray of shape (n_annotators,)
        """
        return interval_estimates(n_agree, n_asked, self.alpha)[2]

    def choose(self, n_agree: Any, n_asked: Any) -> np.ndarray:
        """Which annotators to ask: upper bound >= epsilon * the best upper bound.

        Parameters
        ----------
        n_agree, n_asked : array of shape (n_annotators,)

        Returns
        -------
        numpy.ndarray of bool, shape (n_annotators,)
        """
        upper = self.upper(n_agree, n_asked)
        return upper >= self.epsilon * upper.max() - 1e-12


class MultiAnnotatorOracle:
    """Several noisy annotators behind one oracle: whom to ask, when to ask again, and
    how to combine their answers.

    Per batch: each item goes to the annotators the ``selection`` picks (everyone, a few
    at random, or IEThresh's set); with ``repeat_threshold``, items whose votes are still
    contested (:func:`label_uncertainty` above the threshold) go to one more annotator at a
    time until they are settled or ``max_labels`` is reached (selective repeated
    labelling, Sheng et al. 2008); the votes are combined by majority vote or Dawid–Skene
    EM over every label collected so far. Each annotator's agreement with the majority is
    tracked (:attr:`n_agree_` of :attr:`n_compared_`), which IEThresh uses to choose. Items
    nobody labelled are skipped.

    Across batches, with ``relabel=k``: each call also asks one more annotator about up
    to ``k`` items answered in *earlier* calls, the ones whose label is most likely wrong
    (Sheng et al.'s label uncertainty of their votes with majority vote; one minus the
    largest Dawid–Skene posterior with ``aggregate="dawid_skene"``), and reports in
    :attr:`Answers.revised` every earlier item whose aggregated label changed (with
    Dawid–Skene, re-estimated confusion matrices may change items not re-asked too);
    ``simulate`` and ``ActiveLearner.ask`` replace those labels before the next fit.
    Earlier items are the ones the loop holds (told by ``observe``), else every item
    answered before. An item is re-asked only while it has an annotator not yet asked
    about it, fewer than ``max_labels`` labels, and (with ``repeat_threshold``) a label
    uncertainty above the threshold; with majority vote a tie keeps the label reported.

    Parameters
    ----------
    annotators : sequence of Oracle
        E.g. :func:`simulated_annotators`, or :class:`LLMOracle` instances.
    classes : array-like, optional
        The label set; defaults to the first annotator's ``classes`` (NoisyOracle has it).
    selection : {"all", "random", "ie_thresh"} or IEThresh
        Whom to ask first for each item.
    n_per_item : int
        Annotators per item for ``selection="random"``.
    aggregate : {"majority", "dawid_skene"}
    repeat_threshold : float, optional
        Ask again while the label uncertainty exceeds this (0.5 is the maximum; e.g. 0.2
        asks a second annotator after one vote and a third after a 1–1 split).
    max_labels : int, optional
        Most labels per item (default: every annotator).
    relabel : int
        Earlier items to re-ask per call (0: none, the default; no ``revised`` then).
        Their labels are paid like any other, in :attr:`Answers.cost`.
    costs : float or sequence of float
        Cost of one label from each annotator, charged on top of what the annotator
        reports itself in :attr:`Answers.cost` (an :class:`LLMOracle` reports its
        tokens' price): give 0 for an annotator that bills for itself.
    random_state : int, numpy.random.Generator or None
        Seeds random selection and tie-breaking.

    Attributes
    ----------
    n_asked_ : numpy.ndarray of shape (n_annotators,)
        Labels each annotator gave.
    n_compared_, n_agree_ : numpy.ndarray of shape (n_annotators,)
        Of those, the ones on items with at least two votes, and how many of these agreed
        with the item's majority vote (IEThresh's rewards; a lone vote is not compared).
    n_relabeled_ : int
        Earlier items re-asked so far (``relabel``).
    n_revised_ : int
        Revisions reported so far.
    total_cost : float

    Examples
    --------
    >>> y = np.array([0, 1] * 10)
    >>> crowd = simulated_annotators(y, accuracies=[1.0, 1.0, 0.0], random_state=0)
    >>> oracle = MultiAnnotatorOracle(crowd, selection="all", random_state=0)
    >>> bool((oracle.label(np.arange(20)).labels == y).all())
    True
    """

    def __init__(
        self,
        annotators: Sequence[Oracle],
        classes: Any = None,
        *,
        selection: str | IEThresh = "all",
        n_per_item: int = 1,
        aggregate: str = "majority",
        repeat_threshold: float | None = None,
        max_labels: int | None = None,
        relabel: int = 0,
        costs: float | Sequence[float] = 1.0,
        random_state: RandomStateLike = None,
    ) -> None:
        self.annotators = list(annotators)
        if len(self.annotators) < 1:
            raise ValueError("MultiAnnotatorOracle needs at least one annotator.")
        for a, oracle in enumerate(self.annotators):
            if not callable(getattr(oracle, "label", None)):
                raise TypeError(f"annotator {a} has no label(indices) method: {oracle!r}.")
        if classes is None:
            classes = getattr(self.annotators[0], "classes", None)
            if classes is None:
                raise ValueError(
                    "pass classes= (the label set): the first annotator does not say it."
                )
        self.classes = np.asarray(classes)
        if self.classes.ndim != 1 or np.unique(self.classes).size != self.classes.size:
            raise ValueError(f"classes must be a 1-D list of distinct labels; got {classes}.")
        n_annotators = len(self.annotators)
        if isinstance(selection, str) and selection not in SELECTIONS:
            raise ValueError(
                f"selection must be one of {SELECTIONS} or an IEThresh; got {selection!r}."
            )
        if not isinstance(selection, str | IEThresh):
            raise TypeError(f"selection must be a name or an IEThresh; got {selection!r}.")
        if aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {AGGREGATIONS}; got {aggregate!r}.")
        if int(n_per_item) != n_per_item or not 1 <= n_per_item <= n_annotators:
            raise ValueError(
                f"n_per_item must be an int in [1, {n_annotators}] (the annotators); "
                f"got {n_per_item}."
            )
        if repeat_threshold is not None and not 0.0 <= repeat_threshold < 0.5:
            raise ValueError(
                "repeat_threshold is a label uncertainty in [0, 0.5) (0.5 means no votes); "
                f"got {repeat_threshold}."
            )
        self.max_labels = n_annotators if max_labels is None else int(max_labels)
        if not 1 <= self.max_labels <= n_annotators:
            raise ValueError(f"max_labels must be in [1, {n_annotators}]; got {max_labels}.")
        if isinstance(relabel, bool) or not isinstance(relabel, int | np.integer) or relabel < 0:
            raise ValueError(
                f"relabel is how many earlier items to re-ask per call, an int >= 0; got "
                f"{relabel!r}."
            )
        cost = np.broadcast_to(np.asarray(costs, dtype=np.float64), (n_annotators,)).copy()
        if (cost < 0).any() or not np.isfinite(cost).all():
            raise ValueError(f"costs must be finite and >= 0; got {costs}.")
        self.selection = IEThresh() if selection == "ie_thresh" else selection
        self.n_per_item = int(n_per_item)
        self.aggregate = aggregate
        self.repeat_threshold = repeat_threshold
        self.relabel = int(relabel)
        self.costs = cost
        self._rng = check_random_state(random_state)
        self._sorter = np.argsort(self.classes, kind="stable")
        self._row: dict[int, int] = {}  # item -> row of _votes
        self._votes = np.full((0, n_annotators), -1, dtype=np.int64)
        self._asked = np.zeros((0, n_annotators), dtype=bool)
        self.n_asked_ = np.zeros(n_annotators, dtype=np.int64)
        self.n_compared_ = np.zeros(n_annotators, dtype=np.int64)
        self.n_agree_ = np.zeros(n_annotators, dtype=np.int64)
        self.n_relabeled_ = 0
        self.n_revised_ = 0
        self.total_cost = 0.0
        self._reported: dict[int, int] = {}  # item -> class code last handed out
        self._held: np.ndarray | None = None  # the loop's labelled items (observe)
        self._posteriors = np.zeros((0, self.classes.size))  # Dawid–Skene, last call

    def observe(self, context: LoopContext) -> None:
        """Pass the loop's context on to every annotator that takes it (see
        :class:`LoopContext`; an :class:`LLMOracle` annotator with
        ``few_shot_from_labels`` takes its few-shot examples from it), and keep the
        loop's labelled items: the ones ``relabel`` may re-ask.

        Parameters
        ----------
        context : LoopContext
        """
        self._held = np.asarray(context.labeled, dtype=np.int64).ravel().copy()
        for oracle in self.annotators:
            observe(oracle, context)

    @property
    def n_annotators(self) -> int:
        """Number of annotators."""
        return len(self.annotators)

    def annotations(self) -> tuple[np.ndarray, np.ndarray]:
        """Every label collected: the items, and their votes as class codes (-1: none).

        Returns
        -------
        (numpy.ndarray of shape (n_items,), numpy.ndarray of shape (n_items, n_annotators))
            Codes index :attr:`classes`.
        """
        items = np.fromiter(self._row, dtype=np.int64, count=len(self._row))
        return items, self._votes.copy()

    def _codes(self, labels: np.ndarray, annotator: int) -> np.ndarray:
        labels = np.asarray(labels)
        sorted_classes = self.classes[self._sorter]
        where = np.searchsorted(sorted_classes, labels)
        where = np.minimum(where, sorted_classes.size - 1)
        bad = sorted_classes[where] != labels
        if bad.any():
            raise ValueError(
                f"annotator {annotator} answered {labels[bad][:3].tolist()}, which are not in "
                f"classes {self.classes.tolist()}."
            )
        return self._sorter[where].astype(np.int64)

    def _rows(self, indices: np.ndarray) -> np.ndarray:
        new = [int(i) for i in dict.fromkeys(indices.tolist()) if int(i) not in self._row]
        if new:
            start = self._votes.shape[0]
            for j, i in enumerate(new):
                self._row[i] = start + j
            grow = np.full((len(new), self.n_annotators), -1, dtype=np.int64)
            self._votes = np.vstack([self._votes, grow])
            self._asked = np.vstack([self._asked, np.zeros(grow.shape, dtype=bool)])
        return np.array([self._row[int(i)] for i in indices], dtype=np.int64)

    def _first_choice(self, n: int) -> np.ndarray:
        if isinstance(self.selection, IEThresh):
            chosen = self.selection.choose(self.n_agree_, self.n_compared_)
            return np.broadcast_to(chosen, (n, self.n_annotators)).copy()
        if self.selection == "all":
            return np.ones((n, self.n_annotators), dtype=bool)
        ranks = np.argsort(self._rng.random((n, self.n_annotators)), axis=1)
        mask = np.zeros((n, self.n_annotators), dtype=bool)
        np.put_along_axis(mask, ranks[:, : self.n_per_item], True, axis=1)
        return mask

    def _ask(self, rows: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> float:
        """Ask annotator a about indices[mask[:, a]]; record votes; return the cost."""
        cost = 0.0
        for a, oracle in enumerate(self.annotators):
            pick = mask[:, a] & ~self._asked[rows, a]
            if not pick.any():
                continue
            asked = indices[pick]
            self._asked[rows[pick], a] = True
            cost += self.costs[a] * asked.size
            answers = oracle.label(asked)
            cost += float(answers.cost)
            if len(answers.indices):
                answer_rows = np.array([self._row[int(i)] for i in answers.indices], np.int64)
                self._votes[answer_rows, a] = self._codes(answers.labels, a)
        return cost

    def _next_annotator(self, rows: np.ndarray) -> np.ndarray:
        """For each row, the not-yet-asked annotator to ask next (-1 if none)."""
        open_ = ~self._asked[rows]
        if isinstance(self.selection, IEThresh):
            preference = np.broadcast_to(
                self.selection.upper(self.n_agree_, self.n_compared_), open_.shape
            )
            preference = preference + 1e-9 * self._rng.random(open_.shape)
        else:
            preference = self._rng.random(open_.shape)
        preference = np.where(open_, preference, -np.inf)
        choice = np.argmax(preference, axis=1)
        choice[~open_.any(axis=1)] = -1
        return choice

    def _earlier(self, exclude: np.ndarray) -> np.ndarray:
        """Items answered in earlier calls that the loop holds, minus ``exclude``."""
        items = np.fromiter(self._reported, dtype=np.int64, count=len(self._reported))
        keep = ~np.isin(items, exclude)
        if self._held is not None:
            keep &= np.isin(items, self._held)
        return items[keep]

    def _uncertainty(self, rows: np.ndarray) -> np.ndarray:
        """How likely each row's aggregated label is wrong, from what is known now."""
        if self.aggregate == "dawid_skene":
            return 1.0 - self._posteriors[rows].max(axis=1)
        return label_uncertainty(vote_counts(self._votes[rows], self.classes.size))

    def _to_relabel(self, earlier: np.ndarray) -> np.ndarray:
        """Up to ``relabel`` earlier items to ask again, most uncertain first."""
        if self.relabel == 0 or earlier.size == 0:
            return earlier[:0]
        rows = np.array([self._row[int(i)] for i in earlier], dtype=np.int64)
        n_asked = self._asked[rows].sum(axis=1)
        uncertainty = self._uncertainty(rows)
        eligible = (n_asked < self.max_labels) & (n_asked < self.n_annotators)
        if self.repeat_threshold is not None:
            eligible &= uncertainty > self.repeat_threshold
        candidates = np.flatnonzero(eligible)
        # Most uncertain first, ties at random.
        order = np.lexsort((self._rng.random(candidates.size), -uncertainty[candidates]))
        return earlier[candidates[order[: self.relabel]]]

    def label(self, indices: np.ndarray) -> Answers:
        """Ask the chosen annotators about ``indices``, repeat contested items, aggregate.

        With ``relabel``, also ask again about earlier items and report revised labels.

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
            One aggregated label per item anybody labelled; ``confidence`` is the share
            of its votes that agree with the label (majority) or its posterior
            (Dawid–Skene); ``cost`` is what every label asked this call cost, re-asks
            included; ``revised`` (with ``relabel``) maps earlier items whose label
            changed to their new label.
        """
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"an oracle takes integer indices; got dtype {indices.dtype}.")
        asked_for = indices.astype(np.int64).ravel()
        indices = np.unique(asked_for)
        if indices.size != asked_for.size:  # each item once, answered in the order asked
            answers = self.label(indices)
            given = dict(zip(answers.indices.tolist(), range(len(answers.indices)), strict=True))
            keep = np.array([int(i) in given for i in asked_for], dtype=bool)
            at = np.array([given[int(i)] for i in asked_for[keep]], dtype=np.int64)
            return Answers(
                asked_for[keep],
                answers.labels[at],
                asked_for[~keep],
                None if answers.confidence is None else answers.confidence[at],
                answers.cost,
                answers.revised,
            )
        indices = asked_for
        earlier = self._earlier(indices) if self.relabel else np.empty(0, dtype=np.int64)
        again = self._to_relabel(earlier)  # chosen on what was known before this call
        rows = self._rows(indices)
        again_rows = np.array([self._row[int(i)] for i in again], dtype=np.int64)
        touched = np.concatenate([rows, again_rows])
        before = self._votes[touched].copy()
        cost = self._ask(rows, indices, self._first_choice(indices.size))
        if self.repeat_threshold is not None:
            n_classes = self.classes.size
            for _ in range(self.n_annotators):
                counts = vote_counts(self._votes[rows], n_classes)
                contested = (label_uncertainty(counts) > self.repeat_threshold) & (
                    self._asked[rows].sum(axis=1) < self.max_labels
                )
                nxt = self._next_annotator(rows)
                contested &= nxt >= 0
                if not contested.any():
                    break
                mask = np.zeros((indices.size, self.n_annotators), dtype=bool)
                mask[np.flatnonzero(contested), nxt[contested]] = True
                cost += self._ask(rows, indices, mask)
        if again.size:
            mask = np.zeros((again.size, self.n_annotators), dtype=bool)
            mask[np.arange(again.size), self._next_annotator(again_rows)] = True
            cost += self._ask(again_rows, again, mask)
            self.n_relabeled_ += int(again.size)
        self.total_cost += cost
        votes = self._votes[touched]
        n_classes = self.classes.size
        counts = vote_counts(votes, n_classes)
        majority = majority_vote(votes, n_classes, self._rng)
        # Reward the new votes: did each agree with its item's majority? A lone vote
        # agrees with itself and says nothing, so only items with two or more count.
        new = (votes >= 0) & (before < 0)
        has_label = (majority >= 0) & ((votes >= 0).sum(axis=1) >= 2)
        agree = (votes == majority[:, None]) & new & has_label[:, None]
        self.n_asked_ += new.sum(axis=0)
        self.n_compared_ += (new & has_label[:, None]).sum(axis=0)
        self.n_agree_ += agree.sum(axis=0)
        counts, majority = counts[: rows.size], majority[: rows.size]
        result = None
        if self.aggregate == "dawid_skene":
            result = dawid_skene(self._votes, n_classes)
            self._posteriors = result.posteriors
            labels = result.labels[rows]
            confidence = result.posteriors[rows, np.maximum(labels, 0)]
        else:
            labels = majority
            totals = np.maximum(counts.sum(axis=1), 1)
            confidence = counts[np.arange(labels.size), np.maximum(labels, 0)] / totals
        revised = None
        if self.relabel:
            revised = self._revisions(earlier, result)
        answered = labels >= 0
        self._reported.update(
            zip(indices[answered].tolist(), labels[answered].tolist(), strict=True)
        )
        return Answers(
            indices[answered],
            self.classes[labels[answered]],
            indices[~answered],
            confidence[answered].astype(np.float64),
            float(cost),
            revised,
        )

    def _revisions(self, earlier: np.ndarray, result: Any) -> dict[int, Any]:
        """Earlier items whose aggregated label changed: item -> new label; recorded."""
        if earlier.size == 0:
            return {}
        rows = np.array([self._row[int(i)] for i in earlier], dtype=np.int64)
        reported = np.array([self._reported[int(i)] for i in earlier], dtype=np.int64)
        if result is not None:
            now = result.labels[rows]
        else:  # majority, but a tie keeps the label reported (no flip-flopping)
            counts = vote_counts(self._votes[rows], self.classes.size)
            now = majority_vote(self._votes[rows], self.classes.size, self._rng)
            still_leading = counts[np.arange(rows.size), reported] == counts.max(axis=1)
            now = np.where(still_leading, reported, now)
        changed = (now >= 0) & (now != reported)
        revised = {
            int(item): self.classes[code]
            for item, code in zip(earlier[changed], now[changed], strict=True)
        }
        self._reported.update(zip(earlier[changed].tolist(), now[changed].tolist(), strict=True))
        self.n_revised_ += len(revised)
        return revised
