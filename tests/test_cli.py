"""End-to-end tests of the ``activelab`` command line (typer's CliRunner, small runs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import activelab as al
from activelab.cli import app

runner = CliRunner()
# Wide enough that rich never wraps a table cell or a path.
WIDE = {"COLUMNS": "240"}


def invoke(*args: str):
    return runner.invoke(app, list(args), env=WIDE)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"activelab {al.__version__}"


def test_strategies_lists_every_registered_name() -> None:
    result = invoke("strategies")
    assert result.exit_code == 0, result.output
    for name in al.strategies.available():
        row = al.strategies.describe(name)
        assert name in result.output
        assert row["summary"] in result.output  # markup such as "[mean]" is printed as is


def test_simulate_writes_plot_and_csv_of_every_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke(
        "simulate",
        "--dataset",
        "iris",
        "--strategy",
        "margin",
        "--strategy",
        "bald",
        "--seeds",
        "2",
        "--budget",
        "30",
        "--members",
        "3",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    plot, csv = out / "learning_curves.png", out / "rounds.csv"
    assert plot.stat().st_size > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(plot) in result.output
    assert str(csv) in result.output

    rounds = pd.read_csv(csv)
    per_run = rounds.groupby(["strategy", "seed"])["round"].apply(list).to_dict()
    # initial 10, batch 10, budget 30: rounds 0, 1, 2 for every strategy and seed.
    assert per_run == {(s, seed): [0, 1, 2] for s in ("bald", "margin") for seed in (0, 1)}
    assert set(rounds.loc[rounds.strategy == "bald", "model"]) == {"bagging(3 × logreg)"}
    assert set(rounds.loc[rounds.strategy == "margin", "model"]) == {"logreg"}
    assert (rounds.groupby(["strategy", "seed"])["n_labeled"].max() == 30).all()
    # Every strategy of a seed starts from the same initial set.
    first = rounds[rounds["round"] == 0].set_index(["seed", "strategy"])["indices"]
    for seed in (0, 1):
        assert first[(seed, "margin")] == first[(seed, "bald")]

    # The summary names the committee bald ran on.
    assert "bagging(3 × logreg)" in result.output
    summary = result.output[result.output.index("Summary") :]
    assert "margin" in summary
    assert "bald" in summary


def test_parallel_runs_equal_serial_runs(tmp_path: Path) -> None:
    frames = []
    for n_jobs in ("1", "2"):
        out = tmp_path / f"jobs{n_jobs}"
        args = ["simulate", "--dataset", "wine", "-s", "margin", "-s", "random"]
        args += ["--seeds", "2", "--budget", "30", "--n-jobs", n_jobs, "--out", str(out)]
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        frames.append(
            pd.read_csv(out / "rounds.csv").drop(columns=["query_seconds", "fit_seconds"])
        )
    pd.testing.assert_frame_equal(frames[0], frames[1])


def test_unknown_strategy_names_the_valid_choices(tmp_path: Path) -> None:
    result = invoke("simulate", "--dataset", "iris", "-s", "marginn", "--out", str(tmp_path))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "unknown strategy 'marginn'" in result.output
    for name in al.strategies.available():
        assert name in result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("option", "value", "choices"),
    [
        ("--dataset", "mnist", ["breast_cancer", "digits", "iris", "wine"]),
        ("--model", "svm", ["logreg", "forest", "nb"]),
    ],
)
def test_unknown_dataset_or_model_names_the_choices(
    option: str, value: str, choices: list[str]
) -> None:
    result = invoke("simulate", option, value)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert value in result.output
    for choice in choices:
        assert choice in result.output


def test_budget_larger_than_pool_is_a_clean_error() -> None:
    result = invoke("simulate", "--dataset", "iris", "--budget", "500")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "--budget" in result.output
    assert "112" in result.output  # 150 iris rows less the 25 % test split
