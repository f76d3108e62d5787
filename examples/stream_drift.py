"""Stream-based active learning under concept drift, with a budget manager.

Items arrive one mini-batch at a time from a stream whose decision boundary rotates by
90° halfway (:func:`activelab.stream.drifting_hyperplane`, 5 % label noise). A
``SGDClassifier`` learns by ``partial_fit`` from the items it chose to label, at a 5 %
budget. Three ways to spend that budget are compared, test-then-train (each item is
predicted before its label could be asked for):

- ``split``: Žliobaitė et al.'s split strategy with an explicit budget manager,
  ``SplitBudget(budget, v=0.2)``: a fifth of the decisions are random, which lets the
  model notice a drift far from its current boundary;
- ``variable_uncertainty``: the least confident items only;
- ``random``: each item with probability ``budget``.

The loop is written out with :class:`activelab.stream.StreamLearner` (``query`` then
``teach``), the way a live stream would be served. It prints, per strategy, the labels
used and the accuracy over the items before the drift, just after it, and at the end.

    .venv/bin/python examples/stream_drift.py            # 20,000 items, ~10 s of CPU
    .venv/bin/python examples/stream_drift.py --n 4000 --budget 0.1
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import SGDClassifier

import activelab as al

STRATEGIES = ("split", "variable_uncertainty", "random")


def learner_for(name: str, budget: float, seed: int) -> al.stream.StreamLearner:
    """A StreamLearner with an incremental model; ``split`` gets its manager explicitly."""
    # a constant learning rate keeps the model able to move after the drift (the default
    # "optimal" schedule shrinks the steps as 1/t and would adapt ever more slowly)
    model = SGDClassifier(
        loss="log_loss", learning_rate="constant", eta0=0.05, alpha=1e-4, random_state=seed
    )
    if name == "split":
        manager = al.stream.SplitBudget(budget=budget, v=0.2)
        return al.stream.StreamLearner(model, "split", manager, classes=[0, 1], random_state=seed)
    return al.stream.StreamLearner(model, name, budget=budget, classes=[0, 1], random_state=seed)


def run(name: str, X: np.ndarray, y: np.ndarray, budget: float, batch: int, seed: int) -> dict:
    """Test-then-train over the stream; per-item correctness and the labels used."""
    learner = learner_for(name, budget, seed)
    correct = np.zeros(len(y), dtype=bool)
    for start in range(0, len(y), batch):
        rows, labels = X[start : start + batch], y[start : start + batch]
        correct[start : start + batch] = learner.predict(rows) == labels  # test
        queried = learner.query(rows)  # query or discard, item by item
        if queried.any():
            learner.teach(rows[queried], labels[queried])  # train on what was bought
    return {"labels": learner.n_queried_, "correct": correct}


def main(argv: list[str] | None = None) -> dict[str, dict]:
    """Run the three strategies over one drifting stream and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="items in the stream")
    parser.add_argument("--budget", type=float, default=0.05, help="share of items to label")
    parser.add_argument("--batch", type=int, default=10, help="items per mini-batch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X, y = al.stream.drifting_hyperplane(
        args.n, n_features=4, drift_at=0.5, angle=90.0, noise=0.05, random_state=args.seed
    )
    half, tenth = args.n // 2, args.n // 10
    spans = {
        "before the drift": slice(half - tenth, half),
        "just after": slice(half, half + tenth),
        "at the end": slice(args.n - tenth, args.n),
    }
    print(
        f"{args.n:,} items, boundary rotated by 90° at item {half:,}, budget "
        f"{args.budget:.0%}; accuracy over {tenth:,} items:"
    )
    print(f"{'strategy':<22}{'labels':>8}" + "".join(f"{span:>18}" for span in spans))
    results = {}
    for name in STRATEGIES:
        result = run(name, X, y, args.budget, args.batch, args.seed)
        result["accuracy"] = {span: float(result["correct"][s].mean()) for span, s in spans.items()}
        results[name] = result
        cells = "".join(f"{value:>18.3f}" for value in result["accuracy"].values())
        print(f"{name:<22}{result['labels']:>8,}{cells}")
    return results


if __name__ == "__main__":
    main()
