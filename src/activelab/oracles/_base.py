"""The Oracle protocol: labels for indices, or a skip."""

from __future__ import annotations

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
    """

    indices: np.ndarray
    labels: np.ndarray
    skipped: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    confidence: np.ndarray | None = None
    cost: float = 0.0

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


@dataclass(frozen=True)
class LoopContext:
    """What the loop tells an oracle about itself before asking it (the ``observe`` hook).

    An oracle may define ``observe(context) -> None``; :func:`activelab.simulate` calls it
    after every fit (so before the next batch is asked) and
    :meth:`activelab.ActiveLearner.ask` before it asks. :class:`Router` reads the model
    (``uncertainty="margin"`` etc.) and passes the context on; :class:`LLMOracle` takes
    few-shot examples from the labels (``few_shot_from_labels=True``);
    :class:`RecordingOracle` and :class:`MultiAnnotatorOracle` pass it on to the oracles
    they hold. An oracle without ``observe`` is never told anything.

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
        The label given for each.
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

    def label(self, indices: np.ndarray) -> Answers:
        """Ask the wrapped oracle and record its answers.

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
            The wrapped oracle's answers, unchanged.
        """
        answers = self.oracle.label(indices)
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
