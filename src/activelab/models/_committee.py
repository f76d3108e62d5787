"""Committees: query-by-committee, query-by-bagging and query-by-boosting."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._data import take_rows
from activelab._validation import (
    RandomStateLike,
    check_int,
    check_number,
    check_random_state,
    n_rows,
)
from activelab.models._base import ModelAdapter, align_columns


def _check_member(estimator: Any, position: int) -> None:
    """A TypeError unless ``estimator`` can be fitted and gives probabilities."""
    name = type(estimator).__name__
    if not callable(getattr(estimator, "fit", None)):
        raise TypeError(f"committee member {position} ({name}) has no fit method.")
    if not hasattr(estimator, "predict_proba"):
        hint = ""
        if callable(getattr(estimator, "decision_function", None)):
            hint = (
                f" Wrap it: sklearn.calibration.CalibratedClassifierCV({name}(), "
                "ensemble=False)" + (", or pass probability=True." if "SVC" in name else ".")
            )
        raise TypeError(
            f"committee member {position} ({name}) has no predict_proba; every member must "
            f"give class probabilities.{hint}"
        )


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to ``total``, proportional to ``weights`` (largest remainder).

    Member ``t`` gets ``floor(total * w_t)`` and the leftover units go to the largest
    fractional parts, so every count is within one of ``total * w_t``.
    """
    quotas = weights / weights.sum() * total
    counts = np.floor(quotas).astype(np.int64)
    short = total - int(counts.sum())
    if short > 0:
        order = np.argsort(-(quotas - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def _as_array(X: Any) -> Any:
    """A DataFrame as its numpy values (boosting members were fitted on arrays)."""
    return X.to_numpy() if hasattr(X, "to_numpy") else X


class _SingleClass:
    """A member whose (bootstrap) sample held one class: it predicts that class surely."""

    def __init__(self, label: Any) -> None:
        self.classes_ = np.asarray([label])

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.ones((n_rows(X), 1))


class Committee(ModelAdapter):
    """A committee of classifiers whose members' probabilities are posterior samples.

    Members may be different estimators (a heterogeneous committee, Seung et al. 1992; see
    :meth:`heterogeneous`) or copies of one estimator fitted on bootstrap samples
    (query-by-bagging, Abe & Mamitsuka 1998; see :meth:`bagging`); :meth:`boosting` makes
    the query-by-boosting committee of AdaBoost's weighted hypotheses
    (:class:`BoostingCommittee`). ``predict_proba`` is the members' mean; ``sample_proba``
    stacks them. Members that saw fewer classes than the committee get zero columns in
    the right place. A member whose sample held a single class predicts that class with
    probability one instead of failing to fit.

    Parameters
    ----------
    estimators : list of estimators
        Unfitted classifiers with fit and predict_proba; each is cloned at fit.
    bootstrap : bool
        Fit each member on a bootstrap sample of the labeled set.
    random_state : int, numpy.random.Generator or None
        Seeds the bootstrap samples.

    References
    ----------
    Seung, Opper & Sompolinsky (1992), "Query by committee", COLT.
    Abe & Mamitsuka (1998), "Query learning strategies using boosting and bagging", ICML.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> committee = Committee([LogisticRegression(), GaussianNB()])
    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> committee.fit(X, y).sample_proba([[1.5]]).shape
    (2, 1, 2)
    """

    def __init__(
        self,
        estimators: list[Any],
        bootstrap: bool = False,
        random_state: RandomStateLike = None,
    ) -> None:
        self.estimators = estimators
        self.bootstrap = bootstrap
        self.random_state = random_state

    @classmethod
    def bagging(
        cls, estimator: Any, n_members: int = 10, random_state: RandomStateLike = None
    ) -> Committee:
        """Query-by-bagging: ``n_members`` copies of ``estimator`` on bootstrap samples.

        Parameters
        ----------
        estimator : estimator
            The base classifier.
        n_members : int
            Committee size, at least 2.
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        Committee
        """
        if n_members < 2:
            raise ValueError(f"a committee needs at least 2 members; got n_members={n_members}.")
        return cls([clone(estimator) for _ in range(n_members)], True, random_state)

    @classmethod
    def heterogeneous(
        cls,
        estimators: list[Any],
        bootstrap: bool = False,
        random_state: RandomStateLike = None,
    ) -> Committee:
        """Query-by-committee with different kinds of classifiers (Seung et al. 1992).

        Each member is a different estimator, e.g. a logistic regression, a random
        forest, an ``SVC(probability=True)`` and a naive Bayes, fitted on the labeled
        set (or, with ``bootstrap``, each on its own bootstrap sample). Their
        disagreement reflects the spread of inductive biases, which bagging copies of
        one model cannot show. Members' probability columns are aligned on the
        committee's classes whatever order each member keeps them in.

        Parameters
        ----------
        estimators : list of estimators
            At least 2 unfitted classifiers, each with ``fit`` and ``predict_proba``;
            cloned here and again at every fit.
        bootstrap : bool, default=False
            Fit each member on a bootstrap sample of the labeled set.
        random_state : int, numpy.random.Generator or None
            Seeds the bootstrap samples.

        Returns
        -------
        Committee

        Examples
        --------
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn.naive_bayes import GaussianNB
        >>> from sklearn.tree import DecisionTreeClassifier
        >>> committee = Committee.heterogeneous(
        ...     [LogisticRegression(), GaussianNB(), DecisionTreeClassifier(random_state=0)]
        ... )
        >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
        >>> committee.fit(X, y).sample_proba([[1.5]]).shape
        (3, 1, 2)
        """
        members = list(estimators) if isinstance(estimators, list | tuple) else None
        if members is None:
            raise TypeError(
                "Committee.heterogeneous takes a list of estimators; got "
                f"{type(estimators).__name__}."
            )
        if len(members) < 2:
            raise ValueError(f"a committee needs at least 2 members; got {len(members)}.")
        for position, estimator in enumerate(members):
            _check_member(estimator, position)
        return cls([clone(e) for e in members], bootstrap, random_state)

    @classmethod
    def boosting(
        cls,
        estimator: Any = None,
        n_members: int = 10,
        learning_rate: float = 1.0,
        resolution: int = 100,
        random_state: RandomStateLike = None,
    ) -> BoostingCommittee:
        """Query-by-boosting: the weighted hypotheses of AdaBoost (Abe & Mamitsuka 1998).

        See :class:`BoostingCommittee`.

        Parameters
        ----------
        estimator : estimator or None, default=None
            The weak learner; its ``fit`` must take ``sample_weight``. None is a decision
            stump, ``DecisionTreeClassifier(max_depth=1)``.
        n_members : int, default=10
            Boosting rounds (AdaBoost stops early when a member fits the data exactly).
        learning_rate : float, default=1.0
            AdaBoost's shrinkage of the member weights.
        resolution : int, default=100
            Number of posterior samples :meth:`BoostingCommittee.sample_proba` returns.
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        BoostingCommittee
        """
        return BoostingCommittee(estimator, n_members, learning_rate, resolution, random_state)

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict_proba``, ``sample_proba`` and ``embed`` (numeric X)."""
        return frozenset({"predict_proba", "sample_proba", "embed"})

    def describe(self) -> str:
        """E.g. ``Committee(10 × LogisticRegression, bagging)``."""
        names = sorted({type(e).__name__ for e in self.estimators})
        kind = ", bagging" if self.bootstrap else ""
        return f"Committee({len(self.estimators)} × {'/'.join(names)}{kind})"

    def fit(self, X: Any, y: Any) -> Committee:
        """Fit every member (on a bootstrap sample when ``bootstrap``) and return self.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts
        y : array-like of shape (n,)

        Returns
        -------
        Committee
        """
        if len(self.estimators) < 2:
            raise ValueError(f"a committee needs at least 2 members; got {len(self.estimators)}.")
        labels = np.asarray(y)
        self.classes_ = np.unique(labels)
        rng = check_random_state(self.random_state)
        members = []
        for estimator in self.estimators:
            rows = np.arange(labels.shape[0])
            if self.bootstrap:
                rows = rng.integers(0, labels.shape[0], size=labels.shape[0])
            member_labels = labels[rows]
            seen = np.unique(member_labels)
            if seen.shape[0] == 1:
                members.append(_SingleClass(seen[0]))
                continue
            members.append(clone(estimator).fit(take_rows(X, rows), member_labels))
        self.members_ = members
        return self

    def sample_proba(self, X: Any) -> np.ndarray:
        """Each member's probabilities, ``(m, n, C)``, aligned on ``classes_``.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (m, n, C)
        """
        if not hasattr(self, "members_"):
            raise RuntimeError("the committee is not fitted; call fit(X, y) first.")
        stacked = np.empty((len(self.members_), n_rows(X), len(self.classes_)))
        for position, member in enumerate(self.members_):
            stacked[position] = align_columns(
                member.predict_proba(X), member.classes_, self.classes_, encoded=False
            )
        return stacked

    def predict_proba(self, X: Any) -> np.ndarray:
        """The members' mean probabilities, ``(n, C)``.

        Parameters
        ----------
        X : array-like, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        return self.sample_proba(X).mean(axis=0)


class BoostingCommittee(ModelAdapter):
    r"""Query-by-boosting: the committee is AdaBoost's weighted hypotheses.

    ``fit`` runs AdaBoost (SAMME, the multi-class AdaBoost of Zhu et al. 2009, through
    :class:`sklearn.ensemble.AdaBoostClassifier`) on the labeled set. The members are
    its hypotheses :math:`h_1..h_T` and their boosting weights
    :math:`\beta_t \propto \alpha_t` (normalised to sum to one) weigh them, as in Abe &
    Mamitsuka (1998), where the query is the item on which the weighted vote is least
    decided.

    - :meth:`predict_proba` is the weighted mean :math:`\sum_t \beta_t\, p_t(y \mid x)`
      of the members' probabilities (exact weights).
    - :meth:`sample_proba` returns ``resolution`` posterior samples in which member
      :math:`t` appears :math:`n_t \approx \beta_t \cdot` ``resolution`` times (largest
      remainder rounding, :math:`|n_t - \beta_t R| < 1`). The unweighted disagreement
      scores of :mod:`activelab.scores` (vote entropy, KL to the consensus, BALD,
      variation ratio, mean std) on these samples are therefore the boosting-weighted
      scores, up to rounding each weight to a multiple of ``1 / resolution``; members
      with :math:`\beta_t < 1 / (2R)` may get no sample. Memory is ``resolution × n × C``
      floats.

    Members that never saw a class (impossible for AdaBoost, which fits every member on
    all rows) would get zero columns; columns are aligned on ``classes_`` by label.

    Parameters
    ----------
    estimator : estimator or None, default=None
        The weak learner; its ``fit`` must take ``sample_weight``. None is a decision
        stump, ``DecisionTreeClassifier(max_depth=1)``.
    n_members : int, default=10
        Boosting rounds. AdaBoost stops early when a hypothesis fits the labeled set
        exactly, so ``members_`` may be shorter.
    learning_rate : float, default=1.0
        AdaBoost's shrinkage of the member weights.
    resolution : int, default=100
        Number of posterior samples ``sample_proba`` returns.
    random_state : int, numpy.random.Generator or None
        Seeds AdaBoost (and a randomised weak learner).

    Attributes
    ----------
    members_ : list of fitted estimators
    weights_ : numpy.ndarray of shape (n_members_,)
        Normalised boosting weights :math:`\beta_t`.
    counts_ : numpy.ndarray of shape (n_members_,)
        Samples per member in :meth:`sample_proba`; they sum to ``resolution``.
    classes_ : numpy.ndarray

    References
    ----------
    Abe & Mamitsuka (1998), "Query learning strategies using boosting and bagging", ICML.
    Freund & Schapire (1997), "A decision-theoretic generalization of on-line learning and
    an application to boosting", JCSS 55(1).
    Zhu, Zou, Rosset & Hastie (2009), "Multi-class AdaBoost", Statistics and Its Interface.

    Examples
    --------
    >>> committee = BoostingCommittee(n_members=5, resolution=20, random_state=0)
    >>> X, y = [[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]], [0, 0, 1, 0, 1, 1]
    >>> committee.fit(X, y).sample_proba([[2.5]]).shape
    (20, 1, 2)
    """

    def __init__(
        self,
        estimator: Any = None,
        n_members: int = 10,
        learning_rate: float = 1.0,
        resolution: int = 100,
        random_state: RandomStateLike = None,
    ) -> None:
        self.estimator = estimator
        self.n_members = n_members
        self.learning_rate = learning_rate
        self.resolution = resolution
        self.random_state = random_state

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict_proba``, ``sample_proba`` and ``embed`` (numeric X)."""
        return frozenset({"predict_proba", "sample_proba", "embed"})

    def describe(self) -> str:
        """E.g. ``BoostingCommittee(10 × DecisionTreeClassifier)``."""
        name = "DecisionTreeClassifier" if self.estimator is None else type(self.estimator).__name__
        return f"BoostingCommittee({self.n_members} × {name})"

    def _weak_learner(self) -> Any:
        from sklearn.tree import DecisionTreeClassifier
        from sklearn.utils.validation import has_fit_parameter

        if self.estimator is None:
            return DecisionTreeClassifier(max_depth=1)
        _check_member(self.estimator, 0)
        if not has_fit_parameter(self.estimator, "sample_weight"):
            raise TypeError(
                f"boosting reweights the labeled rows, so the weak learner's fit must take "
                f"sample_weight; {type(self.estimator).__name__}.fit does not. Use e.g. "
                "DecisionTreeClassifier(max_depth=1), GaussianNB or LogisticRegression, "
                "or Committee.bagging for this estimator."
            )
        return clone(self.estimator)

    def fit(self, X: Any, y: Any) -> BoostingCommittee:
        """Run AdaBoost on ``(X, y)`` and keep its hypotheses and weights; return self.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame
        y : array-like of shape (n,)

        Returns
        -------
        BoostingCommittee
        """
        from sklearn.ensemble import AdaBoostClassifier

        n_members = check_int(self.n_members, "n_members", "Committee.boosting", 1)
        resolution = check_int(self.resolution, "resolution", "Committee.boosting", 1)
        learning_rate = check_number(
            self.learning_rate, "learning_rate", "Committee.boosting", 0.0, open_low=True
        )
        labels = np.asarray(y)
        classes = np.unique(labels)
        if classes.shape[0] < 2:
            raise ValueError(
                f"boosting needs labeled examples of at least 2 classes; got only "
                f"{classes.tolist()}. Label an example of another class first."
            )
        seed = int(check_random_state(self.random_state).integers(0, 2**31 - 1))
        booster = AdaBoostClassifier(
            estimator=self._weak_learner(),
            n_estimators=n_members,
            learning_rate=learning_rate,
            random_state=seed,
        ).fit(_as_array(X), labels)
        weights = np.asarray(booster.estimator_weights_[: len(booster.estimators_)], float)
        keep = np.flatnonzero(weights > 0)
        if keep.shape[0] == 0:  # pragma: no cover - AdaBoost always keeps one member
            raise RuntimeError("AdaBoost kept no hypothesis with a positive weight.")
        self.members_ = [booster.estimators_[t] for t in keep]
        self.weights_ = weights[keep] / weights[keep].sum()
        self.counts_ = _apportion(self.weights_, resolution)
        self.classes_ = classes
        return self

    def _member_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "members_"):
            raise RuntimeError("the boosting committee is not fitted; call fit(X, y) first.")
        features = _as_array(X)
        stacked = np.empty((len(self.members_), n_rows(features), len(self.classes_)))
        for position, member in enumerate(self.members_):
            stacked[position] = align_columns(
                member.predict_proba(features), member.classes_, self.classes_, encoded=False
            )
        return stacked

    def sample_proba(self, X: Any) -> np.ndarray:
        """``resolution`` posterior samples, each member repeated by its boosting weight.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (resolution, n, C)
        """
        return np.repeat(self._member_proba(X), self.counts_, axis=0)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The boosting-weighted mean of the members' probabilities, ``(n, C)``.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        return np.tensordot(self.weights_, self._member_proba(X), axes=1)
