"""Stream rules and budget managers take scikit-activeml 1.0.1's decisions, item by item.

Runs where scikit-activeml is installed (the benchmark environment)::

    .venv-bench/bin/python -m pytest tests/stream/test_skactiveml_parity.py

Both libraries see the same stream, one item at a time (``query`` then ``update`` for
scikit-activeml, ``select`` for activelab), and read the same fixed model. The random
rules and managers are handed scikit-activeml's own draws:

- scikit-activeml seeds a budget manager with ``RandomState(seed).randint(2**31 - 1)``
  (a query strategy's ``random_state`` seeds its manager), the random rule with
  ``RandomState(seed)`` itself;
- the split and random managers and the random rule take their uniforms in the order
  activelab does, so activelab gets a ``RandomState`` of the same seed;
- the randomised variable uncertainty managers (also behind DBALStream and CogDQS) draw
  item ``t``'s normal in ``query`` from a state they then roll back, and ``update``
  advances the state by one *uniform* per item: item ``t``'s multiplier is the first
  normal of the state after ``t`` uniforms. :class:`RolledBack` replays exactly those.

Where the definitions differ, the test says so and compares what can be compared (see
``docs/stream.md``, "Agreement with scikit-activeml").
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

skactiveml = pytest.importorskip("skactiveml")

from skactiveml.base import SkactivemlClassifier  # noqa: E402
from skactiveml.classifier import ParzenWindowClassifier  # noqa: E402
from skactiveml.stream import (  # noqa: E402
    CognitiveDualQueryStrategy,
    CognitiveDualQueryStrategyFixUn,
    CognitiveDualQueryStrategyRan,
    CognitiveDualQueryStrategyRanVarUn,
    CognitiveDualQueryStrategyVarUn,
    FixedUncertainty,
    PeriodicSampling,
    RandomVariableUncertainty,
    Split,
    StreamDensityBasedAL,
    StreamProbabilisticAL,
    StreamRandomSampling,
    VariableUncertainty,
)
from skactiveml.stream import budgetmanager as sk_managers  # noqa: E402

from activelab import stream  # noqa: E402

N_ITEMS = 3000
BUDGET = 0.1
SEED = 7
CLASSES = [0, 1]


def manager_seed(seed: int) -> int:
    """The seed scikit-activeml gives the budget manager of a strategy seeded ``seed``."""
    return int(np.random.RandomState(seed).randint(2**31 - 1))


class RolledBack:
    """Replays scikit-activeml's normals: item ``t``'s is the first normal drawn from
    ``RandomState(seed)`` advanced by ``t`` uniforms, ``t`` being the items the manager
    has seen (its ``n_seen_``)."""

    def __init__(self, seed: int, manager: stream.BudgetManager, n: int) -> None:
        state = np.random.RandomState(seed)
        self.gauss = np.empty(n)
        for t in range(n):
            saved = state.get_state()
            self.gauss[t] = state.standard_normal()
            state.set_state(saved)
            state.random_sample()
        self.manager = manager

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        return loc + scale * self.gauss[self.manager.n_seen_]


class FixedLogistic(SkactivemlClassifier):
    """A fitted logistic model as a scikit-activeml classifier, minus the per-call
    validation (a model both libraries read; 3,000 one-row calls stay fast)."""

    def __init__(self, coef=None, intercept=0.0, classes=None):
        super().__init__(classes=classes)
        self.coef = coef
        self.intercept = intercept

    def fit(self, X, y, sample_weight=None):
        return self

    def predict_proba(self, X):
        positive = 1.0 / (1.0 + np.exp(-(np.asarray(X) @ self.coef + self.intercept)))
        return np.column_stack([1.0 - positive, positive])


@pytest.fixture(scope="module")
def data():
    """A stream of 3,000 items and a fixed, moderately confident model of it."""
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(300, 2))
    y_train = (X_train[:, 0] + 0.5 * X_train[:, 1] + rng.normal(0, 0.8, 300) > 0).astype(int)
    X = rng.normal(size=(N_ITEMS, 2))
    fitted = LogisticRegression(C=0.1).fit(X_train, y_train)
    model = FixedLogistic(fitted.coef_[0], fitted.intercept_[0], classes=CLASSES)
    return {"X": X, "model": model, "X_train": X_train, "y_train": y_train}


def skactiveml_run(strategy, X, clf=None, biqf=False) -> tuple[np.ndarray, np.ndarray]:
    """Decisions and utilities of a scikit-activeml strategy, one item at a time."""
    decisions, utilities = np.zeros(len(X), dtype=bool), np.zeros(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CogDQS warns that force_full_budget is off
        for t, x in enumerate(X):
            candidate = x[None, :]
            if clf is None:
                queried, utility = strategy.query(candidate, return_utilities=True)
                strategy.update(candidate, queried)
            else:
                queried, utility = strategy.query(candidate, clf=clf, return_utilities=True)
                params = {"utilities": utility} if biqf else None
                strategy.update(candidate, queried, budget_manager_param_dict=params)
            decisions[t] = len(queried) > 0
            utilities[t] = utility[0]
    return decisions, utilities


def activelab_run(rule, manager, model, X, rule_rng=None, manager_rng=None) -> np.ndarray:
    """Decisions of an activelab rule and manager, one item at a time."""
    rule.reset(CLASSES, random_state=0)
    manager.reset(len(CLASSES), random_state=0)
    if rule_rng is not None:
        rule.rng_ = rule_rng
    if manager_rng is not None:
        manager.rng_ = manager_rng(manager)
    return np.array([rule.select(model, x[None, :], manager)[0] for x in X])


def assert_same(ours: np.ndarray, theirs: np.ndarray, least: int = 20) -> None:
    assert theirs.sum() >= least, f"only {theirs.sum()} queries: the comparison says little"
    differ = np.flatnonzero(ours != theirs)
    assert differ.size == 0, f"first differing decision at item {differ[0]} of {len(ours)}"


def same_seed(seed):
    return lambda manager: np.random.RandomState(seed)


def rolled_back(seed):
    return lambda manager: RolledBack(seed, manager, N_ITEMS)


# ----------------------------------------------------- the uncertainty rules


UNCERTAINTY = {
    # name: (scikit-activeml strategy, activelab manager draws)
    "fixed_uncertainty": (lambda: FixedUncertainty(CLASSES, budget=BUDGET), None),
    "variable_uncertainty": (lambda: VariableUncertainty(budget=BUDGET), None),
    "random_variable_uncertainty": (
        lambda: RandomVariableUncertainty(budget=BUDGET, random_state=SEED),
        rolled_back(manager_seed(SEED)),
    ),
    "split": (
        lambda: Split(budget=BUDGET, random_state=SEED),
        same_seed(manager_seed(SEED)),
    ),
}


@pytest.mark.parametrize("name", list(UNCERTAINTY))
def test_zliobaite_rules_decide_as_skactiveml(data, name):
    make, draws = UNCERTAINTY[name]
    theirs, their_utilities = skactiveml_run(make(), data["X"], data["model"])
    rule = stream.get(name)
    ours = activelab_run(
        rule, rule.default_budget_manager(BUDGET), data["model"], data["X"], manager_rng=draws
    )
    assert_same(ours, theirs)
    ours_utilities = rule.utilities(data["model"], data["X"])
    assert np.allclose(ours_utilities, their_utilities, rtol=0, atol=1e-15)  # 1 - max p


# --------------------------------------------------------------- baselines


def test_periodic_sampling_decides_as_skactiveml(data):
    theirs, _ = skactiveml_run(PeriodicSampling(budget=BUDGET), data["X"])
    rule = stream.get("periodic")
    ours = activelab_run(rule, rule.default_budget_manager(BUDGET), None, data["X"])
    assert_same(ours, theirs)


@pytest.mark.parametrize("allow_exceeding_budget", [True, False])
def test_random_sampling_decides_as_skactiveml_on_the_same_draws(data, allow_exceeding_budget):
    strategy = StreamRandomSampling(
        budget=BUDGET, allow_exceeding_budget=allow_exceeding_budget, random_state=SEED
    )
    theirs, _ = skactiveml_run(strategy, data["X"])
    rule = stream.get("random")
    manager = stream.CumulativeBudget(BUDGET, allow_exceeding_budget=allow_exceeding_budget)
    ours = activelab_run(rule, manager, None, data["X"], rule_rng=np.random.RandomState(SEED))
    assert_same(ours, theirs)


# ------------------------------------------------------- density-gated rules


def test_density_based_decides_as_skactiveml(data):
    strategy = StreamDensityBasedAL(budget=BUDGET, random_state=SEED)
    theirs, their_utilities = skactiveml_run(strategy, data["X"], data["model"])
    rule = stream.get("density_based")
    ours = activelab_run(
        rule,
        rule.default_budget_manager(BUDGET),
        data["model"],
        data["X"],
        manager_rng=rolled_back(manager_seed(SEED)),
    )
    assert_same(ours, theirs)
    # the margin utility, before the density gate
    assert np.allclose(rule.utilities(data["model"], data["X"]), their_utilities, atol=1e-15)


COGDQS = {
    "cogdqs": (lambda **kw: CognitiveDualQueryStrategy(**kw), rolled_back),
    "cogdqs_random_variable_uncertainty": (
        lambda **kw: CognitiveDualQueryStrategyRanVarUn(**kw),
        rolled_back,
    ),
    "cogdqs_random": (lambda **kw: CognitiveDualQueryStrategyRan(**kw), same_seed),
    "cogdqs_fixed_uncertainty": (
        lambda **kw: CognitiveDualQueryStrategyFixUn(CLASSES, **kw),
        None,
    ),
    "cogdqs_variable_uncertainty": (
        lambda **kw: CognitiveDualQueryStrategyVarUn(**kw),
        None,
    ),
}


@pytest.mark.parametrize("force_full_budget", [False, True])
@pytest.mark.parametrize("name", list(COGDQS))
def test_cogdqs_family_decides_as_skactiveml(data, name, force_full_budget):
    make, draws = COGDQS[name]
    strategy = make(budget=BUDGET, random_state=SEED, force_full_budget=force_full_budget)
    theirs, their_utilities = skactiveml_run(strategy, data["X"], data["model"])
    rule = stream.get(name, force_full_budget=force_full_budget)
    ours = activelab_run(
        rule,
        rule.default_budget_manager(BUDGET),
        data["model"],
        data["X"],
        manager_rng=None if draws is None else draws(manager_seed(SEED)),
    )
    assert_same(ours, theirs, least=10)
    ours_utilities = rule.utilities(data["model"], data["X"])
    assert np.allclose(ours_utilities, their_utilities, rtol=0, atol=1e-15)


# ------------------------------------------------------- probabilistic AL


def test_probabilistic_utilities_agree_and_the_filter_decides_as_skactiveml(data):
    X_train, y_train = data["X_train"], data["y_train"]
    parzen = ParzenWindowClassifier(classes=CLASSES).fit(X_train, y_train)
    theirs, their_utilities = skactiveml_run(
        StreamProbabilisticAL(budget=BUDGET), data["X"], parzen, biqf=True
    )
    rule = stream.StreamProbabilisticAL(window_size=len(y_train)).reset(CLASSES)
    rule.learn(X_train, y_train)
    ours_utilities = rule.utilities(None, data["X"])
    # the McPAL gains agree up to rounding (the two compute the kernel sums and the
    # expected-gain sums in different orders)
    assert np.allclose(ours_utilities, their_utilities, rtol=1e-9, atol=1e-12)
    # the balanced incremental quantile filter, fed scikit-activeml's gains, takes its
    # decisions exactly
    manager = stream.BalancedIncrementalQuantileFilter(BUDGET).reset()
    assert_same(manager.decide_many(their_utilities), theirs)
    # end to end, a gain that is zero up to rounding (an item deep in a well-labelled
    # region) may rank differently in the filter's window; the rest agrees
    manager = stream.BalancedIncrementalQuantileFilter(BUDGET).reset()
    ours = np.array([rule.select(None, x[None, :], manager)[0] for x in data["X"]])
    assert np.mean(ours == theirs) >= 0.95


# ------------------------------------------------ budget managers, alone


def utilities_with_gaps(n: int, seed: int) -> np.ndarray:
    """Least-confidence-like utilities in [0, 0.5], with some NaN (items ruled out)."""
    rng = np.random.default_rng(seed)
    values = 0.5 * rng.random(n) ** 2
    values[rng.random(n) < 0.1] = np.nan
    return values


def skactiveml_manager_run(manager, utilities, biqf=False) -> np.ndarray:
    decisions = np.zeros(len(utilities), dtype=bool)
    for t, utility in enumerate(utilities):
        queried = manager.query_by_utility(np.array([utility]))
        candidate = np.zeros((1, 1))
        if biqf:
            manager.update(candidate, queried, utilities=np.array([utility]))
        else:
            manager.update(candidate, queried)
        decisions[t] = len(queried) > 0
    return decisions


MANAGERS = {
    # name: (scikit-activeml manager, activelab manager, draws, NaN utilities allowed)
    "fixed_uncertainty": (
        lambda: sk_managers.FixedUncertaintyBudgetManager(CLASSES, w=50, budget=BUDGET),
        lambda: stream.FixedUncertaintyBudget(BUDGET, w=50),
        None,
    ),
    "variable_uncertainty": (
        lambda: sk_managers.VariableUncertaintyBudgetManager(s=0.05, w=50, budget=BUDGET),
        lambda: stream.VariableUncertaintyBudget(BUDGET, w=50, s=0.05),
        None,
    ),
    "random_variable_uncertainty": (
        lambda: sk_managers.RandomVariableUncertaintyBudgetManager(
            delta=0.5, random_state=SEED, budget=BUDGET
        ),
        lambda: stream.RandomVariableUncertaintyBudget(BUDGET, delta=0.5),
        rolled_back(SEED),
    ),
    "split": (
        lambda: sk_managers.SplitBudgetManager(v=0.3, random_state=SEED, budget=BUDGET),
        lambda: stream.SplitBudget(BUDGET, v=0.3),
        same_seed(SEED),
    ),
    "random": (
        lambda: sk_managers.RandomBudgetManager(random_state=SEED, budget=BUDGET),
        lambda: stream.RandomBudget(BUDGET),
        same_seed(SEED),
    ),
    "density_based_split": (
        lambda: sk_managers.DensityBasedSplitBudgetManager(random_state=SEED, budget=BUDGET),
        lambda: stream.DensityBasedSplitBudget(BUDGET),
        rolled_back(SEED),
    ),
    "biqf": (
        lambda: sk_managers.BalancedIncrementalQuantileFilter(w=80, w_tol=30, budget=BUDGET),
        lambda: stream.BalancedIncrementalQuantileFilter(BUDGET, w=80, w_tol=30),
        None,
    ),
}


@pytest.mark.parametrize("name", list(MANAGERS))
def test_budget_managers_decide_as_skactiveml_on_the_same_utilities(name):
    make_theirs, make_ours, draws = MANAGERS[name]
    # NaN utilities (an item a density rule ruled out), except for BIQF: one NaN in its
    # window stops every query for a whole window, in both libraries
    nan = name != "biqf"
    for seed in range(3):
        utilities = utilities_with_gaps(N_ITEMS, seed)
        if not nan:
            utilities = np.nan_to_num(utilities, nan=0.25)
        theirs = skactiveml_manager_run(make_theirs(), utilities, biqf=name == "biqf")
        manager = make_ours().reset(len(CLASSES), random_state=0)
        if draws is not None:
            manager.rng_ = draws(manager)
        ours = np.array([manager.decide(u) for u in utilities])
        assert_same(ours, theirs)
