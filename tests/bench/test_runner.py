"""The grid runner and the results store: fairness, reproducibility, resume, failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.linear_model import LogisticRegression

from activelab.bench import datasets, load_reference, load_rounds, run
from activelab.bench.config import ConfigError, parse
from activelab.bench.runner import BenchError, expand, resolve_budget
from activelab.bench.store import ROUND_COLUMNS, finished_cells

TIMES = ["query_seconds", "fit_seconds"]


def grid(**changes: object) -> dict:
    data = {
        "name": "tiny",
        "datasets": ["iris", "wine"],
        "models": {"logreg": {}, "forest": {"n_estimators": 5}},
        "strategies": ["margin", "bald"],
        "seeds": 2,
        "initial_sizes": [6],
        "batch_sizes": [5],
        "budgets": [30],
    }
    data.update(changes)
    return data


def quiet() -> Console:
    return Console(file=open("/dev/null", "w"), width=200)


def bench(data: dict, out: Path, jobs: int = 1) -> Path:
    return run(parse(data), jobs=jobs, out=out, progress=False, console=quiet())


def files(out: Path) -> dict[str, int]:
    """Each finished cell file and when it was last written."""
    return {p.stem: p.stat().st_mtime_ns for p in (out / "cells").glob("*.parquet")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = bench(grid(), tmp_path_factory.mktemp("tiny") / "run")
    return out, load_rounds(out)


def test_rounds_have_the_contract_columns_and_every_cell(tiny) -> None:
    out, rounds = tiny
    assert list(rounds.columns) == list(ROUND_COLUMNS)
    assert rounds["seed"].dtype == np.int64 and rounds["accuracy"].dtype == np.float64
    # logreg cannot give posterior samples: bald runs on the forest only; random always.
    cells = rounds.drop_duplicates("cell")
    per_model = cells.groupby("model")["strategy"].apply(lambda s: sorted(set(s))).to_dict()
    assert per_model == {"forest": ["bald", "margin", "random"], "logreg": ["margin", "random"]}
    assert len(cells) == 2 * 2 * (3 + 2)  # data sets × seeds × strategies per model
    assert (pd.read_parquet(out / "rounds.parquet").reset_index(drop=True)).equals(rounds)
    assert set(pd.read_parquet(out / "cells.parquet")["cell"]) == set(cells["cell"])
    assert json.loads((out / "config.json").read_text())["name"] == "tiny"


def test_each_cell_is_a_complete_learning_curve(tiny) -> None:
    _, rounds = tiny
    for _, cell in rounds.groupby("cell"):
        assert cell["round"].tolist() == list(range(len(cell)))
        # initial 6, then batches of 5 until the budget of 30: the last batch is 4.
        assert cell["n_labeled"].tolist() == [6, 11, 16, 21, 26, 30]
        picked = np.concatenate([json.loads(i) for i in cell["indices"]])
        assert picked.shape[0] == np.unique(picked).shape[0] == 30
        pool = datasets.load_split(cell["dataset"].iloc[0], int(cell["seed"].iloc[0])).y_train
        assert picked.max() < pool.shape[0]
    metrics = rounds[["accuracy", "f1_macro", "ece"]]
    assert ((metrics >= 0) & (metrics <= 1)).all().all()
    assert np.isfinite(rounds["log_loss"]).all() and (rounds["log_loss"] > 0).all()
    assert (rounds["query_seconds"] >= 0).all() and (rounds["fit_seconds"] > 0).all()


def test_strategies_of_a_group_share_the_initial_set_and_split(tiny) -> None:
    _, rounds = tiny
    first = rounds[rounds["round"] == 0]
    for (dataset, seed), group in first.groupby(["dataset", "seed"]):
        # The same initial labels for every model and strategy of a (data set, seed) ...
        assert group["indices"].nunique() == 1, (dataset, seed)
        # ... and so the same round-0 model and test score for every strategy of a model.
        assert group.groupby("model")["accuracy"].nunique().eq(1).all()
    # Another seed draws another initial set.
    iris = first[first["dataset"] == "iris"].drop_duplicates("seed")["indices"]
    assert iris.nunique() == 2


def test_stored_scores_are_those_of_the_model_refit_on_the_labels(tiny) -> None:
    _, rounds = tiny
    cell = rounds[(rounds["model"] == "logreg") & (rounds["strategy"] == "margin")]
    cell = cell[(cell["dataset"] == "wine") & (cell["seed"] == 1)]
    split = datasets.load_split("wine", 1)
    labeled = np.concatenate([json.loads(i) for i in cell["indices"]])
    model = LogisticRegression(max_iter=1000).fit(split.X_train[labeled], split.y_train[labeled])
    accuracy = float(np.mean(model.predict(split.X_test) == split.y_test))
    assert cell["accuracy"].iloc[-1] == pytest.approx(accuracy)


def test_reference_holds_the_full_data_accuracy(tiny) -> None:
    out, _ = tiny
    reference = load_reference(out)
    assert list(reference.columns) == ["dataset", "model", "seed", "accuracy"]
    assert len(reference) == 2 * 2 * 2
    split = datasets.load_split("iris", 0)
    model = LogisticRegression(max_iter=1000).fit(split.X_train, split.y_train)
    row = reference[(reference.dataset == "iris") & (reference.model == "logreg")]
    assert row[row.seed == 0]["accuracy"].item() == pytest.approx(
        float(np.mean(model.predict(split.X_test) == split.y_test))
    )


def test_same_seeds_same_results_in_one_process_or_a_pool(tiny, tmp_path: Path) -> None:
    _, serial = tiny
    parallel = load_rounds(bench(grid(), tmp_path / "pool", jobs=2))
    pd.testing.assert_frame_equal(serial.drop(columns=TIMES), parallel.drop(columns=TIMES))


def test_rerun_skips_finished_cells_and_a_changed_grid_runs_only_new_cells(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    small = grid(datasets=["iris"], models=["logreg"], strategies=["margin"], seeds=1)
    bench(small, out)
    before = files(out)
    assert len(before) == 2  # margin and random

    bench(small, out)
    assert files(out) == before  # nothing rewritten

    bigger = {**small, "strategies": ["margin", "entropy"], "seeds": 2}
    bench(bigger, out)
    after = files(out)
    assert len(after) == 6
    assert {k: after[k] for k in before} == before  # old cells kept as they were
    rounds = load_rounds(out)
    assert rounds.groupby("cell").size().eq(6).all()  # no duplicated rounds
    assert rounds["cell"].nunique() == 6

    # Back to the small grid: the extra cells stay on disk but are not reported.
    bench(small, out)
    assert files(out) == after
    assert set(load_rounds(out)["cell"]) == set(before)


def test_a_partial_file_is_removed_and_never_read(tmp_path: Path) -> None:
    out = tmp_path / "run"
    small = grid(datasets=["iris"], models=["logreg"], strategies=["margin"], seeds=1)
    bench(small, out)
    partial = out / "cells" / ".0123456789abcdef.parquet.999.1a2b3c4d.tmp"
    partial.write_bytes(b"half a parquet file")
    assert "0123456789abcdef" not in finished_cells(out)
    assert load_rounds(out)["cell"].nunique() == 2
    bench(small, out)
    assert not partial.exists()


def test_a_failing_cell_is_reported_and_the_others_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "run"
    broken = {"name": "margin", "label": "broken", "params": {"sampling": "bogus"}}
    data = grid(datasets=["iris"], models=["logreg"], strategies=["margin", broken], seeds=1)
    with pytest.raises(BenchError, match=r"(?s)1 of \d+ tasks failed.*broken / iris.*bogus"):
        bench(data, out)
    assert set(load_rounds(out)["strategy"]) == {"margin", "random"}
    kept = files(out)
    with pytest.raises(BenchError, match="1 of 1 tasks failed"):  # only the failed cell reruns
        bench(data, out)
    assert files(out) == kept


def test_budgets_in_labels_fractions_and_pool(tmp_path: Path) -> None:
    assert resolve_budget("pool", 112) == 112
    assert resolve_budget(0.25, 112) == 28
    out = tmp_path / "run"
    data = grid(
        datasets=["iris"],
        models=["logreg"],
        strategies=["margin"],
        seeds=1,
        initial_sizes=[6, 20],
        batch_sizes=[40],
        budgets=[0.1, "pool"],
    )
    console = Console(record=True, width=200)
    run(parse(data), jobs=1, out=out, progress=False, console=console)
    assert (
        "budget 11 on iris leaves nothing to query after 20 initial labels" in console.export_text()
    )
    rounds = load_rounds(out)
    ends = rounds.groupby(["initial_size", "budget"])["n_labeled"].max().to_dict()
    assert ends == {(6, 11): 11, (6, 112): 112, (20, 112): 112}

    with pytest.raises(ConfigError, match="budget 500 asks for 500 labels but iris has 112"):
        bench({**data, "budgets": [500]}, out)
    with pytest.raises(ConfigError, match="no cell to run"):
        bench({**data, "initial_sizes": [20], "budgets": [0.1]}, out)


def test_a_user_file_runs_like_a_registered_data_set(tmp_path: Path, iris) -> None:
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    frame.to_csv(tmp_path / "flowers.csv", index=False)
    data = grid(datasets=[], models=["logreg"], strategies=["margin"], seeds=1)
    data["files"] = {"flowers": {"path": "flowers.csv", "label": "species"}}
    out = run(
        parse(data, base=tmp_path), jobs=1, out=tmp_path / "run", progress=False, console=quiet()
    )
    rounds = load_rounds(out)
    assert set(rounds["dataset"]) == {"flowers"}
    assert rounds.groupby("cell")["n_labeled"].max().eq(30).all()


def test_expand_leaves_out_what_a_model_cannot_serve_with_a_note() -> None:
    cells, notes = expand(parse(grid()), {"iris": 112, "wine": 133})
    assert notes == [
        "bald needs sample_proba, which logreg does not give; those cells are left out."
    ]
    assert len(cells) == 2 * 2 * (3 + 2)
    assert len({cell.id for cell in cells}) == len(cells)
    # The id covers what defines the cell: another budget or model parameter is another cell.
    other, _ = expand(parse(grid(budgets=[31])), {"iris": 112, "wine": 133})
    assert not {c.id for c in cells} & {c.id for c in other}


def test_svm_rbf_runs_without_a_warning_per_fit(tmp_path: Path) -> None:
    import warnings

    data = grid(datasets=["iris"], models=["svm-rbf"], strategies=["margin"], seeds=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = bench({**data, "budgets": [12]}, tmp_path / "run")
    assert not [w for w in caught if "probability" in str(w.message)]
    assert set(load_rounds(out)["model"]) == {"svm-rbf"}
