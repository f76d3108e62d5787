"""Committees: query-by-committee and query-by-bagging."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._data import take_rows
from activelab._validation import RandomStateLike, check_random_state, n_rows
from activelab.models._base import ModelAdapter, align_columns


class _SingleClass:
    """A member whose (bootstrap) sample held one class: it predicts that class surely."""

    def __init__(self, label: Any) -> None:
        self.classes_ = np.asarray([label])

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.ones((n_rows(X), 1))


class Committee(ModelAdapter):
    """A committee of classifiers whose members' probabilities are posterior samples.

    Members may be different estimators (a heterogeneous committee, Seung et al. 1992) or
    copies of one estimator fitted on bootstrap samples (query-by-bagging, Abe & Mamitsuka
    1998; see :meth:`bagging`). ``predict_proba`` is the members' mean; ``sample_proba``
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
