"""VAAL and learning loss against random and entropy sampling, on one small CNN.

How to run
----------
``.venv/bin/python benchmarks/bench_deep_strategies.py`` from the repository root
(``--quick``: 2 seeds and a smaller budget, a smoke test; ``--seeds 5`` for more). No data
is downloaded (scikit-learn's bundled digits); no GPU is needed (``--device cuda`` runs
the networks there).

What it measures
----------------
scikit-learn's digits as images ``(1, 8, 8)`` (1,797 rows; 1,297 a pool, 500 a test
set, split per seed), a small CNN trained by :class:`activelab.models.TorchClassifier`
from scratch every round (conv 16×3×3 – ReLU – conv 32×3×3 stride 2 – ReLU – dense 64 –
ReLU – dense 10; Adam, 40 epochs, batch 32), ``initial`` random labels, then rounds of
``batch`` queries up to ``budget``:

``random``, ``entropy``
    The plain network, queried uniformly and by predictive entropy.
``vaal``
    The same network; VAAL (its defaults: the convolutional VAE on the images) picks.
``loss_prediction``
    The network trained with a loss-prediction module on its two conv blocks and its
    hidden dense layer (``LossPredictionHead(["1", "3", "6"])``, stop gradient from epoch
    24 of 40, the paper's 60 %), queried by the highest predicted loss.

Columns: area under the learning curve of test accuracy (``al.simulate``'s normalised
AULC, mean ± standard deviation over seeds), the ratio to random's mean in the same run,
the final accuracy, and the median query time per round. No peer library implements
either method (``/work/shared/peer_features.md``: "VAAL and loss prediction (LL4AL): in
no library"), so the comparison is with our own baselines, run in the same process.
The papers' own experiments (CIFAR-10/100, Caltech-256, ImageNet, Cityscapes for VAAL;
CIFAR-10, human pose, object detection for LL4AL) use ResNets on thousands of labels;
this run checks the methods on a budget a CPU finishes in minutes, where they are not
expected to beat entropy by much.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_lines, markdown_table, missing_activelab

try:
    import torch

    import activelab as al
    from activelab.models._torch import TorchClassifier
    from activelab.strategies._loss_prediction import LossPrediction, LossPredictionHead
    from activelab.strategies._vaal import VAAL
except ImportError as error:  # pragma: no cover - run by hand
    missing_activelab(error)

EPOCHS = 40


def cnn(n_channels: int, n_classes: int) -> torch.nn.Module:
    """conv 16×3×3 – ReLU – conv 32×3×3/2 – ReLU – dense 64 – ReLU – dense C."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(n_channels, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1, stride=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 4 * 4, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, n_classes),
    )


def network(seed: int, device: str, loss_head: bool) -> TorchClassifier:
    head = LossPredictionHead(["1", "3", "6"], hidden=32, detach_epoch=24) if loss_head else None
    return TorchClassifier(
        cnn,
        auxiliary=head,
        epochs=EPOCHS,
        batch_size=32,
        lr=2e-3,
        validation_fraction=0.0,
        device=device,
        random_state=seed,
    )


def strategies() -> dict[str, tuple[object, bool]]:
    """Name → (strategy, whether the network carries the loss-prediction module)."""
    return {
        "random": ("random", False),
        "entropy": ("entropy", False),
        "vaal": (VAAL(), False),
        "loss_prediction": (LossPrediction(), True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget = 2, 80
    torch.set_num_threads(args.threads)
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    print(
        "\n".join(machine_lines(["torch", "scikit-learn"], threads=f"torch threads {args.threads}"))
    )
    print(
        f"digits (1, 8, 8): pool 1297, test 500 | initial {args.initial}, batch {args.batch}, "
        f"budget {args.budget} | {args.seeds} seeds | CNN, {EPOCHS} epochs per round\n"
    )
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in strategies()}
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(len(y))
        pool, test = order[:1297], order[1297:]
        for name, (strategy, loss_head) in strategies().items():
            start = time.perf_counter()
            result = al.simulate(
                network(seed, args.device, loss_head),
                strategy,
                X[pool],
                y[pool],
                X_test=X[test],
                y_test=y[test],
                initial=args.initial,
                batch_size=args.batch,
                budget=args.budget,
                random_state=seed,
            )
            history = result.history
            final = history[-1].metrics["accuracy"]
            query = statistics.median(r.query_seconds for r in history[1:]) if history[1:] else 0
            results[name].append((result.aulc, final, query))
            print(
                f"  seed {seed} {name:16s} aulc {result.aulc:.3f} final {final:.3f} "
                f"query {query:.2f} s ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    base = statistics.mean(a for a, _, _ in results["random"])
    rows = []
    for name, runs in results.items():
        aulcs = [a for a, _, _ in runs]
        spread = statistics.stdev(aulcs) if len(aulcs) > 1 else 0.0
        rows.append(
            [
                f"`{name}`",
                f"{statistics.mean(aulcs):.3f} ± {spread:.3f}",
                f"{statistics.mean(aulcs) / base:.3f}x",
                f"{statistics.mean(f for _, f, _ in runs):.3f}",
                f"{statistics.median(q for _, _, q in runs):.2f} s",
            ]
        )
    print()
    print(
        markdown_table(
            ["strategy", "AULC (accuracy)", "/ random", "final accuracy", "query (median)"],
            rows,
            right=(1, 2, 3, 4),
        )
    )


if __name__ == "__main__":
    main()
