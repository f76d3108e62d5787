"""The README's suite table and curves, generated from a finished suite run.

How to run
----------
::

    .venv/bin/activelab bench benchmarks/suite.toml --jobs 2
    .venv/bin/activelab report runs/suite
    .venv/bin/python benchmarks/suite_readme.py runs/suite --write

The first two commands run the suite and write its report (``runs/suite/report``). This
script prints one Markdown table with a row per strategy: its average rank over the
data sets and its mean AULC of accuracy, for each model side by side, with ✗ where the
strategy is significantly worse than the best of its model (Nemenyi critical
difference, α = 0.05) and random in bold. It also prints the wall time of the run (first
to last cell file written) and the sum of the cells' own fit and query seconds, which
divided by the cores is what the suite costs on an otherwise idle machine. With
``--write`` it replaces the block between ``<!-- suite-table:begin -->`` and
``<!-- suite-table:end -->`` in README.md with the table and copies the report's curve
images to ``docs/img/suite-curves-MODEL.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import pandas as pd

from activelab.bench import load_rounds
from activelab.bench.stats import average_ranks, run_aulc

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- suite-table:begin -->", "<!-- suite-table:end -->"
BASELINE = "random"


def rank_table(ranks: pd.DataFrame, models: list[str]) -> str:
    """Strategies × models: average rank and mean AULC, best mean rank first."""
    by_model = {model: ranks[ranks["model"] == model].set_index("strategy") for model in models}
    strategies = sorted(set(ranks["strategy"]))

    def order(strategy: str) -> tuple[float, str]:
        present = [
            table.loc[strategy, "average_rank"]
            for table in by_model.values()
            if strategy in table.index
        ]
        return (sum(present) / len(present), strategy)

    headers = ["strategy"]
    for model in models:
        headers += [f"rank, {model}", f"AULC, {model}"]
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (2 * len(models))]
    for strategy in sorted(strategies, key=order):
        name = f"**`{strategy}`**" if strategy == BASELINE else f"`{strategy}`"
        cells = [name]
        for model in models:
            table = by_model[model]
            if strategy not in table.index:
                cells += ["—", "—"]
                continue
            row = table.loc[strategy]
            mark = "" if bool(row["within_cd"]) else " ✗"
            cells += [f"{row['average_rank']:.2f}{mark}", f"{row['mean_aulc']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def caption(ranks: pd.DataFrame, models: list[str], rounds: pd.DataFrame) -> str:
    """One line per model: strategies ranked, data sets and the critical difference."""
    parts = []
    for model in models:
        group = ranks[ranks["model"] == model]
        parts.append(
            f"{model}: {len(group)} strategies, critical difference "
            f"{float(group['cd'].iloc[0]):.1f}"
        )
    n_runs = rounds.groupby(["dataset", "model", "strategy", "seed"]).ngroups
    return (
        f"{rounds['dataset'].nunique()} data sets × {rounds['seed'].nunique()} seeds, "
        f"{n_runs:,} runs; " + "; ".join(parts) + "."
    )


def durations(run_dir: Path, rounds: pd.DataFrame) -> str:
    """The run's wall time and the cells' own compute seconds."""
    files = sorted((run_dir / "cells").glob("*.parquet"), key=lambda p: p.stat().st_mtime)
    seconds = [c for c in ("fit_seconds", "query_seconds") if c in rounds.columns]
    compute = float(rounds[seconds].sum().sum()) if seconds else math.nan
    wall = files[-1].stat().st_mtime - files[0].stat().st_mtime if len(files) > 1 else math.nan
    return (
        f"wall time from the first to the last cell: {wall / 60:.0f} min; "
        f"the cells' own fit and query time: {compute / 60:.0f} CPU-min "
        f"({compute / 120:.0f} min on 2 idle cores, evaluation not counted)"
    )


def write_readme(table: str, readme: Path) -> None:
    """Replace the marked block of the README with the table."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: the markers {BEGIN} and {END} are missing; add them around the table")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}", encoding="utf-8")


def copy_curves(run_dir: Path, models: list[str], images: Path) -> list[Path]:
    """The report's accuracy curves per model, copied under docs/img."""
    copied = []
    for model in models:
        found = sorted((run_dir / "report").glob(f"curves_{model}*.png"))
        if not found:
            print(f"no curve image for {model} in {run_dir / 'report'}: run activelab report first")
            continue
        target = images / f"suite-curves-{model}.png"
        shutil.copyfile(found[0], target)
        copied.append(target)
    return copied


def model_order(run_dir: Path, models: list[str]) -> list[str]:
    """The models in the order the run's configuration lists them (else by name)."""
    config = run_dir / "config.json"
    listed: list[str] = []
    if config.is_file():
        listed = list(json.loads(config.read_text(encoding="utf-8")).get("models", {}))
    return sorted(models, key=lambda m: (listed.index(m) if m in listed else len(listed), m))


def main(argv: list[str] | None = None) -> int:
    """Print (and with --write, apply) the suite's README table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="the suite's run folder (runs/suite)")
    parser.add_argument("--write", action="store_true", help="update README.md and docs/img")
    args = parser.parse_args(argv)
    rounds = load_rounds(args.run_dir)
    ranks = average_ranks(run_aulc(rounds, "accuracy"))
    models = model_order(args.run_dir, list(ranks["model"].unique()))
    table = rank_table(ranks, models)
    print(caption(ranks, models, rounds))
    print(durations(args.run_dir, rounds))
    print()
    print(table)
    if args.write:
        write_readme(table, ROOT / "README.md")
        for path in copy_curves(args.run_dir, models, ROOT / "docs" / "img"):
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
