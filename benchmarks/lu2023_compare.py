"""Our AUBC against Lu, Cheng, Li & Lin (2023), data set by data set.

How to run
----------
::

    .venv/bin/activelab bench benchmarks/lu2023.toml --jobs 2
    .venv/bin/python benchmarks/lu2023_compare.py runs/lu2023

The first command runs their protocol (SVM-RBF ``gamma="auto"``, ``C=1``; 40 % test; 20
random initial labels; batch 1; the whole pool as budget) on every one of their data sets
that an offline package ships and that the whole-pool budget allows on 2 cores; the
second prints a Markdown table of our mean ± standard deviation of the AUBC (area under
the budget curve of test accuracy, normalised to [0, 1]) over seeds next to theirs, from
``benchmarks/lu2023_paper.csv`` (their summary table, Uniform and US-C columns; US-C is
margin sampling on the SVM's probabilities). A row agrees when our mean lies within
their reported standard deviation of theirs. Rows of their table that no offline package
ships, or that differ from the copy we have, are listed with the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from activelab.bench import load_rounds
from activelab.bench.stats import run_aulc

PAPER = Path(__file__).with_name("lu2023_paper.csv")
STRATEGIES = {"random": "random", "margin": "margin"}


def ours(run_dir: Path) -> pd.DataFrame:
    """Mean, standard deviation and seed count of each data set's AUBC, per strategy."""
    aulcs = run_aulc(load_rounds(run_dir), "accuracy")
    return (
        aulcs.groupby(["dataset", "strategy"])["aulc"].agg(["mean", "std", "count"]).reset_index()
    )


def table(run_dir: Path) -> str:
    """The Markdown comparison table and the list of rows left out."""
    paper = pd.read_csv(PAPER, keep_default_na=False)
    measured = ours(run_dir).set_index(["dataset", "strategy"])
    lines = [
        "| data set (theirs → ours) | random: paper | random: ours | margin: paper "
        "| margin: ours | margin − random: paper | ours | seeds | agree |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    skipped = []
    for row in paper.itertuples():
        name = row.activelab_name
        keys = [(name, strategy) for strategy in STRATEGIES]
        if not name or any(key not in measured.index for key in keys):
            skipped.append(f"- {row.paper_name}: {row.note or 'not in this run'}")
            continue
        random, margin = (measured.loc[key] for key in keys)
        agree = (
            abs(random["mean"] - row.random_mean) <= row.random_sd
            and abs(margin["mean"] - row.margin_mean) <= row.margin_sd
        )
        lines.append(
            f"| {row.paper_name} → {name} "
            f"| {row.random_mean:.4f} ± {row.random_sd:.4f} "
            f"| {random['mean']:.4f} ± {random['std']:.4f} "
            f"| {row.margin_mean:.4f} ± {row.margin_sd:.4f} "
            f"| {margin['mean']:.4f} ± {margin['std']:.4f} "
            f"| {row.margin_mean - row.random_mean:+.4f} "
            f"| {margin['mean'] - random['mean']:+.4f} "
            f"| {int(random['count'])} | {'yes' if agree else 'no'} |"
        )
    return "\n".join(lines) + "\n\nLeft out:\n\n" + "\n".join(skipped) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the comparison for the run folder given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the folder `activelab bench` wrote")
    args = parser.parse_args(argv)
    if not (args.run_dir / "cells").exists() and not any(args.run_dir.glob("*.parquet")):
        print(
            f"{args.run_dir} holds no results; run "
            "`activelab bench benchmarks/lu2023.toml --jobs 2` first.",
            file=sys.stderr,
        )
        return 2
    print(table(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
