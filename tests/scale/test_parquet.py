"""Parquet pools: footers read in parallel, in pool order, and errors that name the file."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression

pytest.importorskip("dask")

import activelab as al
from activelab import scale
from activelab.scale import _parquet
from activelab.scale._pool import open_pool

N_FILES = 40


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[str, np.ndarray]:
    """Many small files of different lengths and row-group sizes (one empty)."""
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(1)
    blocks = []
    for i in range(N_FILES):
        n = 0 if i == 7 else int(rng.integers(1, 120))
        X = rng.normal(size=(n, 3))
        blocks.append(X)
        table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "id": np.arange(n) + 1000 * i})
        pq.write_table(
            table, root / f"part-{i:03d}.parquet", row_group_size=int(rng.integers(5, 50))
        )
    return str(root), np.concatenate(blocks)


def describe(spec) -> tuple:
    """Everything a PoolSpec of a Parquet pool says, as plain values."""
    parts = tuple(
        (
            p.index,
            p.offset,
            p.n_rows,
            p.where,
            p.data.path,
            p.data.row_groups,
            p.data.group_rows,
            p.data.columns,
            None if p.ids is None else (p.ids.row_groups, p.ids.columns),
        )
        for p in spec.partitions
    )
    return (
        spec.kind,
        spec.n_rows,
        spec.n_features,
        spec.columns,
        spec.files,
        spec.file_offsets.tolist(),
        spec.id_column,
        parts,
    )


def test_many_files_give_the_pool_their_footers_describe(folder):
    root, X = folder
    spec = open_pool(root, partition_rows=60, id_column="id")
    files = sorted(str(p) for p in Path(root).glob("*.parquet"))
    assert list(spec.files) == files
    rows = [
        [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        for meta in map(pq.read_metadata, files)
    ]
    assert (
        spec.file_offsets.tolist()
        == np.concatenate([[0], np.cumsum([sum(r) for r in rows])[:-1]]).tolist()
    )
    assert spec.n_rows == X.shape[0] == sum(map(sum, rows))
    assert spec.columns == ("a", "b", "c")
    offset = 0
    for part in spec.partitions:  # contiguous, and each part's group sizes are the footer's
        assert part.offset == offset
        file_rows = rows[files.index(part.data.path)]
        assert part.data.group_rows == tuple(file_rows[g] for g in part.data.row_groups)
        assert part.n_rows == sum(part.data.group_rows)
        offset += part.n_rows
    assert offset == spec.n_rows


def test_parallel_footers_describe_the_pool_as_one_thread_does(folder, monkeypatch):
    root, _ = folder
    parallel = describe(open_pool(root, partition_rows=60, id_column="id"))
    monkeypatch.setattr(_parquet, "FOOTER_THREADS", 1)
    assert describe(open_pool(root, partition_rows=60, id_column="id")) == parallel


def test_footers_keep_pool_order_when_they_finish_out_of_order(folder, monkeypatch):
    root, _ = folder
    expected = describe(open_pool(root, partition_rows=60))
    files = list(open_pool(root).files)
    later_done = threading.Event()
    read = _parquet._row_group_rows

    def slow_first(fs, path):
        if path == files[0]:
            later_done.wait(timeout=10)  # the first file finishes after the fifth
        result = read(fs, path)
        if path == files[4]:
            later_done.set()
        return result

    monkeypatch.setattr(_parquet, "_row_group_rows", slow_first)
    assert describe(open_pool(root, partition_rows=60)) == expected
    assert later_done.is_set()


def test_footer_threads_are_bounded(folder, monkeypatch):
    root, _ = folder
    lock = threading.Lock()
    running, most = 0, 0
    read = _parquet._row_group_rows

    def counted(fs, path):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return read(fs, path)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(_parquet, "FOOTER_THREADS", 3)
    monkeypatch.setattr(_parquet, "_row_group_rows", counted)
    open_pool(root)
    assert 1 <= most <= 3


@pytest.mark.parametrize("position", [0, 5, 11])
def test_a_corrupt_file_is_named(tmp_path, position):
    for i in range(12):
        path = tmp_path / f"f{i:02d}.parquet"
        if i == position:
            path.write_bytes(b"this is not a parquet file" * 4)
        else:
            pq.write_table(pa.table({"a": np.arange(10.0)}), path)
    with pytest.raises(ValueError, match=rf"f{position:02d}\.parquet.*corrupt"):
        open_pool(str(tmp_path))


def test_a_truncated_footer_is_named(tmp_path):
    for i in range(4):
        pq.write_table(pa.table({"a": np.arange(50.0)}), tmp_path / f"f{i}.parquet")
    whole = (tmp_path / "f2.parquet").read_bytes()
    (tmp_path / "f2.parquet").write_bytes(whole[:-12] + b"PAR1")  # footer length gone
    with pytest.raises((ValueError, OSError), match=r"f2\.parquet"):
        open_pool(str(tmp_path))


def test_a_query_over_many_files_equals_the_in_memory_query(folder):
    root, X = folder
    model = LogisticRegression().fit(X[:200], X[:200, 0] + X[:200, 1] > 0)
    picks = scale.query(
        model, root, 12, "margin", random_state=3, partition_rows=50, columns=["a", "b", "c"]
    )
    expected = al.strategies.get("margin").query(model, X, 12, random_state=3)
    assert picks.rows.tolist() == expected.tolist()
    files, file_rows = picks.locate()
    spec = open_pool(root)
    for row, file, file_row in zip(picks.rows, files, file_rows, strict=True):
        first = spec.file_offsets[spec.files.index(file)]
        assert row - first == file_row
