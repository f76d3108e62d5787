"""``activelab bench`` and ``activelab report`` end to end, and resume after a killed run."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activelab.bench import load_rounds
from activelab.bench.store import finished_cells
from activelab.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "240"}

TINY = """
name = "tiny"
datasets = ["iris"]
strategies = ["margin", "entropy"]
seeds = 2
initial_sizes = [6]
batch_sizes = [8]
budgets = [30]
[models.logreg]
"""

# Slow enough per cell (a forest refit each round, a few tenths of a second a cell) that a
# run can be stopped mid-grid; each run below is stopped once it has finished more cells
# than before.
KILLABLE = """
name = "killable"
datasets = ["digits"]
strategies = ["margin", "entropy"]
seeds = 4
initial_sizes = [10]
batch_sizes = [10]
budgets = [60]
[models.forest]
n_estimators = 10
"""


def invoke(*args: str):
    return runner.invoke(app, list(args), env=WIDE)


def test_bench_then_report_end_to_end(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "runs" / "tiny"
    result = invoke("bench", str(config), "--jobs", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "6 cells; 0 done already, 6 to run" in result.output
    assert "Mean AULC" in result.output
    for strategy in ("margin", "entropy", "random"):
        assert strategy in result.output
    assert f"activelab report {out}" in result.output
    assert (out / "rounds.parquet").is_file() and (out / "reference.parquet").is_file()
    assert (out / "config.toml").read_text() == TINY
    assert load_rounds(out)["cell"].nunique() == 6

    again = invoke("bench", str(config), "--jobs", "1", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert "6 cells; 6 done already, 0 to run" in again.output

    report = invoke("report", str(out))
    assert report.exit_code == 0, report.output
    html = out / "report" / "report.html"
    assert str(html) in report.output.replace("\n", "")
    assert "margin" in html.read_text()
    assert (out / "report" / "summary.md").is_file()


def test_bench_default_folder_is_runs_name(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "tiny.toml").write_text(TINY.replace("seeds = 2", "seeds = 1"))
    monkeypatch.chdir(tmp_path)
    result = invoke("bench", "tiny.toml", "-j", "1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "tiny" / "rounds.parquet").is_file()


def test_bench_and_report_errors_exit_2_with_the_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace('"entropy"', '"entropi"'))
    result = invoke("bench", str(config))
    assert result.exit_code == 2
    assert "unknown strategy 'entropi'. Did you mean 'entropy'" in result.output
    missing = invoke("bench", str(tmp_path / "none.toml"))
    assert missing.exit_code == 2 and "cannot read the config" in missing.output
    no_jobs = invoke("bench", str(config), "--jobs", "0")
    assert no_jobs.exit_code == 2 and "--jobs 0 runs nothing" in no_jobs.output
    nothing = invoke("report", str(tmp_path / "nothing"))
    assert nothing.exit_code == 2 and "is not a folder" in nothing.output
    empty = invoke("report", str(tmp_path))
    assert empty.exit_code == 2 and "no benchmark results" in empty.output


def _children(pid: int) -> list[int]:
    found = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(path) as handle:
            found += [int(child) for child in handle.read().split()]
    return found


def _workers(pid: int) -> list[int]:
    """The loky worker processes of a run (not its resource trackers)."""
    workers = []
    for child in _children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ")
        except FileNotFoundError:
            continue
        if b"popen_loky_posix" in command:
            workers.append(child)
    return workers


def _start(config: Path, out: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", "from activelab.cli import app; app()"]
    command += ["bench", str(config), "--jobs", "2", "--out", str(out)]
    return subprocess.Popen(
        command,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **WIDE},
        cwd=config.parent,
        # A shell that runs the tests in the background ignores SIGINT, and the child
        # would inherit that and never see the Ctrl-C this test sends.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_cells(process: subprocess.Popen, out: Path, more_than: int) -> None:
    """Wait until more than ``more_than`` cells are finished (the run must still be going)."""
    deadline = time.monotonic() + 120
    while len(finished_cells(out)) <= more_than:
        assert process.poll() is None, "the run ended before it could be stopped"
        assert time.monotonic() < deadline, "no cell finished in two minutes"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the workers")
def test_resume_after_ctrl_c_and_after_killed_workers(tmp_path: Path) -> None:
    config = tmp_path / "killable.toml"
    config.write_text(KILLABLE)
    out = tmp_path / "run"
    total = 4 * 3  # seeds × (two strategies + random)

    # 1. Ctrl-C in the middle of the grid: finished cells are kept, the command says so.
    log = tmp_path / "first.log"
    first = _start(config, out, log)
    _wait_for_cells(first, out, more_than=0)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=60) == 130, log.read_text()
    assert "run the same command again to finish the rest" in log.read_text()
    after_interrupt = {
        c: (out / "cells" / f"{c}.parquet").stat().st_mtime_ns for c in finished_cells(out)
    }
    assert 0 < len(after_interrupt) < total

    # 2. Kill the worker processes mid-grid: the run fails, finished cells are kept.
    log = tmp_path / "second.log"
    second = _start(config, out, log)
    _wait_for_cells(second, out, more_than=len(after_interrupt))
    workers = _workers(second.pid)
    assert workers, "found no worker process"
    for worker in workers:
        os.kill(worker, signal.SIGKILL)
    assert second.wait(timeout=60) == 1, log.read_text()
    assert "a worker process died" in log.read_text()
    kept = {c: (out / "cells" / f"{c}.parquet").stat().st_mtime_ns for c in finished_cells(out)}
    assert len(after_interrupt) < len(kept) < total

    # 3. The same command again finishes only the rest; nothing is duplicated.
    third = invoke("bench", str(config), "--jobs", "1", "--out", str(out))
    assert third.exit_code == 0, third.output
    assert f"{total} cells; {len(kept)} done already, {total - len(kept)} to run" in third.output
    for cell, written in kept.items():
        assert (out / "cells" / f"{cell}.parquet").stat().st_mtime_ns == written
    rounds = load_rounds(out)
    assert rounds["cell"].nunique() == total
    assert not rounds.duplicated(["cell", "round"]).any()
    assert (
        rounds.groupby("cell")["n_labeled"]
        .apply(list)
        .map(lambda n: n == list(range(10, 61, 10)))
        .all()
    )
    assert not list((out / "cells").glob(".*.tmp"))
