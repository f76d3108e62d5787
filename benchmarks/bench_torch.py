"""Deep active learning on the torch path: activelab's queries against Baal's, same network.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_torch.py`` from the repository root (``--quick``
for smaller pools, a smoke test). Baal and batchbald-redux are optional: a peer that is
not importable gets "not installed" in its cells and the rest still runs. No data is
downloaded; no GPU is needed (``--device cuda`` times both libraries on a GPU).

What it measures
----------------
Three networks of the deep active learning literature on MNIST-shaped input
(``(1, 28, 28)``, 10 classes), each trained for a few epochs by
:class:`activelab.models.TorchClassifier` on a seeded synthetic labeled set, then queried
on a seeded pool by both libraries — the same weights, ``S = 20`` MC dropout samples:

``mlp``
    784-256-256-10, ReLU, dropout 0.5 after each hidden layer.
``cnn-gal2017``
    Gal, Islam & Ghahramani (2017)'s MNIST network: conv 32×4×4 – ReLU – conv 32×4×4 –
    ReLU – max-pool 2 – dropout 0.25 – dense 128 – ReLU – dropout 0.5 – dense 10.
``cnn-kirsch2019``
    Kirsch et al. (2019)'s BatchBALD network: conv 32×5×5 – dropout2d – max-pool – ReLU –
    conv 64×5×5 – dropout2d – max-pool – ReLU – dense 128 – dropout – ReLU – dense 10.

Rows, each a whole query from the fitted network and the pool to the ``k`` indices:

``MC samples``
    The ``(S, N, C)`` posterior samples alone: ``TorchClassifier.sample_proba`` (consistent
    MC dropout; the layers before the first dropout run once per row) against Baal's
    ``ModelWrapper.predict_on_dataset(pool, iterations=S)`` on ``MCDropoutModule`` (its
    default: the batch replicated ``S`` times in memory), plus a softmax.
``BALD``, ``mean std``, ``variation ratio``
    ``al.strategies.get(name).query(model, pool, k)`` against Baal's sampling plus its
    heuristic ranking (``BALD()``, ``Variance()`` — the mean variance over classes, our
    mean standard deviation's counterpart; Baal has no variation ratio).
``BatchBALD``
    Ours (exact joint entropies while ``C**b <= 10_000``, then 10,000 sampled
    configurations) against Baal's ``BatchBALD(num_samples=k, num_draw=50)`` (always
    sampled: ``S * num_draw = 1,000`` configurations, a tenth of its default, which takes
    minutes per query here) and batchbald-redux's ``get_batchbald_batch`` (10,000, as
    ours), both after Baal's sampling pass in its faster configuration for BALD.
``BADGE``
    Ours only: Baal has no BADGE (nor core-set, or any diversity strategy).

Baal is timed in two configurations and the faster is compared: its default
(``replicate_in_memory=True``) and ``MCCachingModule`` with ``replicate_in_memory=False``
(its cache of the layers before the first dropout, our shortcut's counterpart). Both
libraries run forward passes of the same size (``ROWS_PER_FORWARD`` rows including the
MC copies) with the same torch threads (``--threads``, default 1: on a small shared
machine more threads mostly wait for each other).

Columns: best wall time of up to 3 runs after one warm-up run (a call whose warm-up
takes more than ``SLOW_S`` is timed by it alone), and ``peer/ours`` (above 1: we are
faster). Timings are only meaningful on an otherwise idle machine: the header prints
the load average.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    NOT_INSTALLED,
    fmt_ratio,
    fmt_seconds,
    import_module,
    machine_lines,
    markdown_table,
    missing_activelab,
    race,
)

try:
    import torch

    import activelab as al
    from activelab.models._torch import TorchClassifier
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
S = 20  # MC dropout samples
K = 10
N_CLASSES = 10
ROWS_PER_FORWARD = 256  # TorchClassifier's CPU default
POOLS = {"mlp": 5_000, "cnn-gal2017": 1_000, "cnn-kirsch2019": 1_000}
POOLS_QUICK = {"mlp": 1_000, "cnn-gal2017": 200, "cnn-kirsch2019": 200}
N_LABELED = 200
SLOW_S = 5.0
GOAL = 3.0
BAAL_DRAWS = 50  # Baal's default 500 takes minutes per query here


def mlp(n_features: int, n_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(256, n_classes),
    )


def cnn_gal2017(channels: int, n_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 32, 4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 4),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Dropout(0.25),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 11 * 11, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(128, n_classes),
    )


def cnn_kirsch2019(channels: int, n_classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 32, 5),
        torch.nn.Dropout2d(0.5),
        torch.nn.MaxPool2d(2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 64, 5),
        torch.nn.Dropout2d(0.5),
        torch.nn.MaxPool2d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(1024, 128),
        torch.nn.Dropout(0.5),
        torch.nn.ReLU(),
        torch.nn.Linear(128, n_classes),
    )


NETWORKS: dict[str, Callable[[int, int], torch.nn.Module]] = {
    "mlp": mlp,
    "cnn-gal2017": cnn_gal2017,
    "cnn-kirsch2019": cnn_kirsch2019,
}


def images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded MNIST-shaped images whose class is a smooth function of the pixels."""
    prototypes = rng.normal(size=(N_CLASSES, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, N_CLASSES, n)
    noise = rng.normal(scale=1.5, size=(n, 1, 28, 28)).astype(np.float32)
    return prototypes[labels] + noise, labels


# ------------------------------------------------------------------ Baal


def quiet_baal() -> None:
    """Baal logs every prediction pass through structlog: keep warnings only."""
    structlog = import_module("structlog")
    if structlog is not None:
        import logging

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def baal_sampler(network: torch.nn.Module, device: str, caching: bool) -> Callable | None:
    """A function pool -> (N, C, S) probabilities by Baal's MC dropout, or None."""
    dropout = import_module("baal.bayesian.dropout")
    modelwrapper = import_module("baal.modelwrapper")
    if dropout is None or modelwrapper is None:
        return None
    patched: torch.nn.Module = dropout.MCDropoutModule(copy.deepcopy(network))
    if caching:
        caching_utils = import_module("baal.bayesian.caching_utils")
        if caching_utils is None:
            return None
        patched = caching_utils.MCCachingModule(patched)
    patched = patched.to(device).eval()
    batch = max(1, ROWS_PER_FORWARD // S)
    criterion = torch.nn.CrossEntropyLoss()
    use_cuda = device.startswith("cuda")
    parameters = inspect.signature(modelwrapper.ModelWrapper).parameters
    if "args" in parameters:  # Baal >= 1.9: TrainingArgs
        args = modelwrapper.TrainingArgs(
            criterion=criterion,
            batch_size=batch,
            use_cuda=use_cuda,
            workers=0,
            replicate_in_memory=not caching,
        )
        wrapper = modelwrapper.ModelWrapper(patched, args)

        def predict(dataset: Any) -> np.ndarray:
            return wrapper.predict_on_dataset(dataset, iterations=S, verbose=False)

    else:  # older Baal
        wrapper = modelwrapper.ModelWrapper(patched, criterion, replicate_in_memory=not caching)

        def predict(dataset: Any) -> np.ndarray:
            return wrapper.predict_on_dataset(
                dataset, batch, S, use_cuda=use_cuda, workers=0, verbose=False
            )

    def sample(pool: np.ndarray) -> np.ndarray:
        dataset = torch.utils.data.TensorDataset(
            torch.from_numpy(pool), torch.zeros(pool.shape[0], dtype=torch.int64)
        )
        logits = torch.from_numpy(np.asarray(predict(dataset)))
        return torch.softmax(logits, dim=1).numpy()  # (N, C, S)

    return sample


# ------------------------------------------------------------------ one network


def bench_network(name: str, n_pool: int, device: str, rows: list[list[str]]) -> list[str]:
    rng = np.random.default_rng(SEED)
    X_labeled, y_labeled = images(N_LABELED, rng)
    pool, _ = images(n_pool, rng)
    model = TorchClassifier(
        NETWORKS[name],
        epochs=3,
        lr=1e-3,
        validation_fraction=0.0,
        mc_samples=S,
        inference_batch_size=ROWS_PER_FORWARD,
        device=device,
        random_state=SEED,
    ).fit(X_labeled, y_labeled)
    network = model.networks_[0]
    samplers = {
        "default": baal_sampler(network, device, caching=False),
        "MCCaching": baal_sampler(network, device, caching=True),
    }
    heuristics = import_module("baal.active.heuristics")
    redux = import_module("batchbald_redux.batchbald")
    draws = BAAL_DRAWS
    problems: list[str] = []

    def strategy(key: str) -> Callable[[], np.ndarray]:
        return lambda: al.strategies.get(key).query(model, pool, K, random_state=SEED)

    def baal(rank: Callable[[np.ndarray], Any], sampler: Callable) -> Callable[[], Any]:
        return lambda: np.asarray(rank(sampler(pool)))[:K]

    def redux_batch(sampler: Callable) -> Callable[[], Any]:
        def call() -> list[int]:
            log_probs = torch.log(torch.from_numpy(sampler(pool)).double().clamp_min(1e-30))
            torch.manual_seed(SEED)
            batch = redux.get_batchbald_batch(log_probs.permute(0, 2, 1), K, 10_000, torch.double)
            return batch.indices

        return call

    live = {key: sampler for key, sampler in samplers.items() if sampler is not None}

    def peers(make: Callable[[Callable], Callable[[], Any]]) -> dict[str, Callable[[], Any]] | str:
        return {f"baal {key}": make(sampler) for key, sampler in live.items()} or NOT_INSTALLED

    def run(label: str, ours: Callable[[], Any], theirs: dict | str) -> str | None:
        """Time one row; the key of the fastest peer call."""
        calls = {"ours": ours}
        if isinstance(theirs, dict):
            calls.update(theirs)
        outcomes = race(calls, min_repeats=1, max_repeats=3, budget_s=3.0, slow_s=SLOW_S)
        for key, outcome in outcomes.items():
            if outcome.error:
                problems.append(f"{name} {label} {key}: {outcome.error}")
        ours_s = outcomes["ours"].best
        cells = [name, f"{n_pool:,}", label, fmt_seconds(ours_s)]
        if isinstance(theirs, str):
            rows.append([*cells, theirs, "—", "—"])
            return None
        timed = {k: o.best for k, o in outcomes.items() if k != "ours" and o.best is not None}
        if not timed:
            rows.append([*cells, "error", "—", "—"])
            return None
        best = min(timed, key=timed.get)
        detail = ", ".join(f"{k.removeprefix('baal ')} {fmt_seconds(v)}" for k, v in timed.items())
        peer = (
            f"{fmt_seconds(timed[best])} ({detail})" if len(timed) > 1 else fmt_seconds(timed[best])
        )
        rows.append([*cells, peer, fmt_ratio(timed[best], ours_s, ".2f"), best])
        return best

    run("MC samples (S, N, C)", lambda: model.sample_proba(pool), peers(lambda s: lambda: s(pool)))
    fastest = None
    if heuristics is not None:
        bald, variance = heuristics.BALD(), heuristics.Variance(reduction="mean")
        fastest = run("BALD", strategy("bald"), peers(lambda s: baal(bald, s)))
        run("mean std (Baal: Variance)", strategy("mean_std"), peers(lambda s: baal(variance, s)))
    else:
        run("BALD", strategy("bald"), NOT_INSTALLED)
        run("mean std", strategy("mean_std"), NOT_INSTALLED)
    # BatchBALD's selection dwarfs the sampling pass: Baal's faster sampling config only
    sampler = live.get(fastest.removeprefix("baal ")) if fastest else None
    if heuristics is not None and sampler is not None:
        batchbald = heuristics.BatchBALD(num_samples=K, num_draw=draws)
        label = f"BatchBALD (Baal: num_draw={draws}, {S * draws:,} draws)"
        run(label, strategy("batchbald"), {fastest: baal(batchbald, sampler)})
    else:
        run("BatchBALD", strategy("batchbald"), NOT_INSTALLED)
    if redux is not None and sampler is not None:
        label = "BatchBALD (redux: 10,000 configurations)"
        run(label, strategy("batchbald"), {f"redux, {fastest}": redux_batch(sampler)})
    else:
        run("BatchBALD (batchbald-redux)", strategy("batchbald"), NOT_INSTALLED)
    run("variation ratio", strategy("variation_ratio"), "not in Baal")
    run("BADGE", strategy("badge"), "not in Baal")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small pools (a smoke test)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads, both libraries (default 1)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    quiet_baal()
    pools = POOLS_QUICK if args.quick else POOLS
    threads = f"torch threads {torch.get_num_threads()}"
    print(f"Torch path query time: S={S} MC dropout samples, k={K}, device {args.device}")
    for line in machine_lines(("activelab", "torch", "numpy", "baal", "batchbald_redux"), threads):
        print(line)
    rows: list[list[str]] = []
    problems: list[str] = []
    for name in args.networks:
        problems += bench_network(name, pools[name], args.device, rows)
        print(f"  done: {name}", flush=True)
    headers = ["network", "pool", "query", "ours", "Baal (best config; each)", "Baal/ours", "best"]
    print()
    print(markdown_table(headers, rows, right=(1, 3, 5)))
    ratios = [
        float(row[5].rstrip("x"))
        for row in rows
        if row[5] != "—" and not row[2].startswith("MC samples")
    ]
    if ratios:
        met = sum(ratio >= GOAL for ratio in ratios)
        print(f"\ngoal >= {GOAL:.0f}x faster than Baal's best configuration: ", end="")
        print(f"{met}/{len(ratios)} queries")
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
