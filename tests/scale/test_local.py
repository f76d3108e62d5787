"""activelab.scale without a cluster: keys, the top-k tree, plans, pools and errors.

These run the partition tasks on dask's local threaded scheduler (no LocalCluster), on
small in-memory pools; test_cluster.py runs the same code on worker processes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

pytest.importorskip("dask")

import activelab as al
from activelab import scale
from activelab.scale._keys import STREAM_TIES
from activelab.scale._plans import plan_for
from activelab.scale._pool import iter_batches, open_pool
from activelab.scale._topk import Candidates, best, merge
from activelab.strategies._wrappers import _pointwise
from tests.scale._support import (
    CountingEmbedding,
    ScaledEmbedding,
    allowed_order,
    assert_same_top_k,
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, LogisticRegression]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = np.array(["ant", "bee", "cow"])[np.argmax(X[:, :3] + rng.normal(size=(3000, 3)), 1)]
    return X, LogisticRegression().fit(X[:300], y[:300])


def reference_order(key: np.ndarray, seed: int) -> np.ndarray:
    """Plain reference: every row sorted by (key, tie key), highest first."""
    from tests.scale._support import reference_order as order

    return order(key, seed)


# ----------------------------------------------------------------------------- keys


@given(
    st.lists(st.integers(0, 2**62), min_size=1, max_size=200, unique=True),
    st.integers(0, 2**64 - 1),
)
@settings(max_examples=50, deadline=None)
def test_tie_keys_are_distinct_and_depend_only_on_row_and_seed(rows, seed):
    keys = scale.tie_keys(np.array(rows), seed)
    assert np.unique(keys).shape[0] == len(rows)  # a bijection of 64-bit integers
    one_by_one = np.array([scale.tie_keys(np.array([r]), seed)[0] for r in rows])
    assert (keys == one_by_one).all()


def test_uniform_keys_are_uniform_in_the_open_interval():
    u = scale.uniform_keys(np.arange(200_000), seed=3)
    assert ((u > 0) & (u < 1)).all()
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    expected = u.shape[0] / 10
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 30  # 9 degrees of freedom: p < 0.001 beyond 27.9
    assert not np.allclose(u, scale.uniform_keys(np.arange(200_000), seed=4))


def test_tie_keys_refuse_negative_rows_and_bad_seeds():
    with pytest.raises(ValueError, match="non-negative integer"):
        scale.tie_keys(np.array([-1, 2]), 0)
    with pytest.raises(ValueError, match="seed"):
        scale.tie_keys(np.array([1]), -5)


# ---------------------------------------------------------------------- top-k tree


def _candidates(key: np.ndarray, rows: np.ndarray, seed: int) -> Candidates:
    ties = scale.tie_keys(rows, scale.stream_seed(seed, STREAM_TIES))
    return Candidates(rows, key, ties, key.copy(), {"X": rows[:, None] * 2})


@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=300),  # few values: many ties
    st.lists(st.integers(0, 300), max_size=6),
    st.integers(1, 40),
    st.integers(2, 5),
    st.integers(0, 2**32),
)
@settings(max_examples=80, deadline=None)
def test_tree_of_partial_top_ks_is_the_exact_global_top_k(values, cuts, m, fan_in, seed):
    key = np.array(values, dtype=np.float64)
    rows = np.arange(key.shape[0])
    bounds = [0, *sorted(min(c, key.shape[0]) for c in cuts), key.shape[0]]
    level = [best(_candidates(key[a:b], rows[a:b], seed), m) for a, b in itertools.pairwise(bounds)]
    while len(level) > 1:
        level = [merge(level[i : i + fan_in], m) for i in range(0, len(level), fan_in)]
    expected = reference_order(key, seed)[:m]
    assert level[0].rows.tolist() == expected.tolist()
    assert (level[0].payload["X"][:, 0] == expected * 2).all()  # payload follows its row


def test_best_handles_empty_and_minus_infinity():
    assert len(best(Candidates.empty(), 3)) == 0
    key = np.array([-np.inf, 1.0, -np.inf, 0.5])
    found = best(_candidates(key, np.arange(4), 0), 3)
    assert found.rows[:2].tolist() == [1, 3] and found.rows[2] in (0, 2)


# ------------------------------------------------------------------ split invariance


POINTWISE = [
    name
    for name in al.strategies.available()
    if isinstance(al.strategies.get(name), al.strategies.ScoreStrategy)
    and _pointwise(al.strategies.get(name))
]


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_score_strategies_score_rows_independently(name, iris):
    """The score plan's premise: a row's utility does not depend on its partition."""
    strategy = al.strategies.get(name)
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    if "sample_proba" in strategy.needs:
        model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    whole = strategy.utilities(model, X)
    parts = np.concatenate([strategy.utilities(model, X[:37]), strategy.utilities(model, X[37:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- plans


@pytest.mark.parametrize(
    ("name", "kind", "exact"),
    [
        ("margin", "score", True),
        ("bald", "score", True),
        ("diverse_minibatch", "prefilter", True),
        ("badge", "prefilter", False),
        ("coreset", "kcenter", False),
        ("kmeans", "sample", False),
        ("typiclust", "sample", False),
        ("random", "sample", True),
    ],
)
def test_each_strategy_family_gets_its_plan(name, kind, exact):
    found = plan_for(name, 10, 100_000)
    assert (found.kind, found.exact) == (kind, exact)
    assert found.grad_norm == (name == "badge")


def test_wrappers_unwrap_into_their_plans():
    assert plan_for(al.strategies.Parallel("entropy"), 5, 1000).kind == "score"
    sub = plan_for(al.strategies.SubSample("kmeans", max_candidates=300), 5, 10_000)
    assert (sub.kind, sub.candidates, sub.strategy.name) == ("sample", 300, "kmeans")


def test_plans_that_cannot_run_say_what_to_do():
    with pytest.raises(ValueError, match=r"plan='sample'.*prefilter_by"):
        plan_for("information_density", 5, 1000)  # utilities depend on the whole pool
    with pytest.raises(ValueError, match="whole pool at once"):
        plan_for("eer", 5, 1000)
    with pytest.raises(ValueError, match="softrank"):
        plan_for(al.strategies.get("margin", sampling="softrank"), 5, 1000)
    with pytest.raises(ValueError, match="plan must be one of"):
        plan_for("margin", 5, 1000, plan="tree")
    with pytest.raises(ValueError, match="prefilter_by"):
        plan_for("kmeans", 5, 1000, plan="prefilter")
    with pytest.raises(ValueError, match="core-set"):
        plan_for("kmeans", 5, 1000, plan="kcenter")
    with pytest.raises(ValueError, match="at least 5"):
        plan_for("kmeans", 5, 1000, plan="sample", candidates=3)
    assert plan_for("eer", 5, 1000, plan="sample").kind == "sample"
    assert plan_for("kmeans", 5, 1000, plan="prefilter", prefilter_by="margin").kind == "prefilter"


# ----------------------------------------------------- queries on the local scheduler


def test_score_plan_is_the_in_memory_strategy(data):
    X, model = data
    for name in ("margin", "entropy", "least_confidence"):
        picks = scale.query(model, X, 25, name, partition_rows=700, batch_rows=256, random_state=1)
        expected = al.strategies.get(name).query(model, X, 25, random_state=1)
        utilities = al.strategies.get(name).utilities(model, X)
        assert_same_top_k(picks.rows, expected, utilities)
        assert picks.rows.tolist() == reference_order(utilities, picks.seed)[:25].tolist()
        np.testing.assert_array_equal(picks.scores, utilities[picks.rows])
        assert picks.predictions.tolist() == model.predict(X[picks.rows]).tolist()


def test_ties_are_random_but_reproducible_and_partition_free(data):
    _, model = data
    X = np.random.default_rng(5).integers(0, 2, size=(4000, 4)).astype(float)  # 16 rows, repeated
    utilities = al.strategies.get("margin").utilities(model, X)
    first = scale.query(model, X, 300, "margin", partition_rows=512, random_state=7)
    assert first.rows.tolist() == reference_order(utilities, first.seed)[:300].tolist()
    again = scale.query(model, X, 300, "margin", partition_rows=999, batch_rows=100, random_state=7)
    assert again.rows.tolist() == first.rows.tolist()
    other = scale.query(model, X, 300, "margin", partition_rows=512, random_state=8)
    assert other.rows.tolist() != first.rows.tolist()
    assert sorted(other.scores) == sorted(first.scores)  # same utilities, other tied rows


def test_stochastic_sampling_is_an_exact_gumbel_top_k(data):
    X, model = data
    strategy = al.strategies.get("entropy", sampling="softmax", temperature=0.05)
    picks = scale.query(model, X, 40, strategy, partition_rows=500, random_state=2)
    utilities = al.strategies.get("entropy").utilities(model, X)
    from activelab.scale._keys import STREAM_GUMBEL, gumbel_keys

    keys = utilities / 0.05 + gumbel_keys(
        np.arange(X.shape[0]), scale.stream_seed(picks.seed, STREAM_GUMBEL)
    )
    assert picks.rows.tolist() == reference_order(keys, picks.seed)[:40].tolist()
    assert picks.rows.tolist() != scale.query(model, X, 40, "entropy", random_state=2).rows.tolist()


def test_diverse_minibatch_picks_from_its_own_prefilter(data):
    X, model = data
    picks = scale.query(model, X, 10, "diverse_minibatch", partition_rows=400, random_state=0)
    top = set(np.argsort(-al.strategies.get("margin").utilities(model, X))[:100].tolist())
    assert picks.plan == "prefilter" and picks.exact
    assert set(picks.rows.tolist()) <= top and len(set(picks.rows.tolist())) == 10


def test_badge_prefilters_by_gradient_norm(data):
    X, model = data
    picks = scale.query(model, X, 5, "badge", candidates=50, partition_rows=400, random_state=0)
    residual, hidden = al.models.wrap(model).grad_embed(X, factored=True)
    norms = (residual.astype(float) ** 2).sum(1) * (hidden.astype(float) ** 2).sum(1)
    assert set(picks.rows.tolist()) <= set(np.argsort(-norms)[:50].tolist())


def test_random_and_sample_plans_draw_uniform_samples(data):
    X, _ = data
    counts = np.zeros(X.shape[0])
    for seed in range(60):
        counts[scale.query(None, X, 50, "random", partition_rows=1000, random_state=seed).rows] += 1
    halves = counts[: X.shape[0] // 2].sum(), counts[X.shape[0] // 2 :].sum()
    assert abs(halves[0] - halves[1]) < 0.1 * counts.sum()  # 3000 draws, sd ≈ 55
    picks = scale.query(None, X, 5, "kmeans", candidates=400, partition_rows=700, random_state=0)
    assert picks.plan == "sample" and len(set(picks.rows.tolist())) == 5


def test_kcenter_with_an_embedding_model_applied_per_partition(data):
    X, _ = data
    adapter = ScaledEmbedding()
    picks = scale.query(adapter, X, 8, "coreset", partition_rows=600, random_state=0)
    # The same two rounds on the pre-embedded pool, without a model: the same picks.
    embedded = scale.query(None, 10.0 * X[:, :2], 8, "coreset", partition_rows=600, random_state=0)
    assert picks.rows.tolist() == embedded.rows.tolist()


def _radius(points: np.ndarray, centres: np.ndarray) -> float:
    gaps = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return float(np.sqrt(gaps.min(1).max()))


def test_two_round_kcenter_is_within_its_approximation_factor():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(c, 0.3, size=(150, 2)) for c in rng.uniform(-20, 20, (12, 2))])
    k = 12
    picks = scale.query(None, X, k, "coreset", partition_rows=200, random_state=0)
    in_memory = al.strategies.get("coreset").query(None, X, k, random_state=0)
    # Greedy in memory is within 2·OPT, so OPT >= r_memory / 2 and 4·OPT >= 2·r_memory.
    assert _radius(X, X[picks.rows]) <= 4.0 * _radius(X, X[in_memory]) + 1e-9
    labeled = X[:5]
    with_labeled = scale.query(
        None, X, k, "coreset", X_labeled=labeled, partition_rows=200, random_state=0
    )
    assert not set(with_labeled.rows.tolist()) & set(range(5))


def test_empty_partitions_and_dask_collections(data):
    import dask.array as da
    import dask.dataframe as dd

    X, model = data
    expected = al.strategies.get("margin").query(model, X, 20, random_state=4)
    kept = np.r_[0:600, 1200:3000]
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(keep=False)
    frame.loc[kept, "keep"] = True
    ddf = dd.from_pandas(frame, npartitions=5)
    ddf = ddf[ddf.keep]  # partition 1 (rows 600–1199) becomes empty
    picks = scale.query(model, ddf, 20, "margin", columns=["a", "b", "c", "d"], random_state=4)
    expected = al.strategies.get("margin").query(model, X[kept], 20, random_state=4)
    assert picks.rows.tolist() == expected.tolist()
    array = da.from_array(
        X, chunks=((1000, 0, 1000, 1000), (2, 2))
    )  # an empty block, split columns
    picks = scale.query(model, array, 20, "margin", random_state=4)
    assert (
        picks.rows.tolist()
        == al.strategies.get("margin").query(model, X, 20, random_state=4).tolist()
    )


def test_parquet_pool_rows_files_and_progress(tmp_path, data):
    X, model = data
    names = ["a", "b", "c", "d"]
    for i, (start, stop) in enumerate([(0, 1000), (1000, 1000), (1000, 3000)]):
        table = pa.table(
            {**{n: X[start:stop, j] for j, n in enumerate(names)}, "tag": ["t"] * (stop - start)}
        )
        pq.write_table(table, tmp_path / f"p{i}.parquet", row_group_size=300)
    seen = []
    picks = scale.query(
        model,
        str(tmp_path / "*.parquet"),
        15,
        "margin",
        columns=names,
        partition_rows=500,
        random_state=0,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (
        picks.rows.tolist()
        == al.strategies.get("margin").query(model, X, 15, random_state=0).tolist()
    )
    assert seen[-1][0] == seen[-1][1] == len(seen)
    files, file_rows = picks.locate()
    frame = picks.to_frame()
    for row, file, file_row in zip(picks.rows, files, file_rows, strict=True):
        assert file.endswith("p0.parquet" if row < 1000 else "p2.parquet")
        assert file_row == (row if row < 1000 else row - 1000)
    assert list(frame.columns) == ["rank", "row", "score", "prediction", "file", "file_row"]
    spec = open_pool(str(tmp_path), columns=names, partition_rows=500)  # a folder works too
    assert spec.n_rows == 3000 and any(p.n_rows == 0 for p in spec.partitions)


def test_feature_names_of_the_model_pick_the_columns(tmp_path, data):
    X, _ = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(tag="x", id=np.arange(3000))
    model = LogisticRegression().fit(frame[["d", "b"]].iloc[:300], X[:300, 0] > 0)
    frame.to_parquet(tmp_path / "pool.parquet")
    picks = scale.query(model, tmp_path / "pool.parquet", 10, "margin", random_state=0)
    expected = al.strategies.get("margin").query(model, frame[["d", "b"]], 10, random_state=0)
    assert picks.rows.tolist() == expected.tolist()


# --------------------------------------------------------------------------- errors


def test_bad_pools_and_inputs_say_what_to_do(tmp_path, data):
    X, model = data
    with pytest.raises(ValueError, match="larger than the pool"):
        scale.query(model, X[:10], 11)
    with pytest.raises(FileNotFoundError, match="matches no Parquet files"):
        scale.query(model, str(tmp_path / "*.parquet"), 1)
    pd.DataFrame({"a": [1.0, None, 3.0], "b": 1.0, "c": 2.0, "d": 3.0, "s": "x"}).to_parquet(
        tmp_path / "gap.parquet"
    )
    path = str(tmp_path / "gap.parquet")
    with pytest.raises(ValueError, match=r"lacks; it has"):
        scale.query(model, path, 1, columns=["a", "zz"])
    with pytest.raises(ValueError, match="not numeric"):
        scale.query(model, path, 1, columns=["a", "b", "c", "s"])
    with pytest.raises(ValueError, match="fitted on 4 features but the pool gives"):
        scale.query(model, path, 1, columns=["a", "b"])
    with pytest.raises(ValueError, match=r"column 'a' of rows 0–2 of .*gap.parquet.*1 missing"):
        scale.query(model, path, 1, columns=["a", "b", "c", "d"])
    with pytest.raises(TypeError, match="needs 'sample_proba'"):
        scale.query(model, X, 1, "bald")
    with pytest.raises(ValueError, match="batch_rows must be an int of at least 1"):
        scale.query(model, X, 1, batch_rows=0)
    with pytest.raises(ValueError, match="split_every must be at least 2"):
        scale.query(model, X, 1, split_every=1)
    with pytest.raises(ValueError, match="2-D"):
        scale.query(model, X[:, 0], 1)


def test_errors_on_a_worker_name_the_partition(data):
    X, model = data
    bad = X.copy()
    bad[2500, 1] = np.nan
    with pytest.raises(ValueError, match=r"rows 2000–2999 of the array: .*NaN"):
        scale.query(model, bad, 3, partition_rows=1000)


def test_iter_batches_reads_frames_and_nullable_columns():
    frame = pd.DataFrame(
        {"a": pd.array([1.0, None, 2.0], dtype="Float64"), "b": [True, False, True]}
    )
    ((start, block),) = list(iter_batches(frame, 10, "test"))
    assert start == 0 and block.dtype == np.float64 and np.isnan(block[1, 0])


def test_a_text_column_feeds_a_text_pipeline(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "cat", "dog", "fast", "slow", "big", "small"])
    texts = [" ".join(rng.choice(words, size=5)) for _ in range(2000)]
    labels = np.array(["animal" if ("cat" in t or "dog" in t) else "colour" for t in texts])
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts[:300], labels[:300])
    pd.DataFrame({"text": texts, "n": np.arange(2000)}).to_parquet(tmp_path / "texts.parquet")
    picks = scale.query(
        model,
        tmp_path / "texts.parquet",
        20,
        "margin",
        columns=["text"],
        partition_rows=600,
        random_state=0,
    )
    utilities = al.strategies.get("margin").utilities(model, texts)
    assert picks.rows.tolist() == reference_order(utilities, picks.seed)[:20].tolist()
    assert set(picks.predictions) <= {"animal", "colour"}
    # The same model's TF-IDF features are the embeddings of core-set, per partition.
    core = scale.query(model, np.array(texts, dtype=object), 5, "coreset", partition_rows=700)
    assert np.unique(core.rows).shape[0] == 5


def test_cli_params_parse_json_values_and_refuse_bad_items():
    from activelab.scale.cli import parse_params

    assert parse_params(["prefilter=5", "method=kcenter", "flag=true"]) == {
        "prefilter": 5,
        "method": "kcenter",
        "flag": True,
    }
    assert parse_params(None) == {}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_params(["temperature"])


# ------------------------------------------------------------- the loop: exclusions


def test_excluded_positions_are_never_picked_by_any_plan(data):
    X, model = data
    utilities = al.strategies.get("margin").utilities(model, X)
    first = scale.query(model, X, 40, "margin", partition_rows=700, random_state=3)
    # Round two excludes round one's picks and an arbitrary labelled set, with duplicates.
    labelled = np.r_[first.rows, np.arange(0, 3000, 7), first.rows[:5]]
    second = scale.query(
        model, X, 40, "margin", partition_rows=700, batch_rows=256, random_state=3, exclude=labelled
    )
    assert not set(second.rows.tolist()) & set(labelled.tolist())
    assert second.rows.tolist() == allowed_order(utilities, second.seed, labelled)[:40].tolist()
    assert second.excluded == np.unique(labelled).shape[0]
    top = set(np.argsort(-utilities)[:400].tolist())
    for name, options in [
        ("diverse_minibatch", {}),
        ("coreset", {}),
        ("kmeans", {"candidates": 500}),
        ("random", {}),
        ("badge", {"candidates": 60}),
    ]:
        picks = scale.query(
            model, X, 10, name, partition_rows=700, random_state=1, exclude=labelled, **options
        )
        assert len(set(picks.rows.tolist())) == 10, name
        assert not set(picks.rows.tolist()) & set(labelled.tolist()), name
        if name == "diverse_minibatch":
            assert set(picks.rows.tolist()) <= top


def test_exclusion_by_id_on_parquet_and_dataframes(tmp_path, data):
    X, model = data
    names = ["a", "b", "c", "d"]
    ids = np.array([f"item-{i:05d}" for i in range(3000)], dtype=object)
    frame = pd.DataFrame(X, columns=names).assign(item=ids)
    frame.iloc[:1800].to_parquet(tmp_path / "p0.parquet", row_group_size=500)
    frame.iloc[1800:].to_parquet(tmp_path / "p1.parquet", row_group_size=500)
    utilities = al.strategies.get("margin").utilities(model, X)
    for pool in (str(tmp_path / "*.parquet"), frame):
        first = scale.query(
            model,
            pool,
            30,
            "margin",
            columns=names,
            id_column="item",
            random_state=2,
            partition_rows=700,
        )
        assert first.ids.tolist() == ids[first.rows].tolist()
        assert first.to_frame()["id"].tolist() == ids[first.rows].tolist()
        second = scale.query(
            model,
            pool,
            30,
            "margin",
            columns=names,
            id_column="item",
            random_state=2,
            partition_rows=700,
            exclude=first.ids,
        )
        assert not set(second.ids.tolist()) & set(first.ids.tolist())
        expected = allowed_order(utilities, second.seed, first.rows)[:30]
        assert second.rows.tolist() == expected.tolist()
        assert second.ids.tolist() == ids[expected].tolist()
    # The id column is not a feature by default: the model's width still matches.
    plain = scale.query(model, frame, 5, "margin", id_column="item", random_state=0)
    assert plain.ids.tolist() == ids[plain.rows].tolist()


def test_exclusions_on_dask_dataframes_and_sample_plans(data):
    import dask.dataframe as dd

    X, _ = data
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(key=np.arange(3000) * 10)
    ddf = dd.from_pandas(frame, npartitions=4)
    taken = np.arange(0, 30000, 20)  # every other row, by id
    picks = scale.query(
        None,
        ddf,
        50,
        "random",
        columns=["a", "b", "c", "d"],
        id_column="key",
        exclude=taken,
        random_state=0,
    )
    assert not set(picks.ids.tolist()) & set(taken.tolist())
    assert (picks.ids == picks.rows * 10).all()


def test_bad_exclusions_say_what_to_do(tmp_path, data):
    X, model = data
    with pytest.raises(TypeError, match="id_column"):
        scale.query(model, X, 3, exclude=["a", "b"])
    with pytest.raises(ValueError, match=r"row positions in \[0, 3000\)"):
        scale.query(model, X, 3, exclude=[5, 3000])
    with pytest.raises(ValueError, match="only 2 rows of the pool's 3000 are left"):
        scale.query(model, X, 3, exclude=np.arange(2, 3000))
    with pytest.raises(ValueError, match="an array pool has none"):
        scale.query(model, X, 3, id_column="id")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(item=np.arange(3000))
    with pytest.raises(ValueError, match="'nope' is not a column"):
        scale.query(model, frame, 3, id_column="nope")
    with pytest.raises(ValueError, match="none of the 2 ids"):
        scale.query(model, frame, 3, id_column="item", exclude=np.array([-1, -2]))
    frame.to_parquet(tmp_path / "ids.parquet")
    with pytest.raises(ValueError, match="'nope' is not a column of"):
        scale.query(model, str(tmp_path / "ids.parquet"), 3, id_column="nope")


# --------------------------------------------------------------- embeddings at scale


def test_the_sample_plan_embeds_only_the_sampled_rows(tmp_path, data):
    X, _ = data
    pd.DataFrame(X, columns=["a", "b", "c", "d"]).to_parquet(
        tmp_path / "pool.parquet", row_group_size=250
    )
    CountingEmbedding.rows = 0
    picks = scale.query(
        CountingEmbedding(),
        str(tmp_path / "pool.parquet"),
        6,
        "kmeans",
        candidates=300,
        partition_rows=1000,
        random_state=4,
    )
    assert CountingEmbedding.rows == 300  # the sample, not every batch's candidates
    assert picks.plan == "sample" and len(set(picks.rows.tolist())) == 6
    # The sample is the 300 rows of largest uniform key: positions alone decide it.
    from activelab.scale._keys import STREAM_SAMPLE

    keys = scale.uniform_keys(np.arange(3000), scale.stream_seed(picks.seed, STREAM_SAMPLE))
    sample = set(reference_order(keys, picks.seed)[:300].tolist())
    assert set(picks.rows.tolist()) <= sample
    # Same partitioning or not, the same sample and the same picks.
    again = scale.query(
        CountingEmbedding(), X, 6, "kmeans", candidates=300, partition_rows=333, random_state=4
    )
    assert again.rows.tolist() == picks.rows.tolist()


def test_random_reads_nothing(tmp_path, data):
    X, _ = data
    pool = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    pool.loc[17, "a"] = np.nan  # reading this partition would stop the query
    pool.to_parquet(tmp_path / "gap.parquet")
    picks = scale.query(None, str(tmp_path / "gap.parquet"), 25, "random", random_state=0)
    from activelab.scale._keys import STREAM_SAMPLE

    keys = scale.uniform_keys(np.arange(3000), scale.stream_seed(picks.seed, STREAM_SAMPLE))
    assert picks.rows.tolist() == reference_order(keys, picks.seed)[:25].tolist()


def test_vector_columns_are_features(tmp_path, data):
    X, model = data
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(X[:, :3].ravel(), pa.float32()), 3)
    ragged = pa.array([row.tolist() for row in X[:, 1:3]], pa.list_(pa.float64()))
    table = pa.table({"emb": fixed, "d": X[:, 3], "pair": ragged, "tag": ["t"] * 3000})
    pq.write_table(table, tmp_path / "vectors.parquet", row_group_size=700)
    path = str(tmp_path / "vectors.parquet")
    spec = open_pool(path)  # default: the numeric and vector columns
    assert spec.columns == ("emb", "d", "pair") and spec.n_features == 6
    as_read = np.concatenate([X[:, :3].astype(np.float32), X[:, 3:4], X[:, 1:3]], axis=1)
    ((_, first), *_) = iter_batches(spec.partitions[0].data, 100, "test")
    np.testing.assert_array_equal(first, as_read[:100])
    picks = scale.query(model, path, 12, "margin", columns=["emb", "d"], random_state=0)
    wide = np.concatenate([X[:, :3].astype(np.float32), X[:, 3:4]], axis=1)
    expected = al.strategies.get("margin").query(model, wide, 12, random_state=0)
    assert picks.rows.tolist() == expected.tolist()
    core = scale.query(
        None, path, 8, "coreset", columns=["emb"], partition_rows=700, random_state=0
    )
    in_memory = scale.query(
        None, X[:, :3].astype(np.float32), 8, "coreset", partition_rows=700, random_state=0
    )
    assert core.rows.tolist() == in_memory.rows.tolist()
    uneven = pa.array([[1.0, 2.0]] * 5 + [[1.0]], pa.list_(pa.float64()))
    pq.write_table(pa.table({"v": uneven}), tmp_path / "uneven.parquet")
    with pytest.raises(ValueError, match="rows of different lengths"):
        scale.query(None, str(tmp_path / "uneven.parquet"), 1, "coreset")


def test_kcenter_blocks_bound_memory_and_keep_the_factor(monkeypatch):
    from activelab.scale import _tasks

    rng = np.random.default_rng(8)
    X = np.concatenate([rng.normal(c, 0.3, size=(150, 2)) for c in rng.uniform(-20, 20, (12, 2))])
    whole = scale.query(None, X, 12, "coreset", partition_rows=900, random_state=0)
    monkeypatch.setattr(_tasks, "KCENTER_BLOCK_BYTES", 100 * 2 * 8)  # blocks of ~100 rows
    blocked = scale.query(None, X, 12, "coreset", partition_rows=900, batch_rows=50, random_state=0)
    in_memory = al.strategies.get("coreset").query(None, X, 12, random_state=0)
    bound = 4.0 * _radius(X, X[in_memory]) + 1e-9
    assert _radius(X, X[blocked.rows]) <= bound and _radius(X, X[whole.rows]) <= bound
    assert np.unique(blocked.rows).shape[0] == 12


def test_predicted_labels_come_from_the_scored_probabilities(data, monkeypatch):
    X, model = data
    calls = []
    original = type(model).predict
    monkeypatch.setattr(
        type(model), "predict", lambda self, Z: calls.append(len(Z)) or original(self, Z)
    )
    picks = scale.query(model, X, 20, "entropy", partition_rows=1000, random_state=0)
    assert calls == []  # no second pass of the model
    assert picks.predictions.tolist() == original(model, X[picks.rows]).tolist()


def test_a_pool_on_another_file_system_is_read_through_fsspec(data):
    import fsspec

    X, model = data
    fs = fsspec.filesystem("memory")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(item=np.arange(3000) + 7)
    with fs.open("/activelab-scale-test/pool.parquet", "wb") as handle:
        frame.to_parquet(handle, row_group_size=400)
    try:
        picks = scale.query(
            model,
            "memory://activelab-scale-test/*.parquet",
            9,
            "margin",
            columns=["a", "b", "c", "d"],
            id_column="item",
            exclude=[7, 8, 9],
            partition_rows=800,
            random_state=0,
        )
    finally:
        fs.rm("/activelab-scale-test", recursive=True)
    utilities = al.strategies.get("margin").utilities(model, X)
    assert picks.rows.tolist() == allowed_order(utilities, picks.seed, [0, 1, 2])[:9].tolist()
    assert (picks.ids == picks.rows + 7).all()
