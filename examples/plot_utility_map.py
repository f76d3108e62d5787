"""Utility maps: where margin sampling and BALD want labels, and what core-set picks.

Three blobs in 2-D, a model fitted on 12 labelled points, and the next 8 picks of three
strategies drawn over the feature space with the decision boundary. Writes
``plot-utility-map.png`` into the folder given as the first argument (default:
``docs/img``).

    .venv/bin/python examples/plot_utility_map.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.plot import utility_map


def main(out: Path) -> None:
    """Draw the three maps side by side."""
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.5], [1.5, 3.0]])
    y = np.repeat([0, 1, 2], 100)
    X = centres[y] + rng.normal(scale=0.9, size=(300, 2))
    labeled = al.loop.stratified_initial(y, 12, rng)
    pool = np.setdiff1d(np.arange(300), labeled)
    logistic = LogisticRegression().fit(X[labeled], y[labeled])
    forest = al.models.wrap(RandomForestClassifier(n_estimators=50, random_state=0))
    forest.fit(X[labeled], y[labeled])
    figure, axes = plt.subplots(1, 3, figsize=(18, 5))
    for ax, (strategy, model) in zip(
        axes, [("margin", logistic), ("bald", forest), ("coreset", logistic)], strict=True
    ):
        utility_map(strategy, model, X[labeled], y[labeled], X[pool], k=8, ax=ax)
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    figure.savefig(out / "plot-utility-map.png", dpi=100)
    plt.close(figure)
    print(f"wrote {out / 'plot-utility-map.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img"))
