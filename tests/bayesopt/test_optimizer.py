"""The loop: minimize and ask/tell, on Branin, a candidate library and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.bayesopt import (
    BRANIN,
    BayesianOptimizer,
    BayesOptResult,
    Box,
    CandidateLibrary,
    minimize,
)

BUDGET = 24
BATCH = 4


@pytest.fixture(scope="module")
def random_search_median():
    """Median best Branin value of uniform random search with the same budget, 31 seeds."""
    box = Box(BRANIN.bounds)
    bests = [
        BRANIN(box.from_unit(np.random.default_rng(seed).random((BUDGET, 2)))).min()
        for seed in range(31)
    ]
    return float(np.median(bests))


@pytest.mark.parametrize(
    ("acquisition", "batch"),
    [
        ("ei", "kriging_believer"),
        ("ei", "local_penalization"),
        ("ei", "qei"),
        ("thompson", None),
        ("ucb", "kriging_believer"),
        ("pi", "kriging_believer"),
    ],
)
def test_batch_methods_beat_random_search_on_branin(acquisition, batch, random_search_median):
    regrets = []
    for seed in range(3):
        result = minimize(
            BRANIN,
            BRANIN.bounds,
            budget=BUDGET,
            batch_size=BATCH,
            acquisition=acquisition,
            batch=batch,
            n_candidates=256,
            random_state=seed,
        )
        assert result.n_evaluations == BUDGET
        regrets.append(result.simple_regret(BRANIN.minimum)[-1])
        # each batch holds distinct points
        for b in np.unique(result.batch):
            X = result.X[result.batch == b]
            distances = np.linalg.norm(X[:, None] - X[None, :], axis=2) + np.eye(len(X))
            assert distances.min() > 1e-9
    assert np.median(regrets) < random_search_median - BRANIN.minimum


def test_result_history_and_helpers():
    result = minimize(BRANIN, BRANIN.bounds, budget=13, batch_size=3, initial=4, random_state=1)
    assert isinstance(result, BayesOptResult)
    assert result.X.shape == (13, 2) and result.y.shape == (13,)
    np.testing.assert_array_equal(result.batch, [0] * 4 + [1] * 3 + [2] * 3 + [3] * 3)
    np.testing.assert_allclose(result.y, BRANIN(result.X))
    assert result.best_y == result.y.min()
    np.testing.assert_array_equal(result.best_x, result.X[np.argmin(result.y)])
    so_far = result.best_so_far()
    assert (np.diff(so_far) <= 0).all() and so_far[-1] == result.best_y
    np.testing.assert_allclose(result.simple_regret(BRANIN.minimum), so_far - BRANIN.minimum)
    np.testing.assert_allclose(result.best_per_batch(), so_far[[3, 6, 9, 12]])
    assert len(result.seconds) == 4
    assert result.index is None
    low, high = np.array(BRANIN.bounds).T
    assert ((result.X >= low) & (result.X <= high)).all()
    with pytest.raises(ValueError, match="optimum"):
        result.simple_regret(float("nan"))


def test_same_seed_same_history():
    runs = [
        minimize(BRANIN, BRANIN.bounds, budget=10, batch_size=2, random_state=7) for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].X, runs[1].X)


def test_the_last_batch_is_cut_to_the_budget():
    result = minimize(BRANIN, BRANIN.bounds, budget=11, batch_size=4, initial=4, random_state=0)
    assert result.n_evaluations == 11
    assert (result.batch == 2).sum() == 3


def test_a_per_point_function_with_vectorized_false():
    calls = []

    def one_point(x):
        assert x.shape == (2,)
        calls.append(x)
        return float(BRANIN(x)[0])

    result = minimize(
        one_point, BRANIN.bounds, budget=9, batch_size=3, vectorized=False, random_state=0
    )
    assert len(calls) == 9
    np.testing.assert_allclose(result.y, BRANIN(result.X))


def test_initial_points_are_evaluated_first():
    initial = np.array([[0.0, 5.0], [5.0, 5.0], [-2.0, 10.0]])
    result = minimize(BRANIN, BRANIN.bounds, budget=5, initial=initial, random_state=0)
    np.testing.assert_array_equal(result.X[:3], initial)


@pytest.fixture(scope="module")
def library():
    rng = np.random.default_rng(0)
    X = rng.random((150, 3))
    values = ((X - 0.6) ** 2).sum(axis=1) + 0.3 * np.sin(8 * X[:, 0])
    return X, values


@pytest.mark.parametrize("batch", ["kriging_believer", "local_penalization", "qei", "thompson"])
def test_library_search_never_repeats_and_finds_good_candidates(library, batch):
    X, values = library
    acquisition = "thompson" if batch == "thompson" else "ei"
    result = minimize(
        lambda idx: values[idx],
        CandidateLibrary(X),
        budget=40,
        batch_size=8,
        acquisition=acquisition,
        batch=batch,
        pass_indices=True,
        random_state=0,
    )
    assert len(set(result.index.tolist())) == 40
    np.testing.assert_array_equal(result.X, X[result.index])
    np.testing.assert_allclose(result.y, values[result.index])
    # random search with 40 of 150 finds a top-3 candidate with probability ~0.6; BO does
    assert result.best_y <= np.sort(values)[2]


def test_library_as_a_plain_array_and_rows_as_input(library):
    X, values = library
    lookup = {row.tobytes(): v for row, v in zip(X, values, strict=True)}
    result = minimize(
        lambda rows: np.array([lookup[r.tobytes()] for r in rows]),
        X,
        budget=20,
        batch_size=5,
        random_state=1,
    )
    assert len(set(result.index.tolist())) == 20


def test_a_whole_library_can_be_evaluated():
    X = np.arange(12.0)[:, None]
    result = minimize(lambda rows: (rows[:, 0] - 7) ** 2, X, budget=12, batch_size=5, initial=2)
    assert sorted(result.index.tolist()) == list(range(12))


def test_ask_tell_by_hand():
    optimizer = BayesianOptimizer(BRANIN.bounds, batch_size=3, initial=5, random_state=0)
    X = optimizer.ask()
    assert X.shape == (5, 2) and optimizer.n_initial == 5
    optimizer.tell(X, BRANIN(X))
    X = optimizer.ask()
    assert X.shape == (3, 2)
    optimizer.tell(X, BRANIN(X))
    result = optimizer.result()
    assert result.n_evaluations == 8 and result.batch.max() == 1


def test_library_ask_tell_matches_rows_and_refuses_repeats(library):
    X, values = library
    optimizer = BayesianOptimizer(CandidateLibrary(X), batch_size=4, initial=4, random_state=0)
    first = optimizer.ask()
    indices = optimizer.last_indices_.copy()
    optimizer.tell(first[::-1], values[indices[::-1]])  # any order: matched by row
    np.testing.assert_array_equal(np.sort(optimizer.index_), np.sort(indices))
    with pytest.raises(ValueError, match="already told"):
        optimizer.tell(first[:1], values[indices[:1]])
    with pytest.raises(ValueError, match="not a row"):
        optimizer.tell(np.full((1, 3), 9.0), [1.0])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"space": [(0, 1, 2)]}, ValueError, r"shape \(d, 2\)"),
        ({"space": [(1, 0), (0, 1)]}, ValueError, "low < high"),
        ({"space": [(0, np.inf)]}, ValueError, "finite"),
        ({"space": [("a", "b")]}, ValueError, "numbers"),
        ({"space": "box"}, TypeError, "space must be"),
        ({"budget": 5, "batch_size": 8}, ValueError, "smaller than the initial design"),
        ({"budget": 0}, ValueError, "budget"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"acquisition": "ucb", "batch": "qei"}, ValueError, "batch form of expected"),
        ({"acquisition": "pi", "batch": "thompson"}, ValueError, "Thompson"),
        ({"acquisition": "kg"}, ValueError, "acquisition must be"),
        ({"batch": "constant_liar"}, ValueError, "batch must be"),
        ({"xi": -1.0}, ValueError, "xi"),
        ({"initial": np.array([[20.0, 0.0]])}, ValueError, "outside"),
        ({"initial": np.zeros((2, 3))}, ValueError, "initial"),
        ({"pass_indices": True}, ValueError, "needs a candidate library"),
    ],
)
def test_bad_input_is_explained(kwargs, error, message):
    arguments = {"space": BRANIN.bounds, "budget": 10, "random_state": 0, **kwargs}
    space = arguments.pop("space")
    with pytest.raises(error, match=message):
        minimize(BRANIN, space, **arguments)


def test_nan_from_the_objective_names_the_point_and_batch():
    def broken(X):
        values = BRANIN(X)
        values[1] = np.nan
        return values

    with pytest.raises(ValueError, match=r"returned nan for 1 of 6 points in batch 0.*point 1"):
        minimize(broken, BRANIN.bounds, budget=10, random_state=0)


def test_wrong_output_shape_suggests_vectorized_false():
    with pytest.raises(ValueError, match="vectorized=False"):
        minimize(lambda X: float(np.sum(X)), BRANIN.bounds, budget=10, random_state=0)


def test_library_errors(library):
    X, values = library
    with pytest.raises(ValueError, match="larger than the candidate library"):
        minimize(lambda i: values[i], X, budget=151, pass_indices=True)
    with pytest.raises(ValueError, match="larger than the candidate library"):
        BayesianOptimizer(CandidateLibrary(X[:3]), batch_size=4)
    with pytest.raises(ValueError, match="shape"):
        CandidateLibrary(np.arange(5.0))
    with pytest.raises(ValueError, match="row 2"):
        CandidateLibrary(np.array([[0.0], [1.0], [np.nan]]))


def test_a_custom_kernel_and_a_per_point_library_objective(library):
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel

    from activelab.bayesopt import GPSurrogate

    surrogate = GPSurrogate(kernel=ConstantKernel() * RBF([0.3, 0.3]), random_state=0)
    result = minimize(BRANIN, BRANIN.bounds, budget=10, batch_size=2, surrogate=surrogate)
    assert result.n_evaluations == 10
    assert isinstance(surrogate.kernel_.k2, RBF)
    X, values = library
    seen = []

    def one(index):
        seen.append(int(index))
        return float(values[index])

    minimize(one, X, budget=8, batch_size=4, vectorized=False, pass_indices=True, random_state=0)
    assert len(set(seen)) == 8


def test_a_batch_larger_than_the_candidate_set_still_gets_distinct_points():
    optimizer = BayesianOptimizer(
        BRANIN.bounds, batch_size=40, initial=6, n_candidates=16, acquisition="thompson"
    )
    X = optimizer.ask()
    optimizer.tell(X, BRANIN(X))
    X = optimizer.ask()
    assert X.shape == (40, 2)
    assert len({tuple(row) for row in X.round(12)}) == 40
