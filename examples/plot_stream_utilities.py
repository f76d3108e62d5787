"""A stream rule over time: each arriving item's utility, which were queried, the rate.

Variable uncertainty (Žliobaitė et al. 2014) at a 10 % budget on a stream whose boundary
rotates by 90° halfway. Writes ``plot-stream-utilities.png`` into the folder given as the
first argument (default: ``docs/img``).

    .venv/bin/python examples/plot_stream_utilities.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from sklearn.linear_model import SGDClassifier

import activelab as al
from activelab.plot import stream_utilities


def main(out: Path) -> None:
    """Run the rule over 2,000 items and draw it."""
    X, y = al.stream.drifting_hyperplane(2000, random_state=0)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "plot-stream-utilities.png"
    stream_utilities(
        SGDClassifier(loss="log_loss", random_state=0),
        "variable_uncertainty",
        X,
        y,
        budget=0.1,
        batch_size=10,
        random_state=0,
        path=str(path),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/img"))
