"""Hybrid strategies (CLUE, FALCUN, DropQuery, CAL, DAL) against plain reference code."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from activelab import _distances, scores
from activelab.models import ModelAdapter
from activelab.strategies import CLUE, Contrastive, Discriminative, DropQuery, Falcun

ALL = (CLUE, Falcun, DropQuery, Contrastive, Discriminative)


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=260,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=1,
    )
    X_lab, y_lab, pool = X[:40], y[:40], X[40:]
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    return model, X_lab, y_lab, pool


def assert_valid(picks, k, n):
    assert picks.dtype == np.int64 and picks.shape == (k,)
    assert np.unique(picks).shape[0] == k
    assert picks.min() >= 0 and picks.max() < n


# ------------------------------------------------------------------ plain references


def reference_cal_scores(proba_pool, proba_lab, emb_pool, emb_lab, n_neighbors, eps=1e-7):
    """Margatina et al. 2021, Algorithm 1, item by item."""
    P = np.clip(proba_pool, eps, 1.0)
    P = P / P.sum(axis=1, keepdims=True)
    Q = np.clip(proba_lab, eps, 1.0)
    Q = Q / Q.sum(axis=1, keepdims=True)
    out = np.empty(len(emb_pool))
    for i, x in enumerate(emb_pool):
        distances = np.linalg.norm(emb_lab - x, axis=1)
        neighbours = np.argsort(distances, kind="stable")[:n_neighbors]
        kl = [np.sum(Q[j] * np.log(Q[j] / P[i])) for j in neighbours]
        out[i] = np.mean(kl)
    return out


def reference_falcun(proba, k, gamma, rng):
    """scikit-activeml's FALCUN loop, drawing with ``rng.random()`` by inverse CDF."""
    top2 = -np.sort(-proba, axis=1)[:, :2]
    uncertainty = 1.0 - (top2[:, 0] - top2[:, 1])
    distances = uncertainty.copy()
    picks: list[int] = []
    for b in range(k):
        if b > 0:
            new = np.abs(proba - proba[picks[-1]]).sum(axis=1)
            distances = np.minimum(new, distances)
            low = distances.min()
            span = distances.max() - low
            distances = distances - low
            if span > 0:
                distances = distances / span
        relevance = (uncertainty + distances) ** gamma
        relevance[picks] = 0.0
        if relevance.sum() == 0:
            relevance = np.ones_like(relevance)
            relevance[picks] = 0.0
        cdf = np.cumsum(relevance / relevance.sum())
        cdf /= cdf[-1]
        picks.append(int(np.searchsorted(cdf, rng.random(), side="right")))
    return np.asarray(picks)


def reference_flips(model, emb, rate, n_masks, rescale, rng):
    """DropQuery's disagreement count: masks on the embedding, the head predicts."""
    head = model[-1] if hasattr(model, "steps") else model
    unperturbed = head.predict_proba(emb).argmax(axis=1)
    flips = np.zeros(len(emb), dtype=np.int64)
    for _ in range(n_masks):
        keep = rng.random(emb.shape, dtype=np.float32) >= rate
        masked = emb * keep * (1.0 / (1.0 - rate) if rescale else 1.0)
        flips += head.predict_proba(masked).argmax(axis=1) != unperturbed
    return flips


def reference_dal(pool, labeled, k, n_subrounds):
    """DAL with plain logistic regression on the whole pool, sub-batches of equal size."""
    chosen: list[int] = []
    remaining = list(range(len(pool)))
    for size in [len(p) for p in np.array_split(np.arange(k), n_subrounds)]:
        X = np.vstack([labeled, pool[chosen], pool[remaining]])
        y = np.r_[np.zeros(len(labeled) + len(chosen)), np.ones(len(remaining))]
        clf = LogisticRegression(max_iter=1000).fit(X, y)
        p = clf.predict_proba(pool[remaining])[:, 1]
        best = [remaining[i] for i in np.argsort(-p, kind="stable")[:size]]
        chosen += best
        remaining = [i for i in remaining if i not in best]
    return chosen


# ----------------------------------------------------------------------------- CAL


@pytest.mark.parametrize("n_neighbors", [1, 3, 10, 100])
def test_contrastive_scores_match_the_paper(problem, n_neighbors):
    model, X_lab, _, pool = problem
    ours = Contrastive(n_neighbors=n_neighbors).utilities(model, pool, X_lab, random_state=0)
    expected = reference_cal_scores(
        model.predict_proba(pool), model.predict_proba(X_lab), pool, X_lab, min(n_neighbors, 40)
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-9)


def test_contrastive_queries_the_top_scores(problem):
    model, X_lab, y_lab, pool = problem
    expected = reference_cal_scores(
        model.predict_proba(pool), model.predict_proba(X_lab), pool, X_lab, 10
    )
    picks = Contrastive().query(model, pool, 15, X_lab, y_lab, random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-expected)[:15].tolist())
    assert np.all(np.diff(expected[picks]) <= 1e-12)  # most informative first


def test_contrastive_scores_zero_where_the_neighbours_agree():
    # Every labeled item and every pool item gets the same prediction: KL = 0.
    class Constant(ModelAdapter):
        def predict_proba(self, X):
            return np.tile([0.7, 0.3], (len(X), 1))

    pool = np.arange(8.0)[:, None]
    utilities = Contrastive(n_neighbors=2).utilities(Constant(), pool, pool[:3] + 0.5)
    np.testing.assert_allclose(utilities, 0.0, atol=1e-12)


def test_contrastive_sparse_embeddings_give_the_dense_scores(problem):
    model, X_lab, _, pool = problem
    dense = Contrastive().utilities(model, pool, X_lab, random_state=0)
    sparse = Contrastive().utilities(model, sp.csr_matrix(pool), sp.csr_matrix(X_lab), 0)
    np.testing.assert_allclose(sparse, dense, rtol=1e-5)


# --------------------------------------------------------------------------- FALCUN


@pytest.mark.parametrize("gamma", [0, 1, 2.5, 10])
@pytest.mark.parametrize("seed", [0, 1])
def test_falcun_draws_match_the_reference_loop(problem, gamma, seed):
    model, _, _, pool = problem
    proba = model.predict_proba(pool)
    ours = Falcun(gamma=gamma).query(model, pool, 30, random_state=seed)
    expected = reference_falcun(proba, 30, gamma, np.random.default_rng(seed))
    assert ours.tolist() == expected.tolist()


def test_falcun_with_a_huge_gamma_takes_the_most_relevant_first(problem):
    model, _, _, pool = problem
    # (u + d)^5000 overflows float64; the draw is rescaled, and is then an arg-max.
    picks = Falcun(gamma=5000).query(model, pool, 5, random_state=0)
    assert_valid(picks, 5, len(pool))
    assert picks[0] == np.argmax(scores.margin(model.predict_proba(pool)))


def test_falcun_draws_uniformly_when_every_item_is_certain():
    class Certain(ModelAdapter):
        def predict_proba(self, X):
            proba = np.zeros((len(X), 2))
            proba[:, 0] = 1.0
            return proba

    first = [Falcun().query(Certain(), np.zeros((50, 1)), 3, random_state=s)[0] for s in range(20)]
    assert len(set(first)) > 5


# ----------------------------------------------------------------------------- CLUE


@pytest.mark.parametrize("which", ["problem", "boundary"])
def test_clue_with_one_centre_picks_the_item_nearest_the_entropy_weighted_mean(problem, which):
    model, _, _, pool = problem
    if which == "boundary":  # uncertain items sit near x = 5, far from the pool's mean
        grid = np.linspace(0.0, 6.0, 61)[:, None] + np.random.default_rng(0).normal(
            0, 1e-3, (61, 1)
        )
        model = LogisticRegression().fit(grid, (grid[:, 0] > 5.0).astype(int))
        pool = grid
    weights = scores.entropy(model.predict_proba(pool))
    centre = weights @ pool / weights.sum()
    expected = int(np.argmin(np.linalg.norm(pool - centre, axis=1)))
    assert CLUE().query(model, pool, 1, random_state=0).tolist() == [expected]
    if which == "boundary":
        unweighted = int(np.argmin(np.linalg.norm(pool - pool.mean(axis=0), axis=1)))
        assert abs(pool[expected, 0] - pool[unweighted, 0]) > 0.5  # the weights matter


def test_clue_picks_one_item_per_separated_cluster():
    X, labels = make_blobs(n_samples=300, centers=6, cluster_std=0.3, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X, labels % 2)
    for seed in range(3):
        picks = CLUE().query(model, X, 6, random_state=seed)
        assert sorted(labels[picks].tolist()) == list(range(6))


def test_clue_orders_the_whole_pool_by_entropy(problem):
    model, _, _, pool = problem
    picks = CLUE().query(model, pool, len(pool), random_state=0)
    weights = scores.entropy(model.predict_proba(pool))
    assert np.all(np.diff(weights[picks]) <= 0)


def test_clue_blocked_passes_respect_the_block_size(problem, monkeypatch):
    model, _, _, pool = problem
    shapes: list[tuple[int, int]] = []
    cross = _distances.cross

    def recording(A, B):
        product = cross(A, B)
        shapes.append(product.shape)
        return product

    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 1024)  # 256 float32 distances
    monkeypatch.setattr(_distances, "cross", recording)
    picks = CLUE().query(model, pool, 8, random_state=0)
    assert_valid(picks, 8, len(pool))
    assert shapes  # the assignment passes went through the blocked products
    assert max(rows * cols for rows, cols in shapes) <= 256


# ------------------------------------------------------------------------- DropQuery


@pytest.mark.parametrize("rescale", [True, False])
def test_dropquery_flip_counts_match_the_reference(problem, rescale):
    model, _, _, pool = problem
    strategy = DropQuery(dropout_rate=0.5, n_masks=4, rescale=rescale)
    ours = strategy.flip_counts(model, pool, random_state=3)
    expected = reference_flips(model, pool, 0.5, 4, rescale, np.random.default_rng(3))
    assert ours.tolist() == expected.tolist()


def test_dropquery_uses_the_head_of_a_pipeline_on_its_features(problem):
    _, X_lab, y_lab, pool = problem
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(X_lab, y_lab)
    ours = DropQuery().flip_counts(pipeline, pool, random_state=0)
    features = pipeline[:-1].transform(pool)
    expected = reference_flips(pipeline, features, 0.75, 3, True, np.random.default_rng(0))
    assert ours.tolist() == expected.tolist()


def test_dropquery_takes_every_candidate_then_fills_at_random(problem):
    model, _, _, pool = problem
    strategy = DropQuery(n_masks=3)
    flips = strategy.flip_counts(model, pool, random_state=0)
    candidates = set(np.flatnonzero(flips >= 2).tolist())
    k = len(candidates) + 10
    picks = strategy.query(model, pool, k, random_state=0)
    assert_valid(picks, k, len(pool))
    assert set(picks[: len(candidates)].tolist()) == candidates
    assert np.all(np.diff(flips[picks[: len(candidates)]]) <= 0)  # most flips first


def test_dropquery_clusters_the_candidates_when_there_are_more_than_k(problem):
    model, _, _, pool = problem
    strategy = DropQuery(n_masks=3)
    flips = strategy.flip_counts(model, pool, random_state=0)
    candidates = np.flatnonzero(flips >= 2)
    k = len(candidates) // 3
    assert k >= 2
    picks = strategy.query(model, pool, k, random_state=0)
    assert_valid(picks, k, len(pool))
    assert set(picks.tolist()) <= set(candidates.tolist())


def test_dropquery_needs_a_classifier_head():
    class NoHead(ModelAdapter):
        classes_ = np.array([0, 1])

        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    with pytest.raises(TypeError, match="head_proba"):
        DropQuery().query(NoHead(), np.zeros((5, 2)), 2, random_state=0)

    class WithHead(NoHead):
        def head_proba(self, embedding):
            return np.column_stack([embedding[:, 0] > 0, embedding[:, 0] <= 0]).astype(float)

    picks = DropQuery().query(WithHead(), np.ones((6, 2)), 2, random_state=0)
    assert_valid(picks, 2, 6)


# ------------------------------------------------------------------------------ DAL


def two_blobs(n=40):
    rng = np.random.default_rng(0)
    near = rng.normal(0.0, 0.5, size=(n, 2))
    far = rng.normal(6.0, 0.5, size=(n, 2))
    return near[: n // 2], np.vstack([near[n // 2 :], far])  # labeled covers the near blob


def test_discriminative_queries_the_region_the_labeled_set_misses():
    labeled, pool = two_blobs()
    for n_subrounds in (1, 3, 10):
        picks = Discriminative(n_subrounds=n_subrounds).query(None, pool, 10, labeled, None, 0)
        assert (picks >= 20).all()  # rows 20.. are the far blob


@pytest.mark.parametrize("n_subrounds", [1, 4, 6])
def test_discriminative_matches_the_reference_sub_rounds(n_subrounds):
    X, _ = make_blobs(n_samples=70, centers=3, cluster_std=2.0, random_state=2)
    labeled, pool = X[:20], X[20:]
    strategy = Discriminative(
        discriminator=LogisticRegression(max_iter=1000),
        n_subrounds=n_subrounds,
        unlabeled_factor=None,
    )
    ours = strategy.query(None, pool, 6, labeled, None, random_state=0)
    assert ours.tolist() == reference_dal(pool, labeled, 6, n_subrounds)


def test_discriminative_runs_with_the_mlp_and_on_model_embeddings(problem):
    model, X_lab, y_lab, pool = problem
    picks = Discriminative("mlp", n_subrounds=2).query(model, pool, 6, X_lab, y_lab, 0)
    assert_valid(picks, 6, len(pool))
    again = Discriminative("mlp", n_subrounds=2).query(model, pool, 6, X_lab, y_lab, 0)
    assert picks.tolist() == again.tolist()


@pytest.mark.parametrize("strategy", [Contrastive(), Discriminative()])
@pytest.mark.parametrize("labeled", [None, np.empty((0, 5))])
def test_labeled_set_is_required(problem, strategy, labeled):
    model, _, _, pool = problem
    with pytest.raises(ValueError, match="needs X_labeled"):
        strategy.query(model, pool, 3, labeled, None, random_state=0)


# ----------------------------------------------------------------------- all of them


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("k", [4, 30])
def test_duplicate_pools_give_unique_random_picks(problem, cls, k):
    model, X_lab, y_lab, pool = problem
    duplicates = np.repeat(pool[:1], 30, axis=0)
    batches = {
        tuple(cls().query(model, duplicates, k, X_lab, y_lab, random_state=seed).tolist())
        for seed in range(4)
    }
    for batch in batches:
        assert_valid(np.asarray(batch, dtype=np.int64), k, 30)
    if k < 30:
        assert len(batches) > 1  # ties broken at random, not by index


@pytest.mark.parametrize("cls", ALL)
def test_sparse_features_work(problem, cls):
    _, X_lab, y_lab, pool = problem
    sparse_model = LogisticRegression(max_iter=1000).fit(sp.csr_matrix(X_lab), y_lab)
    picks = cls().query(sparse_model, sp.csr_matrix(pool), 7, sp.csr_matrix(X_lab), y_lab, 0)
    assert_valid(picks, 7, len(pool))


@pytest.mark.parametrize("cls", ALL)
def test_reproducible_under_a_seed(problem, cls):
    model, X_lab, y_lab, pool = problem
    first = cls().query(model, pool, 9, X_lab, y_lab, random_state=5)
    again = cls().query(model, pool, 9, X_lab, y_lab, random_state=np.random.default_rng(5))
    assert first.tolist() == again.tolist()


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (Falcun(gamma=-1), "gamma"),
        (CLUE(max_iter=0), "max_iter"),
        (DropQuery(dropout_rate=1.0), "dropout_rate"),
        (DropQuery(n_masks=0), "n_masks"),
        (Contrastive(n_neighbors=0), "n_neighbors"),
        (Contrastive(eps=0.0), "eps"),
        (Discriminative(n_subrounds=0), "n_subrounds"),
        (Discriminative(unlabeled_factor=0), "unlabeled_factor"),
        (Discriminative(discriminator="forest"), "discriminator"),
    ],
)
def test_bad_parameters_say_what_is_wrong(problem, strategy, message):
    model, X_lab, y_lab, pool = problem
    with pytest.raises(ValueError, match=message):
        strategy.query(model, pool, 3, X_lab, y_lab, random_state=0)
