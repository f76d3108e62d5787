"""BatchBALD: the greedy selector against a brute-force reference, and the strategy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from activelab import _batchbald, scores
from activelab._batchbald import _joint_entropy, _joint_gains, batchbald_greedy
from activelab.models import wrap
from activelab.strategies._batchbald import BatchBALD

# ------------------------------------------------------------------ plain reference


def entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def joint_mutual_information(samples: np.ndarray, subset) -> float:
    """I(y_subset; omega) by enumerating every label configuration (float64)."""
    subset = list(subset)
    if not subset:
        return 0.0
    n_classes = samples.shape[2]
    joint = 0.0
    for labels in itertools.product(range(n_classes), repeat=len(subset)):
        per_member = np.ones(samples.shape[0])
        for item, label in zip(subset, labels, strict=True):
            per_member = per_member * samples[:, item, label]
        p = per_member.mean()
        if p > 0:
            joint -= p * math.log(p)
    conditional = sum(
        np.mean([entropy(samples[j, item]) for j in range(samples.shape[0])]) for item in subset
    )
    return joint - conditional


def reference_gains(samples: np.ndarray, chosen) -> np.ndarray:
    """Marginal gain of every item given ``chosen`` (-inf for the chosen ones)."""
    base = joint_mutual_information(samples, chosen)
    gains = np.full(samples.shape[1], -np.inf)
    for item in range(samples.shape[1]):
        if item not in chosen:
            gains[item] = joint_mutual_information(samples, [*chosen, item]) - base
    return gains


def random_samples(m: int, n: int, n_classes: int, seed: int, spread: float = 3.0):
    """Posterior draws around a random mean per item; ``spread`` sets the disagreement."""
    rng = np.random.default_rng(seed)
    mean = rng.dirichlet(np.ones(n_classes), size=n)
    draws = rng.gamma(mean[None] * spread + 0.05, size=(m, n, n_classes))
    return draws / draws.sum(axis=2, keepdims=True)


def with_hard_zeros(samples: np.ndarray, seed: int) -> np.ndarray:
    """Zero out some entries (as forest members do) and renormalise."""
    rng = np.random.default_rng(seed)
    kept = samples * (rng.random(samples.shape) > 0.4)
    empty = kept.sum(axis=2) == 0
    kept[empty, 0] = 1.0
    return kept / kept.sum(axis=2, keepdims=True)


# -------------------------------------------------------------------------- k = 1


@pytest.mark.parametrize("seed", range(5))
def test_k1_is_the_bald_argmax(seed):
    samples = random_samples(7, 60, 4, seed)
    assert batchbald_greedy(samples, 1, random_state=seed).tolist() == [
        int(np.argmax(scores.bald(samples)))
    ]


def test_k1_breaks_bald_ties_at_random():
    samples = random_samples(5, 10, 3, 0)
    best = int(np.argmax(scores.bald(samples)))
    samples = np.concatenate([samples, samples[:, [best]]], axis=1)  # item 10 copies best
    firsts = {int(batchbald_greedy(samples, 1, random_state=seed)[0]) for seed in range(30)}
    assert firsts == {best, 10}


# ------------------------------------------------------------------- exact path


@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_each_pick_maximises_the_marginal_gain(seed, zeros):
    samples = random_samples(5, 9, 3, seed)
    if zeros:
        samples = with_hard_zeros(samples, seed)
    picks = batchbald_greedy(samples, 5, random_state=seed).tolist()
    for step in range(1, 5):
        gains = reference_gains(samples, picks[:step])
        assert gains[picks[step]] >= gains.max() - 1e-6, (step, picks, gains)


@pytest.mark.parametrize("seed", range(3))
def test_greedy_batch_is_within_1_minus_1_over_e_of_the_best_batch(seed):
    samples = random_samples(4, 8, 3, seed)
    picks = batchbald_greedy(samples, 4, random_state=seed)
    best = max(
        joint_mutual_information(samples, subset) for subset in itertools.combinations(range(8), 4)
    )
    assert joint_mutual_information(samples, picks) >= (1 - 1 / math.e) * best


@pytest.mark.parametrize("zeros", [False, True])
def test_exact_gains_equal_the_reference(zeros):
    samples = random_samples(6, 10, 3, 1)
    if zeros:
        samples = with_hard_zeros(samples, 1)
    chosen = [2, 5, 7]
    expected = reference_gains(samples, chosen)
    candidates = np.array([i for i in range(10) if i not in chosen])
    np.testing.assert_allclose(
        _joint_gains(samples, chosen, candidates), expected[candidates], atol=2e-6
    )


def test_exact_joint_entropy_equals_the_reference():
    samples = random_samples(6, 10, 3, 2)
    points = [0, 3, 4, 9]
    conditional = sum(np.mean([entropy(samples[j, i]) for j in range(6)]) for i in points)
    assert _joint_entropy(samples, points) == pytest.approx(
        joint_mutual_information(samples, points) + conditional, abs=1e-9
    )


def eager_greedy(samples: np.ndarray, k: int) -> list[int]:
    """Greedy with every candidate's exact gain at every step (no bounds, no laziness)."""
    picks = [int(np.argmax(scores.bald(samples)))]
    while len(picks) < k:
        candidates = np.array([i for i in range(samples.shape[1]) if i not in picks])
        gains = _joint_gains(samples, picks, candidates)
        picks.append(int(candidates[np.argmax(gains)]))
    return picks


def test_lazy_bounds_give_the_eager_greedy_picks():
    # 4**5 configurations: the last picks use coarse tables and stale bounds.
    samples = random_samples(8, 400, 4, 3)
    assert batchbald_greedy(samples, 6, random_state=0).tolist() == eager_greedy(samples, 6)


def test_lazy_picks_maximise_the_gain_among_all_candidates():
    # Hard zeros make the last gains tiny and close: check each pick against every gain.
    samples = with_hard_zeros(random_samples(8, 400, 4, 3), 3)
    picks = batchbald_greedy(samples, 6, random_state=0).tolist()
    for step in range(1, 6):
        candidates = np.array([i for i in range(400) if i not in picks[:step]])
        gains = _joint_gains(samples, picks[:step], candidates)
        chosen = gains[candidates == picks[step]][0]
        assert chosen >= gains.max() - _batchbald.TIE_TOLERANCE


@pytest.mark.parametrize("n_joint_samples", [None, 3000])
def test_coarse_tables_bound_the_gains_from_above(n_joint_samples):
    samples = random_samples(8, 200, 4, 4)
    chosen = [0, 1, 2, 3, 4]
    candidates = np.arange(5, 200)
    full = _joint_gains(samples, chosen, candidates, n_joint_samples, random_state=0)
    n_tables = len(_batchbald._joint(samples, chosen, n_joint_samples, 0).tables())
    assert n_tables >= 2  # at least one coarse table
    for level in range(n_tables - 1):
        coarse = _joint_gains(samples, chosen, candidates, n_joint_samples, 0, level=level)
        assert (coarse >= full - 1e-5).all()


def test_hard_zeros_keep_the_exact_path_beyond_the_budget(monkeypatch):
    # Certain members: only m configurations have non-zero probability, never C**b.
    rng = np.random.default_rng(0)
    samples = np.eye(3)[rng.integers(0, 3, size=(4, 12))]  # (m=4, n=12, C=3), one-hot

    def refuse(*args, **kwargs):
        raise AssertionError("sampled although the exact support fits")

    monkeypatch.setattr(_batchbald._SampledJoint, "__init__", refuse)
    picks = batchbald_greedy(samples, 6, n_joint_samples=5, random_state=0)
    assert np.unique(picks).shape[0] == 6


# --------------------------------------------------------------- Monte Carlo path


def test_sampled_joint_entropy_approximates_the_exact_one():
    samples = random_samples(10, 8, 3, 5)
    points = [0, 1, 2, 3, 4, 5]  # 3**6 = 729 configurations
    exact = _joint_entropy(samples, points)
    for seed in range(3):
        assert _joint_entropy(samples, points, 20_000, seed) == pytest.approx(exact, abs=0.03)
    # A number of draws that m does not divide: still unbiased (the proposal is reweighted).
    mean = np.mean([_joint_entropy(samples, points, 997, seed) for seed in range(40)])
    assert mean == pytest.approx(exact, abs=0.02)


def test_sampled_gains_approximate_the_exact_gains():
    samples = random_samples(10, 30, 3, 6)
    chosen = [0, 1, 2, 3, 4, 5]
    candidates = np.arange(6, 30)
    exact = _joint_gains(samples, chosen, candidates)
    sampled = _joint_gains(samples, chosen, candidates, 20_000, random_state=0)
    np.testing.assert_allclose(sampled, exact, atol=0.02)


def test_sampled_path_batch_is_nearly_as_informative_as_the_exact_one():
    samples = random_samples(6, 12, 3, 7)
    exact = batchbald_greedy(samples, 5, n_joint_samples=10_000, random_state=0)
    sampled = batchbald_greedy(samples, 5, n_joint_samples=20, random_state=0)  # 3**3 > 20
    assert np.unique(sampled).shape[0] == 5
    assert (
        joint_mutual_information(samples, sampled)
        >= joint_mutual_information(samples, exact) - 0.05
    )


def test_sampled_path_laziness_does_not_change_the_picks(monkeypatch):
    # 4**6 > 2000: picks 7 to 9 sample 2000 configurations, with coarse tables.
    samples = random_samples(8, 300, 4, 8)
    assert len(_batchbald._joint(samples, list(range(6)), 2000, 0).tables()) >= 2
    lazy = batchbald_greedy(samples, 9, n_joint_samples=2000, random_state=1)
    monkeypatch.setattr(_batchbald, "_coarse_tables", lambda *args: [])
    assert batchbald_greedy(samples, 9, n_joint_samples=2000, random_state=1).tolist() == (
        lazy.tolist()
    )


# ------------------------------------------------------------------- duplicates


@pytest.mark.parametrize("k", [3, 8])
def test_pool_of_exact_duplicates_gives_k_unique_indices(k):
    samples = np.repeat(random_samples(5, 1, 3, 9), 8, axis=1)
    picks = batchbald_greedy(samples, k, random_state=0)
    assert sorted(set(picks.tolist())) == sorted(picks.tolist()) and len(picks) == k


def test_a_copy_of_a_certain_pick_adds_nothing():
    # Members certain of their labels: after one copy, the other copy's gain is zero, so
    # any item with positive gain comes first.
    rng = np.random.default_rng(10)
    samples = np.eye(3)[rng.integers(0, 3, size=(6, 10))]
    best = int(np.argmax(scores.bald(samples)))
    samples = np.concatenate([samples, samples[:, [best]]], axis=1)  # item 10 copies best
    for seed in range(5):
        picks = batchbald_greedy(samples, 2, random_state=seed).tolist()
        first_copy, other_copy = picks[0], ({best, 10} - {picks[0]}).pop()
        assert first_copy in (best, 10)
        assert picks[1] != other_copy
        gains = reference_gains(samples, picks[:1])
        assert abs(gains[other_copy]) < 1e-12 < gains[picks[1]]


def test_a_noisy_copy_comes_after_an_item_that_adds_more():
    # Noisy members: a copy is a second label and adds I(y'; w | y) > 0 (as in the paper);
    # an independent item that adds more is picked before it.
    samples = random_samples(6, 10, 3, 11, spread=1.0)
    best = int(np.argmax(scores.bald(samples)))
    samples = np.concatenate([samples, samples[:, [best]]], axis=1)
    picks = batchbald_greedy(samples, 2, random_state=0).tolist()
    gains = reference_gains(samples, picks[:1])
    other_copy = ({best, 10} - {picks[0]}).pop()
    assert 0 < gains[other_copy] < gains.max()
    assert picks[1] != other_copy


def test_one_member_has_no_information_and_still_gives_k_unique_indices():
    samples = random_samples(1, 12, 3, 16)
    picks = batchbald_greedy(samples, 5, random_state=0)
    assert np.unique(picks).shape[0] == 5


@pytest.mark.parametrize("n_joint_samples", [10_000, 7])
def test_k_equal_to_the_pool(n_joint_samples):
    samples = random_samples(4, 9, 3, 12)
    picks = batchbald_greedy(samples, 9, n_joint_samples, random_state=0)
    assert sorted(picks.tolist()) == list(range(9))


# ------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.full((4, 3), 0.25), "shape"),
        (np.full((2, 3, 2), 0.7), "sums to"),
        (np.array([[[np.nan, 1.0]], [[0.5, 0.5]]]), "NaN"),
        (np.array([[[-0.1, 1.1]], [[0.5, 0.5]]]), "negative"),
        (np.zeros((2, 3, 1)), "2 classes"),
    ],
)
def test_bad_samples_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        batchbald_greedy(bad, 1)


def test_bad_k_and_n_joint_samples_are_clear_errors():
    samples = random_samples(3, 5, 2, 0)
    with pytest.raises(ValueError, match="larger than the pool"):
        batchbald_greedy(samples, 6)
    with pytest.raises(ValueError, match="at least 1"):
        batchbald_greedy(samples, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        batchbald_greedy(samples, 2.0)
    with pytest.raises(ValueError, match="n_joint_samples must be at least 1"):
        batchbald_greedy(samples, 2, n_joint_samples=0)
    for bad in (True, 2.5, "many"):
        with pytest.raises(TypeError, match="n_joint_samples must be an int"):
            batchbald_greedy(samples, 2, n_joint_samples=bad)


# -------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("n_joint_samples", [10_000, 30])
def test_same_seed_same_batch(n_joint_samples):
    samples = random_samples(6, 40, 3, 13)
    first = batchbald_greedy(samples, 6, n_joint_samples, random_state=5)
    again = batchbald_greedy(samples, 6, n_joint_samples, random_state=5)
    generator = batchbald_greedy(samples, 6, n_joint_samples, np.random.default_rng(5))
    assert first.dtype == np.int64
    assert first.tolist() == again.tolist() == generator.tolist()


def test_float32_input_gives_the_same_batch():
    samples = random_samples(6, 50, 4, 14)
    assert (
        batchbald_greedy(samples, 5, random_state=0).tolist()
        == batchbald_greedy(samples.astype(np.float32), 5, random_state=0).tolist()
    )


def test_thread_count_does_not_change_the_batch(monkeypatch):
    # Sampled from the third pick: every candidate is scored on a table, on threads.
    samples = random_samples(10, 3000, 10, 15)
    monkeypatch.setenv("ACTIVELAB_NUM_THREADS", "1")
    one = batchbald_greedy(samples, 5, n_joint_samples=60, random_state=0)
    split = []
    original = _batchbald._map
    monkeypatch.setattr(
        _batchbald, "_map", lambda fn, items: split.append(len(items)) or original(fn, items)
    )
    monkeypatch.setenv("ACTIVELAB_NUM_THREADS", "2")
    two = batchbald_greedy(samples, 5, n_joint_samples=60, random_state=0)
    assert max(split) > 1
    assert two.tolist() == one.tolist()


# --------------------------------------------------------------------- strategy


@pytest.fixture(scope="module")
def forest_and_pool(iris):
    X, y = iris
    forest = RandomForestClassifier(n_estimators=10, max_depth=3, random_state=0)
    return forest.fit(X[::5], y[::5]), X[1::3]


def test_strategy_calls_the_selector_on_the_members(forest_and_pool):
    forest, pool = forest_and_pool
    picks = BatchBALD(n_joint_samples=500).query(forest, pool, 6, random_state=3)
    members = wrap(forest).sample_proba(pool)
    assert picks.tolist() == batchbald_greedy(members, 6, 500, random_state=3).tolist()


def test_strategy_metadata_and_missing_capability(iris):
    strategy = BatchBALD()
    assert strategy.name == "batchbald" and strategy.needs == ("sample_proba",)
    assert strategy.get_params() == {"n_joint_samples": 10_000}
    X, y = iris
    with pytest.raises(TypeError, match="sample_proba"):
        strategy.query(LogisticRegression(max_iter=300).fit(X, y), X[:5], 2)
