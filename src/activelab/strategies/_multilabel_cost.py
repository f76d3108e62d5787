"""Cost-sensitive and hierarchical multi-label queries (HALC, cost per performance) and AURO.

HALC and ``cost_performance`` ask instance-label pairs, like AUDI: ``query_pairs(model, X,
Y, k, costs=..., label_tree=...)`` with ``Y`` the partial indicator matrix (0/1 known, NaN
or -1 unknown). ``label_tree[a, b] = 1`` when label ``a`` is the parent of label ``b``: a
positive answer implies every ancestor positive, a negative one every descendant negative
(:func:`propagate_hierarchy` fills them in). AURO asks an item for the relevance ordering
of two of its labels: ``query_orderings`` returns ``(row, label_a, label_b)`` triples.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._data import concat_rows
from activelab._distances import as_embedding, k_nearest, squared_norms
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.models import ModelAdapter
from activelab.models._multilabel import check_indicator
from activelab.select import sample, top_k
from activelab.strategies._multilabel import MultiLabelStrategy, labeled_indicator

__all__ = [
    "AURO",
    "HALC",
    "CostPerformance",
    "check_label_tree",
    "hierarchy_closure",
    "propagate_hierarchy",
]

_OUTPUTS = ("auto", "decision", "proba")


def check_label_tree(label_tree: Any, L: int, who: str = "label_tree") -> np.ndarray:
    """A label hierarchy as a boolean ``(L, L)`` parent matrix, checked to be acyclic.

    Parameters
    ----------
    label_tree : array-like of shape (L, L)
        ``label_tree[a, b]`` is 1 (True) when label ``a`` is the parent of label ``b``.
    L : int
        The number of labels.
    who : str
        The caller, for messages.

    Returns
    -------
    numpy.ndarray of shape (L, L), bool
    """
    tree = np.asarray(label_tree)
    if tree.shape != (L, L):
        raise ValueError(
            f"{who}: label_tree must be an (L, L) = ({L}, {L}) parent matrix "
            f"(label_tree[a, b] = 1 when a is the parent of b); got shape {tree.shape}."
        )
    if tree.dtype.kind not in "biuf" or not np.isin(tree, (0, 1)).all():
        raise ValueError(f"{who}: label_tree must hold only 0/1 (or booleans).")
    tree = tree.astype(bool)
    if hierarchy_closure(tree).diagonal().any():
        raise ValueError(
            f"{who}: label_tree has a cycle (a label is its own ancestor); a hierarchy is a "
            "tree or a directed acyclic graph."
        )
    return tree


def hierarchy_closure(label_tree: np.ndarray) -> np.ndarray:
    """Ancestor matrix: ``closure[a, b]`` is True when ``a`` is an ancestor of ``b``.

    The transitive closure of the parent matrix by repeated boolean squaring
    (``O(L³ log L)``).

    Parameters
    ----------
    label_tree : array of shape (L, L), bool
        The parent matrix.

    Returns
    -------
    numpy.ndarray of shape (L, L), bool

    Examples
    --------
    >>> hierarchy_closure(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], bool)).astype(int).tolist()
    [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    """
    closure = np.asarray(label_tree, dtype=bool)
    while True:
        step = closure | ((closure.astype(np.int64) @ closure.astype(np.int64)) > 0)
        if (step == closure).all():
            return closure
        closure = step


def propagate_hierarchy(Y: Any, label_tree: Any) -> np.ndarray:
    """Fill in what a label hierarchy implies about a partial indicator matrix.

    A positive label makes every ancestor positive; a negative label makes every
    descendant negative (the hierarchy constraint of Yan & Huang 2018). Applied to the
    answers of a round, this is what one query buys beyond its own pair. ALiPy's
    ``hierarchical_multilabel_mark`` marks one level only, and in the other direction
    (children of a positive, parents of a negative).

    Parameters
    ----------
    Y : array-like of shape (n, L)
        0/1 known, NaN or -1 unknown.
    label_tree : array-like of shape (L, L)
        ``label_tree[a, b] = 1`` when ``a`` is the parent of ``b``.

    Returns
    -------
    numpy.ndarray of shape (n, L), float64
        ``Y`` with the implied entries set (NaN where still unknown).

    Raises
    ------
    ValueError
        When ``Y`` contradicts the hierarchy (a known negative ancestor of a positive).

    Examples
    --------
    >>> tree = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]  # 0 -> 1 -> 2
    >>> propagate_hierarchy([[-1, -1, 1], [-1, 0, -1]], tree).tolist()
    [[1.0, 1.0, 1.0], [nan, 0.0, 0.0]]
    """
    labels = check_indicator(Y, None, "propagate_hierarchy", allow_unknown=True)
    closure = hierarchy_closure(check_label_tree(label_tree, labels.shape[1]))
    as_int = closure.astype(np.int64)
    positive = (labels == 1).astype(np.int64) @ as_int.T > 0  # an ancestor of a positive
    negative = (labels == 0).astype(np.int64) @ as_int > 0  # a descendant of a negative
    conflict = (positive & (labels == 0)) | (negative & (labels == 1)) | (positive & negative)
    if conflict.any():
        row, label = np.argwhere(conflict)[0]
        raise ValueError(
            f"propagate_hierarchy: Y contradicts label_tree at row {row}, label {label} (a "
            "positive label under a negative ancestor); fix the answers or the hierarchy."
        )
    out = labels.copy()
    out[positive] = 1.0
    out[negative] = 0.0
    return out


def _check_costs(costs: Any, L: int, who: str) -> np.ndarray:
    if costs is None:
        return np.ones(L)
    values = np.asarray(costs, dtype=np.float64).ravel()
    if values.shape != (L,) or not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError(
            f"{who}: costs must be {L} positive finite numbers, one per label; got "
            f"{np.asarray(costs).tolist()!r}."
        )
    return values


class _PairOutputs(MultiLabelStrategy):
    """Real-valued outputs ``f`` (decision function or ``2p - 1``) of a multi-label model."""

    def _requirements(self, adapter: ModelAdapter) -> tuple[str, ...]:
        if self.output not in _OUTPUTS:
            raise ValueError(f"{self.name}: output must be one of {_OUTPUTS}; got {self.output!r}.")
        if self.output == "decision":
            return ("decision_function",)
        if self.output == "auto" and "decision_function" in adapter.capabilities:
            return ()
        return ("predict_proba",)

    def _outputs(self, model: ModelAdapter, X: Any) -> np.ndarray:
        if self.output == "decision" or (
            self.output == "auto" and "decision_function" in model.capabilities
        ):
            values = np.asarray(model.decision_function(X), dtype=np.float64)
        else:
            values = 2.0 * np.asarray(model.predict_proba(X), dtype=np.float64) - 1.0
        return values.reshape(n_rows(X), -1)


class HALC(_PairOutputs):
    r"""HALC: cost-effective queries of instance-label pairs under a label hierarchy.

    Yan & Huang (2018). The uncertainty of a pair is :math:`U(x, j) = 1 / |f_j(x)|`
    (floored at ``epsilon``), ``f`` the decision function or ``2p - 1``. Its answer is
    guessed by the vote :math:`v(x, j)` of the ``n_neighbors`` nearest items (``x``
    itself included): their known label ``j``, else the model's prediction. A positive
    answer would also settle the unknown ancestors of ``j``, a negative one its unknown
    descendants, so the pair is worth

    .. math:: I(x, j) = U(x, j) + [v > 0] \sum_{a \in \mathrm{anc}(j)} U(x, a)
              + [v < 0] \sum_{d \in \mathrm{desc}(j)} U(x, d)

    (the mean of the two sums on a tied vote), over unknown labels only.
    :meth:`query_pairs` asks the pairs of largest :math:`I(x, j) / c_j`, ``c`` the
    per-label costs; :meth:`query` (whole items, the labeled set known) ranks items by
    their best pair. Answers are propagated with :func:`propagate_hierarchy`.

    ALiPy's ``QueryCostSensitiveHALC`` fills a budget by a 0/1 knapsack over the pairs;
    here the batch is the ``k`` best informativeness-per-cost pairs (the greedy
    knapsack, which also fits non-integer costs). ALiPy doubles the uncertainty of a pair
    voted positive instead of adding its ancestors' uncertainties, and sums its leaf
    descendants only (its breadth-first walk iterates the row's values, not indices).

    Parameters
    ----------
    costs : array-like of shape (L,), optional
        The cost of asking each label (all 1 by default); ``query_pairs`` overrides it.
    label_tree : array-like of shape (L, L), optional
        ``label_tree[a, b] = 1`` when ``a`` is the parent of ``b``; None: flat labels.
    n_neighbors : int, default=5
        Items voting on a pair's answer.
    epsilon : float, default=1e-6
        Floor of :math:`|f|` in the uncertainty.
    output : {"auto", "decision", "proba"}, default="auto"
    sampling, temperature
        As for every score strategy (whole-item queries).

    References
    ----------
    Yan & Huang (2018), "Cost-effective active learning for hierarchical multi-label
    classification", IJCAI, pp. 2962–2968.
    """

    name: ClassVar[str] = "halc"
    summary: ClassVar[str] = "multi-label pairs: uncertainty plus implied hierarchy labels per cost"
    reference: ClassVar[str] = "Yan & Huang 2018 (IJCAI)"
    _hierarchy: ClassVar[bool] = True

    def __init__(
        self,
        costs: Any = None,
        label_tree: Any = None,
        n_neighbors: int = 5,
        epsilon: float = 1e-6,
        output: str = "auto",
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.costs = costs
        self.label_tree = label_tree
        self.n_neighbors = n_neighbors
        self.epsilon = epsilon
        self.output = output
        self.sampling = sampling
        self.temperature = temperature

    def _check_params(self) -> None:
        if isinstance(self.n_neighbors, bool) or not isinstance(self.n_neighbors, int | np.integer):
            raise TypeError(f"{self.name}: n_neighbors must be an int; got {self.n_neighbors!r}.")
        if self.n_neighbors < 1:
            raise ValueError(
                f"{self.name}: n_neighbors must be at least 1; got {self.n_neighbors}."
            )
        if not np.isfinite(self.epsilon) or self.epsilon <= 0:
            raise ValueError(f"{self.name}: epsilon must be positive; got {self.epsilon!r}.")

    def _closure(self, label_tree: Any, L: int) -> np.ndarray | None:
        if label_tree is None or not self._hierarchy:
            return None
        return hierarchy_closure(check_label_tree(label_tree, L, self.name))

    def _informativeness(
        self,
        model: ModelAdapter,
        X_points: Any,
        known: np.ndarray,
        outputs: np.ndarray,
        queries: np.ndarray,
        closure: np.ndarray | None,
    ) -> np.ndarray:
        """:math:`I(x, j)` of the ``queries`` rows of ``X_points``; -inf where known."""
        unknown = np.isnan(known[queries])
        uncertainty = np.where(unknown, 1.0 / np.maximum(np.abs(outputs[queries]), self.epsilon), 0)
        informativeness = uncertainty.copy()
        if closure is not None and closure.any():
            features = as_embedding(
                model.embed(X_points), self.name, dtype=np.float64, what="the embeddings of X"
            )
            norms = squared_norms(features)
            neighbors, _ = k_nearest(
                features[queries],
                norms[queries],
                features,
                norms,
                min(self.n_neighbors, features.shape[0]),
            )
            values = np.where(np.isnan(known), np.sign(outputs), 2.0 * known - 1.0)
            values[values == 0] = -1.0  # f = 0 predicts negative, as the model does
            vote = np.sign(values[neighbors].sum(axis=1))  # (q, L)
            as_float = closure.astype(np.float64)
            ancestors = uncertainty @ as_float  # sum over a with closure[a, j]
            descendants = uncertainty @ as_float.T  # sum over d with closure[j, d]
            informativeness += np.where(
                vote > 0,
                ancestors,
                np.where(vote < 0, descendants, 0.5 * (ancestors + descendants)),
            )
        return np.where(unknown, informativeness, -np.inf)

    def pair_utilities(
        self, model: Any, X: Any, Y: Any, costs: Any = None, label_tree: Any = None
    ) -> np.ndarray:
        """Informativeness per cost :math:`I(x, j) / c_j` of every pair; -inf where known.

        Parameters
        ----------
        model : fitted multi-label model or MultiLabelAdapter
        X : array-like of shape (n, d)
            Every item.
        Y : array-like of shape (n, L)
            0/1 known, NaN or -1 unknown.
        costs, label_tree : optional
            Override the parameters of the same names.

        Returns
        -------
        numpy.ndarray of shape (n, L)
        """
        self._check_params()
        adapter = self._adapter(model)
        labels = check_indicator(Y, n_rows(X), self.name, allow_unknown=True)
        outputs = self._outputs(adapter, X)
        if outputs.shape[1] != labels.shape[1]:
            raise ValueError(
                f"{self.name}: Y has {labels.shape[1]} label columns and the model predicts "
                f"{outputs.shape[1]}; fit the model on the same label columns."
            )
        L = labels.shape[1]
        cost = _check_costs(self.costs if costs is None else costs, L, self.name)
        closure = self._closure(self.label_tree if label_tree is None else label_tree, L)
        rows = np.arange(labels.shape[0])
        return self._informativeness(adapter, X, labels, outputs, rows, closure) / cost

    def query_pairs(
        self,
        model: Any,
        X: Any,
        Y: Any,
        k: int,
        random_state: RandomStateLike = None,
        costs: Any = None,
        label_tree: Any = None,
    ) -> np.ndarray:
        """The ``k`` unknown pairs of largest informativeness per cost, best first.

        Parameters
        ----------
        model : fitted multi-label model or MultiLabelAdapter
            Fitted on the known part of ``Y``.
        X : array-like, sparse matrix or DataFrame of shape (n, d)
            Every item, labeled or not.
        Y : array-like of shape (n, L)
            0/1 known, NaN or -1 unknown.
        k : int
            Pairs to ask, at most the number of unknown entries.
        random_state : int, numpy.random.Generator or None
            Breaks ties.
        costs : array-like of shape (L,), optional
            Per-label costs (default: the ``costs`` parameter, else all 1).
        label_tree : array-like of shape (L, L), optional
            Parent matrix (default: the ``label_tree`` parameter).

        Returns
        -------
        numpy.ndarray of shape (k, 2), int64
            ``(row, label)`` pairs.
        """
        rng = check_random_state(random_state)
        utilities = self.pair_utilities(model, X, Y, costs, label_tree)
        rows, labels = np.nonzero(np.isfinite(utilities))
        k = check_k(k, rows.shape[0])
        picks = top_k(utilities[rows, labels], k, rng)
        return np.column_stack([rows[picks], labels[picks]]).astype(np.int64)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        self._check_params()
        outputs = self._outputs(model, X_pool)
        Y = labeled_indicator(X_labeled, y_labeled, self.name, outputs.shape[1])
        L = outputs.shape[1]
        cost = _check_costs(self.costs, L, self.name)
        closure = self._closure(self.label_tree, L)
        n_pool = outputs.shape[0]
        if closure is None:
            known = np.full((n_pool, L), np.nan)
            points, all_outputs, queries = X_pool, outputs, np.arange(n_pool)
        else:
            known = np.vstack([Y, np.full((n_pool, L), np.nan)])
            points = concat_rows(X_labeled, X_pool)
            all_outputs = np.vstack([np.zeros_like(Y), outputs])
            queries = np.arange(Y.shape[0], Y.shape[0] + n_pool)
        pairs = self._informativeness(model, points, known, all_outputs, queries, closure)
        return sample((pairs / cost).max(axis=1), k, self.sampling, self.temperature, rng)


class CostPerformance(HALC):
    r"""Uncertainty per cost of instance-label pairs (ALiPy's ``QueryCostSensitivePerformance``).

    :math:`U(x, j) / c_j` with :math:`U(x, j) = 1 / |f_j(x)|`: HALC without the label
    hierarchy, the baseline of Yan & Huang (2018). ``label_tree`` is ignored.
    :meth:`query` ranks whole items by their best pair (the labeled set is only checked
    against the model's label columns). ALiPy fills a budget by a 0/1 knapsack; here the
    ``k`` best ratios are taken.

    Parameters
    ----------
    costs : array-like of shape (L,), optional
    epsilon : float, default=1e-6
    output : {"auto", "decision", "proba"}, default="auto"
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Yan & Huang (2018), "Cost-effective active learning for hierarchical multi-label
    classification", IJCAI, pp. 2962–2968.
    """

    name: ClassVar[str] = "cost_performance"
    summary: ClassVar[str] = "multi-label pairs: uncertainty 1/abs(f) per label cost"
    reference: ClassVar[str] = "Yan & Huang 2018 (IJCAI), baseline"
    _hierarchy: ClassVar[bool] = False

    def __init__(
        self,
        costs: Any = None,
        epsilon: float = 1e-6,
        output: str = "auto",
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.costs = costs
        self.epsilon = epsilon
        self.output = output
        self.sampling = sampling
        self.temperature = temperature

    label_tree = None
    n_neighbors = 1


class AURO(_PairOutputs):
    r"""AURO: ask an item for the relevance ordering of two of its labels.

    Huang, Chen & Zhou (2015). Instead of "is label ``j`` relevant?", the oracle is asked
    which of two labels is more relevant to the item. As in the paper (and ALiPy's
    ``QueryTypeAURO``), the item is the one with the most unknown labels (at least two);
    its first label is the unknown label the model ranks highest, its second the other
    unknown label closest to the decision threshold (the paper's dummy label: ``f = 0``
    on the decision function, ``p = 1/2``). Items with equally many unknown labels are
    ordered by how close that second label is to the threshold, then at random.

    :meth:`query_orderings` returns ``(row, label_a, label_b)`` triples, one per item;
    :meth:`query` ranks whole pool items by the same rule (every label unknown there).
    The paper trains its own label-ranking model with a dummy label by SGD; here any
    multi-label model gives the outputs.

    Parameters
    ----------
    output : {"auto", "decision", "proba"}, default="auto"

    References
    ----------
    Huang, Chen & Zhou (2015), "Multi-label active learning: query type matters", IJCAI,
    pp. 946–952.
    """

    name: ClassVar[str] = "auro"
    summary: ClassVar[str] = "multi-label: ask the relevance order of top label vs threshold label"
    reference: ClassVar[str] = "Huang, Chen & Zhou 2015 (IJCAI)"

    def __init__(self, output: str = "auto") -> None:
        self.output = output

    @staticmethod
    def _triples(
        outputs: np.ndarray, unknown: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Eligible rows in query order, their first and second labels."""
        eligible = np.flatnonzero(unknown.sum(axis=1) >= 2)
        f, open_ = outputs[eligible], unknown[eligible]
        first = np.argmax(np.where(open_, f, -np.inf), axis=1)
        closeness = np.where(open_, np.abs(f), np.inf)
        closeness[np.arange(eligible.shape[0]), first] = np.inf
        second = np.argmin(closeness, axis=1)
        gap = closeness[np.arange(eligible.shape[0]), second]
        order = np.lexsort((rng.random(eligible.shape[0]), gap, -open_.sum(axis=1)))
        return eligible[order], first[order], second[order], order

    def query_orderings(
        self, model: Any, X: Any, Y: Any, k: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """The ``k`` label-ordering questions to ask, one per item, best first.

        Parameters
        ----------
        model : fitted multi-label model or MultiLabelAdapter
        X : array-like of shape (n, d)
            Every item.
        Y : array-like of shape (n, L)
            0/1 known, NaN or -1 unknown.
        k : int
            At most the number of items with two or more unknown labels.
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (k, 3), int64
            ``(row, label_a, label_b)``: "is ``label_a`` more relevant than ``label_b``
            for item ``row``?" — ``label_a`` the top-ranked unknown label, ``label_b``
            the unknown label nearest the threshold.
        """
        adapter = self._adapter(model)
        rng = check_random_state(random_state)
        labels = check_indicator(Y, n_rows(X), self.name, allow_unknown=True)
        outputs = self._outputs(adapter, X)
        if outputs.shape[1] != labels.shape[1]:
            raise ValueError(
                f"{self.name}: Y has {labels.shape[1]} label columns and the model predicts "
                f"{outputs.shape[1]}; fit the model on the same label columns."
            )
        if labels.shape[1] < 2:
            raise ValueError(f"{self.name} orders two labels; Y has {labels.shape[1]} column.")
        rows, first, second, _ = self._triples(outputs, np.isnan(labels), rng)
        k = check_k(k, rows.shape[0])
        return np.column_stack([rows[:k], first[:k], second[:k]]).astype(np.int64)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        outputs = self._outputs(model, X_pool)
        labeled_indicator(X_labeled, y_labeled, self.name, outputs.shape[1])
        unknown = np.ones(outputs.shape, dtype=bool)
        if outputs.shape[1] < 2:
            raise ValueError(f"{self.name} orders two labels; the model predicts one.")
        rows, _, _, _ = self._triples(outputs, unknown, rng)
        return rows[:k].astype(np.int64)
