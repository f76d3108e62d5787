"""Representative strategies: k-means, TypiClust, ProbCover, MaxHerding and cold_start.

Each is checked against a plain reference written here (dense distances, loops) on tiny
inputs, on well separated blobs (one pick per blob, and none from a blob the labeled set
already covers), on exact duplicates, for reproducibility, and with tiny distance
blocks so that the blocked code paths run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from activelab import _distances
from activelab.strategies import KMeansSampling, MaxHerding, ProbCover, TypiClust
from activelab.strategies import _probcover as probcover
from activelab.strategies import _typiclust as typiclust
from activelab.strategies._representative import cold_start

STRATEGIES = {
    "kmeans": KMeansSampling,
    "typiclust": TypiClust,
    "probcover": ProbCover,
    "maxherding": MaxHerding,
}
CENTERS = np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 0.0], [0.0, 40.0, 0.0]])


def blobs(per_blob: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian blobs (unit spread, centres 40 apart)."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + rng.normal(size=(per_blob, 3)) for c in CENTERS])
    return X, np.repeat(np.arange(3), per_blob)


def pairwise_sq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Plain reference: squared distances by explicit differences, float64."""
    return ((A[:, None, :].astype(np.float64) - B[None, :, :]) ** 2).sum(axis=2)


def assert_valid(picks: np.ndarray, k: int, n: int) -> None:
    assert picks.dtype == np.int64
    assert picks.shape == (k,)
    assert np.unique(picks).shape == (k,)
    assert 0 <= picks.min() and picks.max() < n


@pytest.fixture
def small_blocks(monkeypatch):
    """Distance blocks of 2 KiB, so every blocked loop runs many times."""
    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 2048)


# ---------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------


def reference_typicality(X: np.ndarray, n_neighbors: int) -> np.ndarray:
    m = X.shape[0]
    neighbors = max(1, min(n_neighbors, m // 2))
    distances = np.sqrt(pairwise_sq(X, X))
    values = []
    for i in range(m):
        others = np.sort(np.delete(distances[i], i))
        values.append(1.0 / others[:neighbors].mean())
    return np.array(values)


def reference_cover_gains(X, picks, delta, X_labeled=None):
    """Per step: the coverage gain of the pick and the best gain any item had."""
    close = pairwise_sq(X, X) < delta**2
    covered = np.zeros(X.shape[0], dtype=bool)
    if X_labeled is not None:
        covered = (pairwise_sq(X_labeled, X) < delta**2).any(axis=0)
    steps = []
    chosen = np.zeros(X.shape[0], dtype=bool)
    for pick in picks:
        gains = (close & ~covered[None, :]).sum(axis=1)
        steps.append((gains[pick], gains[~chosen].max()))
        covered |= close[pick]
        chosen[pick] = True
    return steps


def reference_herding_gains(X, picks, gamma, X_labeled=None):
    """Per step: the generalized-coverage gain of the pick and the best gain of any item."""
    kernel = np.exp(-gamma * pairwise_sq(X, X))
    coverage = np.zeros(X.shape[0])
    if X_labeled is not None:
        coverage = np.exp(-gamma * pairwise_sq(X, X_labeled)).max(axis=1)
    steps = []
    for step, pick in enumerate(picks):
        gains = np.maximum(kernel - coverage[:, None], 0).sum(axis=0)
        gains[picks[:step]] = -np.inf
        steps.append((gains[pick], gains.max()))
        coverage = np.maximum(coverage, kernel[:, pick])
    return steps


def assert_greedy_herding(X, picks, gamma, X_labeled=None):
    """Every pick has the largest gain (ties, which happen by symmetry, may go either way)."""
    for gain, best in reference_herding_gains(X, list(picks), gamma, X_labeled):
        assert gain == pytest.approx(best, rel=1e-5, abs=1e-6)


def reference_purity_delta(X, labels, alpha):
    """Brute force: the largest pairwise distance at which the δ-ball purity is ≥ alpha."""
    distances = np.sqrt(pairwise_sq(X, X))
    best = 0.0
    for delta in np.unique(distances[distances > 0]):
        inside = distances < delta
        pure = ~(inside & (labels[:, None] != labels[None, :])).any(axis=1)
        if pure.mean() >= alpha:
            best = max(best, delta)
    return best


# ---------------------------------------------------------------------------------------
# Against the references
# ---------------------------------------------------------------------------------------


def test_typicality_matches_the_reference():
    X = np.random.default_rng(1).normal(size=(37, 4))
    for n_neighbors in (1, 5, 20):
        np.testing.assert_allclose(
            typiclust._typicality(X.astype(np.float32), n_neighbors),
            reference_typicality(X.astype(np.float32), n_neighbors),
            rtol=1e-5,
        )


def test_typiclust_with_one_cluster_takes_the_most_typical_item(small_blocks):
    X = np.random.default_rng(2).normal(size=(50, 3))
    pick = TypiClust().query(None, X, 1, random_state=0)
    assert pick.tolist() == [int(np.argmax(reference_typicality(X, 20)))]


def test_typiclust_takes_the_most_typical_item_of_each_cluster():
    X, blob = blobs(per_blob=25)
    picks = TypiClust(n_neighbors=5).query(None, X, 3, random_state=0)
    assert sorted(blob[picks].tolist()) == [0, 1, 2]
    for pick in picks:
        members = np.flatnonzero(blob == blob[pick])
        typicality = reference_typicality(X[members], 5)
        assert pick == members[np.argmax(typicality)]


@pytest.mark.parametrize("delta", [0.6, 1.0, 1.7])
@pytest.mark.parametrize("with_labels", [False, True])
def test_probcover_is_a_greedy_cover(delta, with_labels, small_blocks):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2))
    X_labeled = rng.normal(size=(4, 2)) if with_labels else None
    picks = ProbCover(delta=delta).query(None, X, 15, X_labeled, random_state=0)
    assert_valid(picks, 15, 60)
    for gain, best in reference_cover_gains(X, picks, delta, X_labeled):
        assert gain == best


def test_probcover_purity_delta_matches_brute_force():
    rng = np.random.default_rng(4)
    X = np.concatenate([rng.normal(size=(25, 2)), rng.normal(2.5, 1, size=(25, 2))])
    labels = np.repeat([0, 1], 25)
    Z = (X - X.mean(axis=0)).astype(np.float32)
    for alpha in (0.5, 0.8, 0.95):
        ours = probcover._purity_delta(Z, labels, alpha)
        assert ours == pytest.approx(reference_purity_delta(Z, labels, alpha), rel=1e-5)


def test_probcover_default_delta_uses_the_labels_classes():
    X, _ = blobs()
    labels = np.array(["a", "b", "c"])
    delta = ProbCover()._delta(X.astype(np.float32), None, labels, np.random.default_rng(0))
    assert 5 < delta < 60  # pure balls: larger than a blob, smaller than the gap
    same = np.zeros((5, 2), np.float32)
    assert math.isinf(ProbCover()._delta(same, None, None, np.random.default_rng(0)))


@pytest.mark.parametrize("with_labels", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
def test_maxherding_matches_the_dense_reference(with_labels, normalize, small_blocks):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 3)) + 2.0
    X_labeled = rng.normal(size=(3, 3)) + 2.0 if with_labels else None
    picks = MaxHerding(gamma=0.7, normalize=normalize).query(None, X, 12, X_labeled, random_state=0)
    if normalize:
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        if with_labels:
            X_labeled = X_labeled / np.linalg.norm(X_labeled, axis=1, keepdims=True)
    assert_valid(picks, 12, 50)
    assert_greedy_herding(X, picks, 0.7, X_labeled)


def test_maxherding_default_gamma_is_one_over_features():
    X = np.random.default_rng(6).normal(size=(40, 4))
    normalized = X / np.linalg.norm(X, axis=1, keepdims=True)
    picks = MaxHerding().query(None, X, 6, random_state=0)
    assert_greedy_herding(normalized, picks, 1 / 4)


def test_kmeans_sampling_takes_the_member_nearest_each_centre_largest_first():
    rng = np.random.default_rng(8)
    sizes = [40, 25, 10]
    X = np.concatenate([c + rng.normal(size=(s, 3)) for c, s in zip(CENTERS, sizes, strict=True)])
    blob = np.repeat(np.arange(3), sizes)
    picks = KMeansSampling().query(None, X, 3, random_state=0)
    assert blob[picks].tolist() == [0, 1, 2]  # largest cluster first
    for pick in picks:
        members = np.flatnonzero(blob == blob[pick])
        centre = X[members].mean(axis=0)
        assert pick == members[np.argmin(((X[members] - centre) ** 2).sum(axis=1))]


# ---------------------------------------------------------------------------------------
# Blobs: one pick per blob, and labeled blobs are not picked again
# ---------------------------------------------------------------------------------------

COLD = {
    "kmeans": KMeansSampling(),
    "typiclust": TypiClust(),
    "probcover": ProbCover(delta=10.0),
    "probcover-purity": ProbCover(n_classes=3),
    "maxherding": MaxHerding(gamma=0.05, normalize=False),
}


@pytest.mark.parametrize("name", sorted(COLD))
def test_cold_start_on_three_blobs_picks_one_per_blob(name):
    X, blob = blobs()
    for seed in range(3):
        picks = COLD[name].query(None, X, 3, random_state=seed)
        assert sorted(blob[picks].tolist()) == [0, 1, 2]


@pytest.mark.parametrize("method", ["kmeans", "typiclust", "birch"])
def test_cold_start_helper_on_three_blobs(method):
    X, blob = blobs()
    picks = cold_start(X, 3, method=method, random_state=0)
    assert_valid(picks, 3, X.shape[0])
    assert sorted(blob[picks].tolist()) == [0, 1, 2]
    np.testing.assert_array_equal(picks, cold_start(X, 3, method=method, random_state=0))


@pytest.mark.parametrize("name", sorted(COLD))
def test_a_labeled_blob_is_not_picked_again(name):
    X, blob = blobs()
    X_labeled = CENTERS[:1] + 0.1  # one labeled item in blob 0
    for seed in range(3):
        picks = COLD[name].query(None, X, 2, X_labeled, ["a"], random_state=seed)
        assert sorted(blob[picks].tolist()) == [1, 2]


def test_typiclust_visit_order_uncovered_then_fewest_labeled_small_last():
    rng = np.random.default_rng(10)
    pool_sizes = [10, 12, 8, 3, 20]  # clusters 0..4
    labeled_counts = np.array([2, 1, 0, 0, 0])
    pool_labels = np.repeat(np.arange(5), pool_sizes)
    pool = (rng.normal(size=(pool_labels.shape[0], 2)) + 50.0 * pool_labels[:, None]).astype(
        np.float32
    )
    sizes = np.array(pool_sizes) + labeled_counts
    picks = typiclust._typiclust_picks(
        pool, pool_labels, labeled_counts, sizes, 7, 20, 5, np.random.default_rng(0)
    )
    # uncovered by size (4, 2), then fewest labeled (1, 0), small cluster 3 last; repeat
    assert pool_labels[picks].tolist() == [4, 2, 1, 0, 3, 4, 2]
    assert np.unique(picks).shape == (7,)
    for pick in picks[:5]:  # the most typical (a mutual nearest pair ties, at random)
        members = np.flatnonzero(pool_labels == pool_labels[pick])
        typicality = reference_typicality(pool[members], 20)
        assert typicality[members == pick][0] == pytest.approx(typicality.max())


def test_kmeans_can_ignore_the_labeled_set():
    X, blob = blobs()
    picks = KMeansSampling(use_labeled=False).query(None, X, 3, CENTERS[:1], random_state=0)
    assert sorted(blob[picks].tolist()) == [0, 1, 2]


# ---------------------------------------------------------------------------------------
# Edge cases shared by all
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_exact_duplicates_give_unique_picks_at_random(name):
    pool = np.repeat([[1.0, 2.0, 3.0]], 20, axis=0)
    firsts = set()
    for seed in range(8):
        picks = STRATEGIES[name]().query(None, pool, 6, random_state=seed)
        assert_valid(picks, 6, 20)
        firsts.add(int(picks[0]))
    assert len(firsts) > 1, "ties among duplicates are broken by index, not at random"


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_duplicates_mixed_in_and_a_duplicated_labeled_item(name):
    X, _ = blobs(per_blob=10)
    pool = np.concatenate([X, X[:5], X[:5]])
    picks = STRATEGIES[name]().query(None, pool, 12, X[:2], random_state=0)
    assert_valid(picks, 12, pool.shape[0])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_k_equal_to_pool_size_and_pool_of_one(name, small_blocks):
    X, _ = blobs(per_blob=7)
    strategy = STRATEGIES[name]()
    assert_valid(strategy.query(None, X, X.shape[0], X[:3] + 0.5, random_state=0), 21, 21)
    assert strategy.query(None, X[:1], 1, X[:3], random_state=0).tolist() == [0]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_same_seed_same_picks_and_blocking_changes_nothing(name, monkeypatch):
    X, _ = blobs(per_blob=20, seed=3)
    strategy = STRATEGIES[name]()
    first = strategy.query(None, X, 8, X[:4] + 0.3, random_state=11)
    assert first.tolist() == strategy.query(None, X, 8, X[:4] + 0.3, random_state=11).tolist()
    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 1024)
    assert first.tolist() == strategy.query(None, X, 8, X[:4] + 0.3, random_state=11).tolist()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_uses_the_models_embedding(name):
    X, y = blobs(per_blob=15, seed=4)
    X = X * np.array([1.0, 30.0, 0.01])  # scaling changes the geometry
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    features = pipeline[:-1].transform(X)
    strategy = STRATEGIES[name]()
    through_model = strategy.query(pipeline, X, 5, X[:3], y[:3], random_state=0)
    on_features = strategy.query(None, features, 5, features[:3], y[:3], random_state=0)
    assert through_model.tolist() == on_features.tolist()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_sparse_and_dataframe_pools(name):
    pd = pytest.importorskip("pandas")
    X, _ = blobs(per_blob=8)
    strategy = STRATEGIES[name]()
    dense = strategy.query(None, X, 4, random_state=0)
    assert strategy.query(None, sp.csr_matrix(X), 4, random_state=0).tolist() == dense.tolist()
    assert strategy.query(None, pd.DataFrame(X), 4, random_state=0).tolist() == dense.tolist()


# ---------------------------------------------------------------------------------------
# Errors say what was wrong and what to do
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (ProbCover(delta=0.0), "delta must be a positive radius"),
        (ProbCover(delta=float("nan")), "delta must be a positive radius"),
        (ProbCover(alpha=1.5), "alpha must lie in"),
        (ProbCover(n_classes=1), "n_classes must be an int of at least 2"),
        (MaxHerding(gamma=-1.0), "gamma must be a positive number"),
        (TypiClust(n_neighbors=0), "n_neighbors must be an int"),
        (TypiClust(max_clusters=1.5), "max_clusters must be an int"),
        (KMeansSampling(max_iter=0), "max_iter must be an int"),
        (KMeansSampling(tol=-1), "tol must be a non-negative number"),
    ],
)
def test_bad_parameters(strategy, message):
    X, _ = blobs(per_blob=5)
    with pytest.raises(ValueError, match=message):
        strategy.query(None, X, 2, random_state=0)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_bad_embeddings(name):
    X, _ = blobs(per_blob=5)
    strategy = STRATEGIES[name]()
    broken = X.copy()
    broken[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 4 .* NaN"):
        strategy.query(None, broken, 2, random_state=0)
    with pytest.raises(ValueError, match="X_labeled embeds into 2 features but X_pool into 3"):
        strategy.query(None, X, 2, X[:2, :2], random_state=0)


def test_probcover_refuses_a_delta_that_joins_everything(monkeypatch):
    monkeypatch.setattr(probcover, "_MAX_EDGES", 500)
    X, _ = blobs(per_blob=10)
    with pytest.raises(ValueError, match="pass a smaller delta"):
        ProbCover(delta=1e3).query(None, X, 2, random_state=0)


def test_cold_start_methods_and_errors():
    X, _ = blobs(per_blob=6)
    for method in ("typiclust", "kmeans", "birch", "random"):
        picks = cold_start(X, 18, method=method, random_state=1)
        assert_valid(picks, 18, 18)
        assert picks.tolist() == cold_start(X, 18, method=method, random_state=1).tolist()
    duplicates = np.repeat(X[:2], 5, axis=0)
    assert_valid(cold_start(duplicates, 6, method="birch", random_state=0), 6, 10)
    with pytest.raises(ValueError, match="method must be"):
        cold_start(X, 2, method="dbscan")
    with pytest.raises(ValueError, match="larger than the pool"):
        cold_start(X, 19, method="birch")
