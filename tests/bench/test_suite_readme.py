"""benchmarks/suite_readme.py: the README's suite table, generated from a real small run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from rich.console import Console

from activelab.bench import report, run
from activelab.bench.config import parse

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "suite_readme", ROOT / "benchmarks" / "suite_readme.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["suite_readme"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two data sets × two models × margin and random × 2 seeds, and its report."""
    data = {
        "name": "tiny",
        "datasets": ["iris", "wine"],
        "models": {"logreg": {}, "forest": {"n_estimators": 5}},
        "strategies": ["margin", "entropy"],
        "seeds": 2,
        "initial_sizes": [6],
        "batch_sizes": [5],
        "budgets": [26],
    }
    out = tmp_path_factory.mktemp("runs") / "tiny"
    console = Console(file=open("/dev/null", "w"), width=200)
    run(parse(data), jobs=1, out=out, progress=False, console=console)
    report(out)
    return out


def test_table_has_a_row_per_strategy_and_columns_per_model(finished: Path) -> None:
    script = _script()
    from activelab.bench import load_rounds
    from activelab.bench.stats import average_ranks, run_aulc

    ranks = average_ranks(run_aulc(load_rounds(finished)))
    table = script.rank_table(ranks, ["forest", "logreg"])
    lines = table.splitlines()
    assert lines[0] == ("| strategy | rank, forest | AULC, forest | rank, logreg | AULC, logreg |")
    body = lines[2:]
    assert len(body) == 3
    names = {line.split(" | ")[0] for line in body}
    assert names == {"| `margin`", "| `entropy`", "| **`random`**"}
    for line in body:
        cells = [c.strip() for c in line.strip("|").split("|")]
        strategy = cells[0].strip("*`")
        for model in ("forest", "logreg"):
            row = ranks[(ranks["model"] == model) & (ranks["strategy"] == strategy)].iloc[0]
            column = 1 if model == "forest" else 3
            assert cells[column].startswith(f"{row['average_rank']:.2f}")
            assert cells[column + 1] == f"{row['mean_aulc']:.3f}"
    mean_ranks = [
        (float(c[1].split()[0]) + float(c[3].split()[0])) / 2
        for c in ([x.strip() for x in line.strip("|").split("|")] for line in body)
    ]
    assert mean_ranks == sorted(mean_ranks)


def test_write_replaces_only_the_marked_block_and_copies_curves(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    script = _script()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{script.BEGIN}\nold table\n{script.END}\n\nafter\n")
    (tmp_path / "docs" / "img").mkdir(parents=True)
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert script.main([str(finished), "--write"]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n\n")
    assert text.endswith(f"{script.END}\n\nafter\n")
    assert "old table" not in text
    assert "| **`random`** |" in text
    for model in ("forest", "logreg"):
        assert (tmp_path / "docs" / "img" / f"suite-curves-{model}.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "2 data sets × 2 seeds, 24 runs" in printed
    assert "CPU-min" in printed


def test_write_without_markers_says_what_to_add(
    finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    (tmp_path / "README.md").write_text("no markers here\n")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="markers"):
        script.main([str(finished), "--write"])
    assert (tmp_path / "README.md").read_text() == "no markers here\n"
