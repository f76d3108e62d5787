"""IEThresh's view of five simulated annotators after labelling 200 items.

Annotators of accuracy 0.95, 0.9, 0.8, 0.6 and 0.5 label a binary task through a
:class:`activelab.oracles.MultiAnnotatorOracle` that asks whom IEThresh chooses; the
figure shows each one's interval estimate of agreement with the majority, the threshold,
and who is asked next. Writes ``plot-annotators.png`` into the folder given as the first
argument (default: ``docs/img``).

    .venv/bin/python examples/plot_annotators.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

from activelab.oracles import IEThresh, MultiAnnotatorOracle, simulated_annotators
from activelab.plot import annotator_utilities


def main(out: Path) -> None:
    """Label 200 items in batches of 20 and draw the annotators' intervals."""
    y = np.random.default_rng(0).integers(0, 2, 200)
    accuracies = [0.95, 0.9, 0.8, 0.6, 0.5]
    crowd = simulated_annotators(y, accuracies=accuracies, random_state=0)
    oracle = MultiAnnotatorOracle(crowd, selection=IEThresh(epsilon=0.8), random_state=0)
    for start in range(0, 200, 20):
        oracle.label(np.arange(start, start + 20))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "plot-annotators.png"
    names = [f"accuracy {a:.2f}" for a in accuracies]
    annotator_utilities(oracle, names=names, path=str(path))
    print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img"))
