"""The Oracle protocol: labels for indices, or a skip."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Answers:
    """What an oracle returns for a batch of queried indices.

    Attributes
    ----------
    indices : numpy.ndarray of int
        The queried indices the oracle labeled, in the order asked.
    labels : numpy.ndarray
        One label per entry of ``indices``.
    skipped : numpy.ndarray of int
        Queried indices the oracle declined ("don't know", "skip"); the loop takes them
        out of the pool so they are not asked again.
    confidence : numpy.ndarray of float, optional
        The oracle's confidence in each label, in ``[0, 1]`` (NaN: unknown), aligned
        with ``indices``. An LLM reports its self-consistency or token probability here;
        None when the oracle says nothing about it.
    cost : float
        What answering this batch cost (money, minutes: the oracle's unit), the skipped
        items included. 0 when the oracle does not count.
    revised : dict of int to label, optional
        New labels for items the oracle answered in *earlier* batches (index -> label),
        e.g. after :class:`MultiAnnotatorOracle` (``relabel=k``) asked another annotator
        about a contested item. :func:`activelab.simulate` and
        :meth:`activelab.ActiveLearner.ask` replace the labels they hold for these items
        before the next fit (see :func:`apply_revisions`); entries for items the loop
        does not hold are ignored. None (or empty): nothing revised. An item may not be
        both answered in ``indices`` and revised.
    """

    indices: np.ndarray
    labels: np.ndarray
    skipped: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    confidence: np.ndarray | None = None
    cost: float = 0.0
    revised: Mapping[int, Any] | None = None

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.labels):
            raise ValueError(
                f"an oracle answered {len(self.labels)} labels for {len(self.indices)} indices."
            )
        if self.confidence is not None and len(self.confidence) != len(self.indices):
            raise ValueError(
                f"an oracle gave {len(self.confidence)} confidences for "
                f"{len(self.indices)} labels; give one per label (NaN when unknown)."
            )
        if self.revised is not None:
            object.__setattr__(self, "revised", _check_revised(self.revised, self.indices))


def _check_revised(revised: Any, indices: Any) -> dict[int, Any]:
    """``revised`` as a dict of non-negative int index -> label, checked against ``indices``."""
    if not isinstance(revised, Mapping):
        raise TypeError(
            "Answers.revised maps earlier items' indices to their new labels, e.g. {12: 'cat'}; "
            f"got {type(revised).__name__}."
        )
    checked: dict[int, Any] = {}
    for key, label in revised.items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer) or key < 0:
            raise ValueError(
                f"Answers.revised keys are indices (ints >= 0) of earlier items; got {key!r}."
            )
        checked[int(key)] = label
    both = set(checked).intersection(np.asarray(indices, dtype=np.int64).tolist())
    if both:
        raise ValueError(
            f"items {sorted(both)[:5]} are both answered and revised in one Answers; give "
            "their label in labels only."
        )
    return checked


def apply_revisions(labeled: Any, y_labeled: Any, revised: Mapping[int, Any] | None) -> np.ndarray:
    """The labels ``y_labeled`` of items ``labeled`` with an oracle's revisions applied.

    Every position whose item is a key of ``revised`` (:attr:`Answers.revised`) takes its
    new label (an item labelled twice is revised at both); items not held are ignored.
    The dtype widens when a new label needs it (a longer string).

    Parameters
    ----------
    labeled : array of int, shape (n,)
        Indices of the labelled items, as the loop holds them (-1: an item not known by
        index, never revised).
    y_labeled : array of shape (n,) or (n, L)
        Their labels.
    revised : dict of int to label, or None

    Returns
    -------
    numpy.ndarray
        ``y_labeled`` itself when nothing applies, else a revised copy.

    Examples
    --------
    >>> apply_revisions([4, 7, 9], np.array(["a", "b", "a"]), {7: "cc", 5: "b"}).tolist()
    ['a', 'cc', 'a']
    """
    labels = np.asarray(y_labeled)
    held = np.asarray(labeled, dtype=np.int64).ravel()
    if held.shape[0] != labels.shape[0]:
        raise ValueError(
            f"labeled holds {held.shape[0]} indices but y_labeled {labels.shape[0]} labels; "
            "give one label per labelled item."
        )
    if not revised:
        return labels
    items = np.fromiter(revised.keys(), dtype=np.int64, count=len(revised))
    hits = np.isin(held, items)
    if not hits.any():
        return labels
    new = np.asarray(list(revised.values()))
    order = np.argsort(items, kind="stable")
    at = order[np.searchsorted(items[order], held[hits])]
    out = labels.astype(np.result_type(labels, new), copy=True)
    out[hits] = new[at]
    return out


@dataclass(frozen=True)
class LoopContext:
    """What the loop tells an oracle about itself before asking it (the ``observe`` hook).

    An oracle may define ``observe(context) -> None``; :func:`activelab.simulate` calls it
    after every fit (so before the next batch is asked) and
    :meth:`activelab.ActiveLearner.ask` before it asks. :class:`Router` reads the model
    (``uncertainty="margin"`` etc.) and passes the context on; :class:`LLMOracle` takes
    few-shot examples from the labels (``few_shot_from_labels=True``);
    :class:`RecordingOracle` and :class:`MultiAnnotatorOracle` pass it on to the oracles
    they hold (the latter keeps ``labeled``: the items ``relabel`` may ask again). An
    oracle without ``observe`` is never told anything.

    Attributes
    ----------
    model : ModelAdapter
        The model the loop fitted last (read it, never fit it).
    X : object
        The data the oracle's indices refer to (``simulate``: ``X``; ``ActiveLearner.ask``:
        the ``X`` it was given), for reading the model's predictions on queried items.
    labeled : numpy.ndarray of int
        The items labelled so far that the loop knows by index, oldest first.
    y_labeled : numpy.ndarray
        Their labels, as the loop holds them (what the oracles answered).
    round : int
        Rounds fitted so far, minus one (0 after the first fit).
    """

    model: Any
    X: Any
    labeled: np.ndarray
    y_labeled: np.ndarray
    round: int = 0


def observe(oracle: Any, context: LoopContext) -> None:
    """Tell ``oracle`` about the loop, when it has an ``observe`` hook (else nothing).

    Parameters
    ----------
    oracle : Oracle
    context : LoopContext
    """
    hook = getattr(oracle, "observe", None)
    if callable(hook):
        hook(context)


@runtime_checkable
class Oracle(Protocol):
    """Anything that labels items by index: a simulation, a person, an LLM.

    One method: ``label(indices) -> Answers``. Indices refer to the data set the
    oracle was built on (``simulate`` passes indices into ``X``). An oracle may also
    define ``observe(context)`` to be told the loop's current model and labels
    (:class:`LoopContext`); it is optional and not part of this protocol's check.
    """

    def label(self, indices: np.ndarray) -> Answers:
        """Labels for ``indices``, or skips."""
        ...  # pragma: no cover


class RecordingOracle:
    """Wraps an oracle and keeps every answer it gives, for checking label quality.

    ``simulate`` records which items were labeled but not the labels the oracle gave;
    wrap a noisy or LLM oracle in this to measure how many of its labels were right
    (:meth:`label_accuracy`) while ``simulate`` reports the model's accuracy on clean
    test labels.

    Parameters
    ----------
    oracle : Oracle
        Answers every query; its answers are passed through unchanged.

    Attributes
    ----------
    indices_ : numpy.ndarray of int
        Every labeled index so far, in the order answered.
    labels_ : numpy.ndarray
        The label given for each, as revised since (:attr:`Answers.revised`).
    n_revised_ : int
        Recorded labels that a revision changed.
    skipped_ : numpy.ndarray of int
        Every skipped index.
    cost_ : float
        The sum of :attr:`Answers.cost` over all batches.

    Examples
    --------
    >>> from activelab.oracles import NoisyOracle
    >>> recorder = RecordingOracle(NoisyOracle([0, 1, 0, 1], noise=1.0, random_state=0))
    >>> _ = recorder.label(np.array([0, 1]))
    >>> recorder.label_accuracy([0, 1, 0, 1])
    0.0
    """

    def __init__(self, oracle: Oracle) -> None:
        if not callable(getattr(oracle, "label", None)):
            raise TypeError(
                f"RecordingOracle wraps an oracle with label(indices); got {type(oracle).__name__}."
            )
        self.oracle = oracle
        self.indices_ = np.empty(0, dtype=np.int64)
        self.labels_: np.ndarray = np.empty(0)
        self.skipped_ = np.empty(0, dtype=np.int64)
        self.cost_ = 0.0
        self.n_revised_ = 0

    def label(self, indices: np.ndarray) -> Answers:
        """Ask the wrapped oracle and record its answers.

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
            The wrapped oracle's answers, unchanged. Its revisions of earlier labels
            are applied to the record first, as the loop applies them.
        """
        answers = self.oracle.label(indices)
        if answers.revised:
            revised = apply_revisions(self.indices_, self.labels_, answers.revised)
            self.n_revised_ += int(np.sum(revised != self.labels_))
            self.labels_ = revised
        got = np.asarray(answers.indices, dtype=np.int64)
        labels = np.asarray(answers.labels)
        self.indices_ = np.concatenate([self.indices_, got])
        self.labels_ = (
            labels.copy() if self.labels_.size == 0 else np.concatenate([self.labels_, labels])
        )
        self.skipped_ = np.concatenate([self.skipped_, np.asarray(answers.skipped, np.int64)])
        self.cost_ += float(answers.cost)
        return answers

    def observe(self, context: LoopContext) -> None:
        """Pass the loop's context on to the wrapped oracle (see :class:`LoopContext`).

        Parameters
        ----------
        context : LoopContext
        """
        observe(self.oracle, context)

    @property
    def total_cost(self) -> float:
        """The sum of :attr:`Answers.cost` so far (for :class:`CostBudget`)."""
        return self.cost_

    def label_accuracy(self, y_true: Any) -> float:
        """Share of the recorded labels that equal the true label of their item.

        Parameters
        ----------
        y_true : array-like of shape (n,)
            True labels of every item the oracle knows (indexed like the queries).

        Returns
        -------
        float
            NaN when nothing was labeled yet.
        """
        truth = np.asarray(y_true)
        if self.indices_.size == 0:
            return float("nan")
        return float(np.mean(truth[self.indices_] == self.labels_))
