r"""LAL: learning active learning from data (Konyushkova, Sznitman & Fua 2017).

A regressor learns, from simulated active-learning episodes, how much the test error of
a random-forest classifier drops when one more item is labeled, given features of the
classifier's state and of the candidate. At query time the items with the largest
predicted error reduction are queried.

The features (the paper's, as in the authors' code) for a candidate :math:`x` with a
forest fitted on the labeled set :math:`L`:

1. the trees' mean probability of the positive class at :math:`x`;
2. their standard deviation at :math:`x`;
3. the share of positive labels in :math:`L`;
4. the forest's out-of-bag accuracy;
5. the standard deviation of the feature importances divided by the dimension;
6. the mean over the pool of feature 2 (the forest's overall variance);
7. the mean depth of the trees;
8. :math:`|L|`.

Two regressors ship with the package, trained by :func:`train_lal` on episodes over
two-dimensional, two-class Gaussian clouds with random means, covariances and class
balance (the paper's "simulated unbalanced" data): ``"independent"`` (states reached by
random sampling) and ``"iterative"`` (states reached by a LAL strategy itself). They are
stored as plain arrays (``data/lal_*.npz``) and evaluated by :class:`LALRegressor`, so no
pickle and no particular scikit-learn version is involved.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from activelab._validation import RandomStateLike, check_int, check_labels, check_random_state
from activelab.models import ModelAdapter
from activelab.select import top_k
from activelab.strategies._base import Strategy, embeddings

__all__ = ["LAL", "LALRegressor", "lal_features", "simulate_episode_data", "train_lal"]

#: Number of state features.
N_FEATURES = 8
_MODES = ("iterative", "independent")


# ------------------------------------------------------------------------ features


def _fit_forest(X: np.ndarray, y: np.ndarray, n_estimators: int, seed: int):
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=n_estimators, oob_score=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny labeled sets: some rows have no OOB trees
        forest.fit(X, y)
    return forest


def _oob_accuracy(forest: Any, y: np.ndarray) -> float:
    decision = np.asarray(forest.oob_decision_function_, dtype=np.float64)
    covered = np.isfinite(decision).all(axis=1) & (decision.sum(axis=1) > 0)
    if not covered.any():
        return 0.5
    predicted = forest.classes_[np.argmax(decision[covered], axis=1)]
    return float(np.mean(predicted == y[covered]))


def lal_features(
    forest: Any, X_pool: np.ndarray, y_labeled: np.ndarray, positive: Any
) -> np.ndarray:
    """The eight LAL state features of every pool item, for one positive class.

    Parameters
    ----------
    forest : fitted RandomForestClassifier
        Fitted on the labeled set with ``oob_score=True``.
    X_pool : numpy.ndarray of shape (n, d)
    y_labeled : numpy.ndarray of shape (m,)
        The labels the forest was fitted on.
    positive : label
        The class whose probability is feature 1 (the rest is "negative").

    Returns
    -------
    numpy.ndarray of shape (n, 8), float64
        Columns as listed in the module docstring.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> forest = _fit_forest(X, np.array([0, 0, 1, 1]), 5, 0)
    >>> lal_features(forest, np.array([[0.5]]), np.array([0, 0, 1, 1]), 1).shape
    (1, 8)
    """
    column = int(np.flatnonzero(forest.classes_ == positive)[0])
    per_tree = np.stack([tree.predict_proba(X_pool)[:, column] for tree in forest.estimators_])
    mean, spread = per_tree.mean(axis=0), per_tree.std(axis=0)
    n, n_dim = X_pool.shape
    features = np.empty((n, N_FEATURES))
    features[:, 0] = mean
    features[:, 1] = spread
    features[:, 2] = float(np.mean(y_labeled == positive))
    features[:, 3] = _oob_accuracy(forest, y_labeled)
    features[:, 4] = float(np.std(forest.feature_importances_ / n_dim))
    features[:, 5] = float(spread.mean())
    features[:, 6] = float(np.mean([tree.tree_.max_depth for tree in forest.estimators_]))
    features[:, 7] = y_labeled.shape[0]
    return features


# ----------------------------------------------------------------------- regressor


class LALRegressor:
    """A random-forest regressor stored as arrays and evaluated with numpy.

    Parameters
    ----------
    left, right, feature : numpy.ndarray of shape (n_nodes,), int
        Children (-1 at leaves) and split feature of every node, all trees concatenated
        (child indices are global).
    threshold, value : numpy.ndarray of shape (n_nodes,), float
        Split threshold (go left when ``x[feature] <= threshold``) and node value.
    roots : numpy.ndarray of shape (n_trees,), int
        Index of each tree's root.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> X = np.random.default_rng(0).normal(size=(50, 8))
    >>> forest = RandomForestRegressor(5, random_state=0).fit(X, X[:, 0])
    >>> regressor = LALRegressor.from_forest(forest)
    >>> bool(np.allclose(regressor.predict(X), forest.predict(X)))
    True
    """

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        feature: np.ndarray,
        threshold: np.ndarray,
        value: np.ndarray,
        roots: np.ndarray,
    ) -> None:
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.value = np.asarray(value, dtype=np.float64)
        self.roots = np.asarray(roots, dtype=np.int64)

    @classmethod
    def from_forest(cls, forest: Any) -> LALRegressor:
        """Arrays of a fitted scikit-learn ``RandomForestRegressor`` (one output).

        Parameters
        ----------
        forest : fitted RandomForestRegressor

        Returns
        -------
        LALRegressor
        """
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("l", "r", "f", "t", "v")}
        roots, offset = [], 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            leaf = tree.children_left < 0
            parts["l"].append(np.where(leaf, -1, tree.children_left + offset))
            parts["r"].append(np.where(leaf, -1, tree.children_right + offset))
            parts["f"].append(np.where(leaf, 0, tree.feature))
            parts["t"].append(tree.threshold)
            parts["v"].append(tree.value[:, 0, 0])
            roots.append(offset)
            offset += tree.node_count
        return cls(*(np.concatenate(parts[k]) for k in ("l", "r", "f", "t", "v")), np.array(roots))

    @classmethod
    def load(cls, path: str | Path) -> LALRegressor:
        """Read a regressor written by :meth:`save`.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        LALRegressor
        """
        with np.load(path) as data:
            return cls(
                *(data[k] for k in ("left", "right", "feature", "threshold", "value", "roots"))
            )

    def save(self, path: str | Path) -> None:
        """Write the arrays to a compressed ``.npz`` file (compact integer dtypes).

        Parameters
        ----------
        path : str or Path
        """
        np.savez_compressed(
            path,
            left=self.left.astype(np.int32),
            right=self.right.astype(np.int32),
            feature=self.feature.astype(np.int8),
            threshold=self.threshold,
            value=self.value.astype(np.float32),
            roots=self.roots.astype(np.int32),
        )

    def predict(self, features: Any) -> np.ndarray:
        """Mean of the trees' leaf values for each row of ``features``.

        Parameters
        ----------
        features : array-like of shape (n, 8)

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        # scikit-learn's trees compare float32 inputs with their thresholds: do the same.
        X = np.asarray(features, dtype=np.float32).astype(np.float64)
        if X.ndim != 2 or X.shape[1] <= int(self.feature.max(initial=0)):
            raise ValueError(
                f"LALRegressor needs features of shape (n, {N_FEATURES}); got {X.shape}."
            )
        rows = np.arange(X.shape[0])
        node = np.repeat(self.roots[None, :], X.shape[0], axis=0)  # (n, trees)
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                break
            go_left = X[rows[:, None], self.feature[node]] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node].mean(axis=1)


def _shipped(mode: str) -> LALRegressor:
    source = resources.files("activelab.strategies").joinpath("data", f"lal_{mode}.npz")
    with resources.as_file(source) as path:
        return LALRegressor.load(path)


# ---------------------------------------------------------------------- simulation


def _gaussian_clouds(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two 2-D Gaussian clouds with random means, covariances and class balance."""
    share = rng.uniform(0.1, 0.9)
    labels = (rng.random(n) < share).astype(np.int64)
    labels[:2] = [0, 1]
    X = np.empty((n, 2))
    for c in (0, 1):
        angle = rng.uniform(0, np.pi)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        scales = rng.uniform(0.2, 1.5, size=2)
        covariance = rotation @ np.diag(scales**2) @ rotation.T
        members = labels == c
        X[members] = rng.multivariate_normal(rng.uniform(-2, 2, size=2), covariance, members.sum())
    return X, labels


def simulate_episode_data(
    n_episodes: int = 40,
    n_steps: int = 12,
    n_candidates: int = 5,
    n_estimators: int = 20,
    pool_size: int = 120,
    test_size: int = 500,
    regressor: LALRegressor | None = None,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and error reductions from simulated active-learning episodes.

    Each episode draws two Gaussian clouds (:func:`train_lal`), labels one item of each
    class, and then for ``n_steps`` states: fits a forest on the labeled set, measures
    its test error, and for ``n_candidates`` random pool items records the LAL features
    and the test error drop when the item is added with its true label (the forest
    refitted with the same seed). The next state adds a random item, or with
    ``regressor`` the item it predicts best (LAL-iterative).

    Parameters
    ----------
    n_episodes, n_steps, n_candidates, n_estimators, pool_size, test_size : int
    regressor : LALRegressor, optional
        Picks the items that advance the episodes (iterative mode).
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    features : numpy.ndarray of shape (N, 8)
    reductions : numpy.ndarray of shape (N,)
    """
    rng = check_random_state(random_state)
    rows, targets = [], []
    for _ in range(n_episodes):
        X, y = _gaussian_clouds(rng, pool_size + test_size)
        X_test, y_test = X[pool_size:], y[pool_size:]
        X, y = X[:pool_size], y[:pool_size]
        labeled = [0, 1]
        for _ in range(n_steps):
            seed = int(rng.integers(2**31 - 1))
            forest = _fit_forest(X[labeled], y[labeled], n_estimators, seed)
            error = np.mean(forest.predict(X_test) != y_test)
            unlabeled = np.setdiff1d(np.arange(pool_size), labeled)
            if unlabeled.size == 0:
                break
            chosen = rng.choice(unlabeled, size=min(n_candidates, unlabeled.size), replace=False)
            features = lal_features(forest, X[chosen], y[labeled], 1)
            for row, candidate in zip(features, chosen, strict=True):
                after = _fit_forest(
                    X[[*labeled, candidate]], y[[*labeled, candidate]], n_estimators, seed
                )
                rows.append(row)
                targets.append(error - np.mean(after.predict(X_test) != y_test))
            if regressor is None:
                labeled.append(int(rng.choice(unlabeled)))
            else:
                scores = regressor.predict(lal_features(forest, X[unlabeled], y[labeled], 1))
                labeled.append(int(unlabeled[top_k(scores, 1, rng)[0]]))
    return np.asarray(rows), np.asarray(targets)


def train_lal(
    mode: str = "iterative",
    n_episodes: int = 40,
    n_steps: int = 12,
    n_candidates: int = 5,
    n_estimators: int = 20,
    n_trees: int = 50,
    path: str | Path | None = None,
    random_state: RandomStateLike = 0,
) -> LALRegressor:
    """Train the LAL regressor on simulated episodes; the shipped files come from here.

    ``"independent"``: episodes advance by random sampling. ``"iterative"``: first an
    independent regressor on half the episodes, then the other half advance by that
    regressor's picks, and the final regressor learns from both (the paper's
    LAL-iterative). The regressor is a scikit-learn ``RandomForestRegressor``
    (``n_trees`` trees, at most 6 features per split as in the authors' code, leaves of
    at least 5 items to keep the file small), exported to a :class:`LALRegressor`.

    Regenerate the shipped files (a few minutes on one core)::

        from activelab.strategies._lal import train_lal
        train_lal("independent", path="src/activelab/strategies/data/lal_independent.npz")
        train_lal("iterative", path="src/activelab/strategies/data/lal_iterative.npz")

    Parameters
    ----------
    mode : {"iterative", "independent"}
    n_episodes, n_steps, n_candidates, n_estimators : int
        See :func:`simulate_episode_data` (``n_estimators``: trees of the simulated
        classifier; use the same as :class:`LAL`'s ``n_estimators``).
    n_trees : int, default=50
        Trees of the regressor.
    path : str or Path, optional
        Also write the regressor there (:meth:`LALRegressor.save`).
    random_state : int, numpy.random.Generator or None, default=0

    Returns
    -------
    LALRegressor
    """
    from sklearn.ensemble import RandomForestRegressor

    if mode not in _MODES:
        raise ValueError(f"train_lal: mode must be one of {_MODES}; got {mode!r}.")
    rng = check_random_state(random_state)

    def fit(features: np.ndarray, targets: np.ndarray) -> LALRegressor:
        forest = RandomForestRegressor(
            n_estimators=n_trees,
            max_features=6,
            min_samples_leaf=5,
            random_state=int(rng.integers(2**31 - 1)),
        )
        return LALRegressor.from_forest(forest.fit(features, targets))

    settings = dict(
        n_steps=n_steps, n_candidates=n_candidates, n_estimators=n_estimators, random_state=rng
    )
    if mode == "independent":
        regressor = fit(*simulate_episode_data(n_episodes, **settings))
    else:
        first = max(1, n_episodes // 2)
        features, targets = simulate_episode_data(first, **settings)
        guide = fit(features, targets)
        more, more_targets = simulate_episode_data(
            max(1, n_episodes - first), regressor=guide, **settings
        )
        regressor = fit(np.vstack([features, more]), np.concatenate([targets, more_targets]))
    if path is not None:
        regressor.save(path)
    return regressor


# ------------------------------------------------------------------------ strategy


class LAL(Strategy):
    r"""Learning active learning: query the largest predicted error reduction.

    Fits a random forest (``n_estimators`` trees, out-of-bag scoring) on the embeddings
    of the labeled set, computes the eight LAL state features of every pool item
    (:func:`lal_features`) and queries the ``k`` items for which the LAL regressor
    predicts the largest drop in test error (Konyushkova, Sznitman & Fua 2017). The
    regressor is the shipped one for ``mode`` (trained by :func:`train_lal` on
    simulated 2-D Gaussian clouds) or ``regressor`` (a :class:`LALRegressor` or the
    path of one saved by :func:`train_lal`).

    The paper is binary: the positive class is the second one. With more classes each
    class in turn is the positive one (one versus rest, the same forest) and the
    predicted reductions are averaged. Needs a labeled set; with none the pick is
    uniformly random. The model passed to :meth:`query` only provides ``embed`` (its
    features): LAL's features are defined for its own forest.

    Quality of the shipped regressors: they were fitted on 2,400 noisy simulated
    candidates each; on held-out episodes the iterative one ranks the candidates of a
    state with a Spearman correlation of about 0.15 to the measured error drops, the
    independent one about 0. Retrain with more episodes (:func:`train_lal`) for better
    ones.

    Peers: ALiPy's ``QueryInstanceLAL`` computes the same features (with 50 trees and
    the probability of the *first* class) and trains a 2,000-tree regressor on the
    authors' data files, which it downloads at run time; nothing is downloaded here.

    Parameters
    ----------
    mode : {"iterative", "independent"}, default="iterative"
        Which shipped regressor to use.
    regressor : LALRegressor, str or Path, optional
        A regressor of one's own (overrides ``mode``).
    n_estimators : int, default=20
        Trees of the forest whose state is described (the shipped regressors were
        trained with 20).

    References
    ----------
    Konyushkova, Sznitman & Fua (2017), "Learning active learning from data", NeurIPS 30,
    pp. 4225–4235.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.2, 0.1], [3.0, 3.0], [3.1, 2.9]])
    >>> pool = np.array([[1.5, 1.5], [0.1, 0.0], [3.0, 3.1]])
    >>> LAL().query(None, pool, 1, X, [0, 0, 1, 1], random_state=0).shape
    (1,)
    """

    name: ClassVar[str] = "lal"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "regressor learned on simulated episodes predicts error reduction"
    reference: ClassVar[str] = "Konyushkova, Sznitman & Fua 2017 (NeurIPS)"

    def __init__(
        self, mode: str = "iterative", regressor: Any = None, n_estimators: int = 20
    ) -> None:
        self.mode = mode
        self.regressor = regressor
        self.n_estimators = n_estimators

    def _regressor(self) -> LALRegressor:
        if isinstance(self.regressor, LALRegressor):
            return self.regressor
        if self.regressor is not None:
            return LALRegressor.load(self.regressor)
        if self.mode not in _MODES:
            raise ValueError(f"{self.name}: mode must be one of {_MODES}; got {self.mode!r}.")
        return _shipped(self.mode)

    def predicted_reduction(
        self,
        model: Any,
        X_pool: Any,
        X_labeled: Any,
        y_labeled: Any,
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """The regressor's predicted error reduction for every pool item.

        Parameters
        ----------
        model : ModelAdapter, fitted estimator or None
            Provides ``embed``.
        X_pool, X_labeled, y_labeled
            As for :meth:`query`; the labeled set must not be empty.
        random_state : int, numpy.random.Generator or None
            Seeds the forest.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        rng = check_random_state(random_state)
        return self._reduction(self._adapter(model), X_pool, X_labeled, y_labeled, rng)

    def _reduction(self, model: ModelAdapter, X_pool, X_labeled, y_labeled, rng) -> np.ndarray:
        n_estimators = check_int(self.n_estimators, "n_estimators", self.name, 1)
        regressor = self._regressor()
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        if labeled is None:
            raise ValueError(
                f"{self.name} describes a forest fitted on the labeled set; pass a non-empty "
                "X_labeled and y_labeled."
            )
        if y_labeled is None:
            raise ValueError(
                f"{self.name} needs the labels of X_labeled; pass y_labeled: "
                "query(model, X_pool, k, X_labeled, y_labeled)."
            )
        y = check_labels(y_labeled, labeled.shape[0], name="y_labeled")
        if hasattr(pool, "toarray"):
            pool, labeled = pool.toarray(), labeled.toarray()
        forest = _fit_forest(labeled, y, n_estimators, int(rng.integers(2**31 - 1)))
        classes = forest.classes_
        positives = classes[1:2] if classes.shape[0] == 2 else classes
        total = np.zeros(pool.shape[0])
        for positive in positives:
            total += regressor.predict(lal_features(forest, pool, y, positive))
        return total / len(positives)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        from activelab._validation import n_rows

        if X_labeled is None or n_rows(X_labeled) == 0:
            self._regressor()  # still check the parameters
            return rng.permutation(n_rows(X_pool))[:k].astype(np.int64)
        reduction = self._reduction(model, X_pool, X_labeled, y_labeled, rng)
        return top_k(reduction, k, rng)
