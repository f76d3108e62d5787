"""Deep active learning on images: a small CNN on scikit-learn's 8×8 digits.

The data: the 1,797 handwritten digits of :func:`sklearn.datasets.load_digits` as
``(1, 8, 8)`` images (nothing is downloaded), split into a pool and a stratified test set.
The model: a two-convolution CNN with dropout before its output layer, wrapped in
:class:`activelab.models.TorchClassifier` and retrained from scratch every round.
Compared: BALD and BatchBALD (MC dropout), BADGE (last-layer gradient embeddings) and
random sampling, from the same balanced start in each seed.

Prints a Markdown table of test accuracy against labels bought (mean ± standard deviation
over the seeds) and saves the learning curves (mean ± 95 % CI) with
:func:`activelab.plot.learning_curves`.

Run::

    pip install 'activelab[torch]' matplotlib
    python examples/image_digits.py         # about 1.5 minutes of one CPU core
    python examples/image_digits.py --out curves.png --seeds 5 --budget 150
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import activelab as al
import activelab.plot
from activelab.models import TorchClassifier

STRATEGIES = ("bald", "batchbald", "badge", "random")


def digits_cnn(n_channels: int, n_classes: int) -> torch.nn.Module:
    """Two 3×3 convolutions with max-pooling, a dense layer, dropout, the output layer."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(n_channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 64),
        nn.ReLU(),
        nn.Dropout(0.5),  # MC dropout samples come from here (the convolutions run once)
        nn.Linear(64, n_classes),
    )


def balanced_start(y: np.ndarray, per_class: int, seed: int) -> list[int]:
    """``per_class`` random rows of every class: the seed's initial labeled set."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    return sorted(int(i) for i in np.concatenate(rows))


def main(argv: Sequence[str] | None = None) -> dict[str, list[al.Result]]:
    """Run the comparison; return the results per strategy (one per seed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="plot path (.png, .svg, …)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=80, help="labels, the start included")
    parser.add_argument("--batch", type=int, default=10, help="labels per round")
    parser.add_argument("--per-class", type=int, default=2, help="initial labels per class")
    parser.add_argument("--epochs", type=int, default=100, help="training passes per round")
    parser.add_argument("--mc-samples", type=int, default=50)
    parser.add_argument("--test", type=int, default=500, help="images in the test set")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # small networks: more threads mostly wait for each other

    digits = load_digits()
    X = (digits.data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, digits.target, test_size=args.test, stratify=digits.target, random_state=0
    )

    results: dict[str, list[al.Result]] = {name: [] for name in args.strategies}
    began = time.perf_counter()
    for seed in range(args.seeds):
        initial = balanced_start(y_pool, args.per_class, seed)
        for name in args.strategies:
            model = TorchClassifier(
                digits_cnn,
                epochs=args.epochs,
                batch_size=16,  # a few labels: small batches give enough gradient steps
                lr=3e-3,
                validation_fraction=0.0,  # a few labels: train every epoch, no held-out slice
                mc_samples=args.mc_samples,
                device="cpu",
                random_state=seed,
            )
            results[name].append(
                al.simulate(
                    model,
                    name,
                    X_pool,
                    y_pool,
                    X_test,
                    y_test,
                    initial=initial,
                    batch_size=args.batch,
                    budget=args.budget,
                    metrics=["accuracy"],
                    random_state=seed,
                )
            )

    counts = results[args.strategies[0]][0].curve()[0]
    shown = sorted({int(counts[0]), int(counts[len(counts) // 2]), int(counts[-1])})
    print(
        f"Digits, {len(y_pool)} pool / {len(y_test)} test images, {args.seeds} seeds, "
        f"{time.perf_counter() - began:.0f} s\n"
    )
    print("| strategy | " + " | ".join(f"accuracy at {c}" for c in shown) + " | AULC |")
    print("| --- | " + " | ".join("---:" for _ in shown) + " | ---: |")
    for name, runs in results.items():
        cells = []
        for count in shown:
            values = [dict(zip(*r.curve(), strict=True))[count] for r in runs]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        aulcs = [r.aulc for r in runs]
        print(f"| `{name}` | " + " | ".join(cells) + f" | {np.mean(aulcs):.3f} |")

    out = args.out or Path(tempfile.mkdtemp(prefix="activelab-")) / "image_digits.png"
    figure = activelab.plot.learning_curves(results)
    figure.axes[0].set_ylim(0.0, 1.0)  # the 95 % band of a few seeds can leave [0, 1]
    figure.savefig(out, dpi=120)
    print(f"\nLearning curves: {out}")
    return results


if __name__ == "__main__":
    main()
