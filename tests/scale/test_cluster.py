"""activelab.scale on a real LocalCluster: two worker processes, Parquet of 1 M rows.

The issue asks for a few million rows; on the 2-core machines the suite runs on, one
module-scoped pool of 1,000,000 rows × 4 float32 features (2 files of 5 row groups
each, plus an empty file) keeps the module within about a minute while still spreading
5 partitions over both workers. Every test shares it and the cluster.
"""

from __future__ import annotations

import os
import re
import signal
import sys

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")

import dask  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import activelab as al  # noqa: E402
from activelab import scale  # noqa: E402
from activelab.scale.cli import app as score_app  # noqa: E402
from tests.scale._support import (  # noqa: E402
    SENTINEL,
    CountingLogistic,
    ExitOnSentinel,
    allowed_order,
    assert_same_top_k,
    reference_order,
    small_mlp,
)

pytestmark = pytest.mark.slow  # worker processes start and import activelab: seconds

ROWS_PER_FILE = 500_000
FEATURES = ["x0", "x1", "x2", "x3"]
N_FILES = 2
PARTITION_ROWS = 250_000  # 2 partitions per file (3 + 2 row groups): 5 with the empty file


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> dict:
    """1 M rows of Parquet, the same rows in memory, and a string-labelled model."""
    folder = tmp_path_factory.mktemp("pool")
    rng = np.random.default_rng(0)
    blocks = []
    for f in range(N_FILES):
        X = rng.normal(size=(ROWS_PER_FILE, len(FEATURES))).astype(np.float32)
        ids = np.arange(f * ROWS_PER_FILE, (f + 1) * ROWS_PER_FILE)
        table = pa.table({**{n: X[:, j] for j, n in enumerate(FEATURES)}, "id": ids})
        pq.write_table(table, folder / f"part-{f}.parquet", row_group_size=100_000)
        blocks.append(X)
    pq.write_table(table.slice(0, 0), folder / f"part-{N_FILES}-empty.parquet")
    X = np.concatenate(blocks)
    labels = np.array(["cat", "dog", "eel"])
    y = labels[np.argmax(X[:3000, :3] + rng.normal(size=(3000, 3)), axis=1)]
    model = CountingLogistic().fit(X[:3000], y)
    margin = al.strategies.get("margin").utilities(model, X)
    first = str(folder / "part-0.parquet")
    return {
        "glob": str(folder / "*.parquet"),
        "first": first,
        "X": X,
        "model": model,
        "margin": margin,
    }


@pytest.fixture(scope="module")
def client():
    # One retry per task: a worker killed once is survived, a partition that kills
    # every worker it touches fails after two deaths instead of four.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = scale.local_cluster(2, memory_limit=None, dashboard_address=None)
    with cluster, distributed.Client(cluster) as connected:
        yield connected


def run(pool: dict, client, k: int, strategy="margin", **kwargs) -> scale.Picks:
    kwargs.setdefault("partition_rows", PARTITION_ROWS)
    kwargs.setdefault("random_state", 0)
    return scale.query(pool["model"], pool["glob"], k, strategy, client, columns=FEATURES, **kwargs)


def test_top_k_is_identical_to_the_in_memory_path(pool, client):
    seen = []
    picks = run(pool, client, 500, progress=lambda done, total: seen.append((done, total)))
    expected = al.strategies.get("margin").query(pool["model"], pool["X"], 500, random_state=0)
    utilities = pool["margin"]
    # The in-memory strategy breaks exact ties (float32 features give some) at random:
    # the same rows except among ties, and exactly the (utility, tie key) order.
    assert_same_top_k(picks.rows, expected, utilities)
    assert picks.rows.tolist() == reference_order(utilities, picks.seed)[:500].tolist()
    np.testing.assert_array_equal(picks.scores, utilities[picks.rows])
    # String labels come back as the model's labels.
    assert picks.predictions.tolist() == pool["model"].predict(pool["X"][picks.rows]).tolist()
    assert set(picks.predictions) <= {"cat", "dog", "eel"}
    assert seen == [(i, 5) for i in range(1, 6)]  # the empty file is a partition too
    frame = picks.to_frame()
    assert frame["file"].str.endswith(".parquet").all()
    assert (frame["file_row"] == frame["row"] % ROWS_PER_FILE).all()


def test_partitioning_does_not_change_the_picks(pool, client):
    coarse = run(pool, client, 200, "entropy", random_state=3)
    fine = run(pool, client, 200, "entropy", random_state=3, partition_rows=100_000, split_every=3)
    assert fine.rows.tolist() == coarse.rows.tolist()
    entropy = al.strategies.get("entropy")
    expected = entropy.query(pool["model"], pool["X"], 200, random_state=3)
    assert_same_top_k(coarse.rows, expected, entropy.utilities(pool["model"], pool["X"]))


def test_ties_on_the_workers_follow_the_tie_keys(pool, client):
    X = np.random.default_rng(1).integers(0, 2, size=(200_000, 4)).astype(np.float32)
    picks = scale.query(
        pool["model"], X, 1000, "margin", client, partition_rows=30_000, random_state=5
    )
    utilities = al.strategies.get("margin").utilities(pool["model"], X)
    assert picks.rows.tolist() == reference_order(utilities, picks.seed)[:1000].tolist()


def test_local_cluster_gives_each_worker_one_kernel_thread(client):
    threads = client.run(lambda: os.environ.get("ACTIVELAB_NUM_THREADS"))
    assert list(threads.values()) == ["1", "1"]


def test_the_model_is_scattered_once_not_shipped_per_task(pool, client):
    CountingLogistic.pickles = 0
    run(pool, client, 10, partition_rows=100_000)  # 16 partitions
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    assert 1 <= CountingLogistic.pickles <= workers


def test_batch_diverse_plans_on_the_cluster(pool, client):
    diverse = run(pool, client, 20, "diverse_minibatch")
    top = np.argsort(-pool["margin"], kind="stable")[:200]
    assert diverse.exact and set(diverse.rows.tolist()) <= set(top.tolist())
    core = run(pool, client, 30, "coreset", X_labeled=pool["X"][:100])
    assert core.plan == "kcenter" and np.unique(core.rows).shape[0] == 30
    sample = run(pool, client, 10, "kmeans", candidates=5000)
    assert sample.plan == "sample" and np.unique(sample.rows).shape[0] == 10


def test_a_worker_killed_mid_query_does_not_change_the_answer(pool, client):
    utilities = pool["margin"]
    victim = next(iter(client.run(os.getpid).values()))
    killed = []

    def kill_once(done: int, total: int) -> None:
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    picks = run(pool, client, 300, random_state=9, partition_rows=100_000, progress=kill_once)
    assert killed
    assert picks.rows.tolist() == reference_order(utilities, picks.seed)[:300].tolist()
    client.wait_for_workers(2, timeout=60)
    assert victim not in client.run(os.getpid).values()


def test_cli_scores_a_pool_on_a_running_scheduler(pool, client, tmp_path):
    import joblib

    model_path = tmp_path / "model.joblib"
    joblib.dump(pool["model"], model_path)
    out = tmp_path / "picks.parquet"
    result = CliRunner().invoke(
        score_app,
        [
            "--pool",
            pool["first"],
            "--model",
            str(model_path),
            "--strategy",
            "margin",
            "-k",
            "50",
            "--scheduler",
            client.scheduler.address,
            "--out",
            str(out),
            "--columns",
            ",".join(FEATURES),
            "--seed",
            "0",
            "--partition-rows",
            str(PARTITION_ROWS),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "50 picks of 500,000 rows" in result.output
    written = pd.read_parquet(out)
    utilities = pool["margin"][:ROWS_PER_FILE]
    seed = int(np.random.default_rng(0).integers(2**63))  # the query's seed for --seed 0
    assert written["row"].tolist() == reference_order(utilities, seed)[:50].tolist()
    assert written["prediction"].isin(["cat", "dog", "eel"]).all()


def test_cli_rounds_exclude_earlier_picks_by_id(pool, client, tmp_path):
    import joblib

    joblib.dump(pool["model"], tmp_path / "model.joblib")
    common = [
        "--pool", pool["glob"], "--model", str(tmp_path / "model.joblib"), "-k", "40",
        "--scheduler", client.scheduler.address, "--columns", ",".join(FEATURES),
        "--seed", "0", "--id-column", "id",
    ]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(score_app, [*common, "--out", str(tmp_path / "r1.parquet")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(
        score_app,
        [*common, "--exclude", str(tmp_path / "r1.parquet"), "--out", str(tmp_path / "r2.parquet")],
    )
    assert second.exit_code == 0, second.output
    r1, r2 = pd.read_parquet(tmp_path / "r1.parquet"), pd.read_parquet(tmp_path / "r2.parquet")
    assert (r1["id"] == r1["row"]).all() and not set(r1["id"]) & set(r2["id"])
    seed = int(np.random.default_rng(0).integers(2**63))
    expected = allowed_order(pool["margin"], seed, r1["row"].to_numpy())[:40]
    assert r2["row"].tolist() == expected.tolist()
    not_parquet = str(tmp_path / "model.joblib")
    bad = runner.invoke(score_app, [*common, "--exclude", not_parquet, "--out", "x"])
    assert bad.exit_code == 2 and "could not read --exclude" in bad.output


def test_cli_refuses_bad_input_with_a_message(pool, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(
        score_app, ["--pool", pool["glob"], "--model", str(tmp_path / "none.joblib"), "--out", "x"]
    )
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad = runner.invoke(
        score_app,
        ["--pool", pool["glob"], "--model", "m", "--out", "x", "--strategy", "margni"],
    )
    assert bad.exit_code == 2 and "Did you mean 'margin'" in bad.output


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_cli_starts_a_local_cluster_without_a_scheduler(tmp_path):
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    X = rng.normal(size=(5000, 3))
    pd.DataFrame(X, columns=["a", "b", "c"]).to_parquet(tmp_path / "small.parquet")
    model = LogisticRegression().fit(X[:200], np.where(X[:200, 0] > 0, "yes", "no"))
    joblib.dump(model, tmp_path / "model.joblib")
    out = tmp_path / "out" / "picks.parquet"
    result = CliRunner().invoke(
        score_app,
        [
            "--pool",
            str(tmp_path / "small.parquet"),
            "--model",
            str(tmp_path / "model.joblib"),
            "-k",
            "7",
            "--workers",
            "1",
            "--out",
            str(out),
            "--seed",
            "1",
            "--param",
            "sampling=softmax",
            "--param",
            "temperature=0.1",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "Starting a LocalCluster" in result.output
    assert len(pd.read_parquet(out)) == 7


def test_a_partition_that_kills_every_worker_fails_with_a_clear_error(pool, client, tmp_path):
    X = pool["X"][:20_000].copy()
    X[15_000, 0] = SENTINEL
    pd.DataFrame(X, columns=FEATURES).to_parquet(tmp_path / "poison.parquet", row_group_size=5000)
    model = ExitOnSentinel().fit(pool["X"][:3000], pool["model"].predict(pool["X"][:3000]))
    with pytest.raises(RuntimeError) as error:
        scale.query(
            model, str(tmp_path / "poison.parquet"), 5, "margin", client, partition_rows=5000
        )
    message = str(error.value)
    # Dask gives up on the partition after two deaths (it names the killer, or an innocent
    # partition queued beside it on the dying workers); or both workers died holding the
    # scattered model first, and what depended on it was cancelled.
    gave_up = re.search(r"gave up on rows \d+–\d+ of .*poison.parquet", message)
    assert gave_up or "every worker holding the scattered model died" in message, message
    assert "Nothing was returned" in message


def test_a_second_round_never_picks_what_the_first_picked(pool, client):
    utilities = pool["margin"]
    first = run(pool, client, 400, random_state=11, id_column="id")
    assert first.ids.tolist() == first.rows.tolist()  # the pool's ids are its positions
    labelled = np.r_[first.ids, np.arange(0, 1_000_000, 3)]  # plus a third of the pool
    second = run(pool, client, 400, random_state=11, id_column="id", exclude=labelled)
    assert not set(second.ids.tolist()) & set(labelled.tolist())
    assert second.rows.tolist() == allowed_order(utilities, second.seed, labelled)[:400].tolist()
    by_position = run(pool, client, 400, random_state=11, exclude=labelled)
    assert by_position.rows.tolist() == second.rows.tolist()
    sample = run(pool, client, 20, "kmeans", candidates=2000, exclude=labelled)
    assert not set(sample.rows.tolist()) & set(labelled.tolist())


def test_a_torch_embedding_model_runs_on_the_workers(pool):
    pytest.importorskip("torch")
    from activelab.models import TorchClassifier

    X = pool["X"]
    model = TorchClassifier(
        small_mlp, epochs=2, validation_fraction=0.0, random_state=0, device="cpu"
    ).fit(X[:2000], pool["model"].predict(X[:2000]))
    # The client imported torch to fit; a worker imports it only to unpickle the model.
    # A cluster of its own: fresh workers, nothing imported by earlier tests (restarting
    # the shared cluster's workers can outlast distributed's wait on a loaded machine).
    with (
        scale.local_cluster(1, memory_limit=None, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        _torch_model_on_fresh_workers(pool, model, client)


def _torch_model_on_fresh_workers(pool: dict, model, client) -> None:
    from activelab.scale._keys import STREAM_SAMPLE

    X = pool["X"]
    assert not any(client.run(lambda: "torch" in sys.modules).values())
    options = {"columns": FEATURES, "random_state": 0}
    sample = scale.query(
        model,
        pool["glob"],
        12,
        "kmeans",
        client,
        candidates=3000,
        partition_rows=PARTITION_ROWS,
        **options,
    )
    core = scale.query(
        model, pool["glob"], 12, "coreset", client, partition_rows=500_000, **options
    )
    assert any(client.run(lambda: "torch" in sys.modules).values())
    for picks in (sample, core):
        assert len(set(picks.rows.tolist())) == 12 and picks.rows.max() < X.shape[0]
    # k-means ran on the embeddings of the 3000 sampled rows, drawn from positions alone.
    keys = scale.uniform_keys(np.arange(X.shape[0]), scale.stream_seed(sample.seed, STREAM_SAMPLE))
    assert set(sample.rows.tolist()) <= set(reference_order(keys, sample.seed)[:3000].tolist())
    again = scale.query(
        model,
        pool["glob"],
        12,
        "kmeans",
        client,
        candidates=3000,
        partition_rows=PARTITION_ROWS,
        **options,
    )
    assert again.rows.tolist() == sample.rows.tolist()  # reproducible on the workers
