"""ECE and log loss with and without temperature scaling, from a calibration run.

How to run
----------
::

    .venv/bin/activelab bench benchmarks/calibration.toml --jobs 2
    .venv/bin/python benchmarks/calibration_table.py runs/calibration

Prints a Markdown table: per data set and querying strategy, the expected calibration
error (15 equal-width bins) and the log loss on the test split, averaged over seeds and
over every round of the learning curve, for ``logreg`` and ``logreg-calibrated``
(``activelab.models.Calibrated``, temperature fitted by 3-fold cross-validation on the
labeled set each round), and the accuracy, which temperature scaling leaves unchanged
up to ties.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from activelab.bench import load_rounds

PLAIN, CALIBRATED = "logreg", "logreg-calibrated"


def table(run_dir: Path) -> str:
    """The Markdown table of a calibration run."""
    rounds = load_rounds(run_dir)
    means = rounds.groupby(["dataset", "strategy", "model"])[["ece", "log_loss", "accuracy"]].mean()
    lines = [
        "| data set | querying | ECE plain | ECE calibrated | log loss plain "
        "| log loss calibrated | accuracy plain | accuracy calibrated |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (dataset, strategy), group in means.groupby(level=[0, 1]):
        plain = group.loc[(dataset, strategy, PLAIN)]
        calibrated = group.loc[(dataset, strategy, CALIBRATED)]
        lines.append(
            f"| {dataset} | {strategy} | {plain.ece:.4f} | {calibrated.ece:.4f} "
            f"| {plain.log_loss:.4f} | {calibrated.log_loss:.4f} "
            f"| {plain.accuracy:.4f} | {calibrated.accuracy:.4f} |"
        )
    overall = rounds.groupby("model")[["ece", "log_loss"]].mean()
    plain, calibrated = overall.loc[PLAIN], overall.loc[CALIBRATED]
    lines.append(
        f"| **all** | both | {plain.ece:.4f} | {calibrated.ece:.4f} "
        f"| {plain.log_loss:.4f} | {calibrated.log_loss:.4f} | | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table for the run folder given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the folder `activelab bench` wrote")
    args = parser.parse_args(argv)
    print(table(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
