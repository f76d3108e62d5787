"""Region-based active learning for segmentation: IoU against pixels and clicks labelled.

Two data sets, each run with ``--seeds`` seeds:

- nuclei: the stardist wheel's 512×512 fluorescence image (2018 Data Science Bowl); the
  pool is its left half, the test image its right half; foreground (nucleus) IoU.
- digits: scenes of scikit-learn digits (0-3) on a noisy background, 24 pool scenes and
  8 test scenes of 48×48 pixels; mIoU over the 5 classes.

Regions are a fixed grid or SLIC superpixels; strategies are random regions, top
entropy, class-balanced entropy (Cai et al. 2021) and diverse batches (cluster-then-pick
on region features). The oracle labels every pixel of a region ("full"); SLIC is also
run with dominant labels (one class per superpixel, Cai et al. 2021). The model is the
pixel-feature random forest. No peer library does region-based segmentation active
learning, so the tables compare strategies with each other and with the full-label
model, beside published anchors.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_vision.py`` (about 15 minutes on a
shared 2-core machine; ``--quick`` for one seed). Runs are cached in
``benchmarks/results/vision-runs.jsonl``; tables go to stdout and
``benchmarks/results/vision.md``; curves to ``docs/img/vision-*.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import markdown_table

import activelab.vision as V

ROOT = Path(__file__).resolve().parents[1]
TREES = 20
STRATEGIES = ("random", "top", "class_balanced", "diverse")
LABELS = {
    "random": "random",
    "top": "entropy",
    "class_balanced": "class-balanced",
    "diverse": "diverse",
}
DATASETS = {
    "nuclei": {
        "slic": {"n_segments": 1000, "compactness": 0.05},
        "grid": 12,
        "batch": 8,
        "initial": 5,
        "budget": 0.04,
        "iou_labels": [1],
        "shares": (0.01, 0.02, 0.03, 0.04),
    },
    "digits": {
        "slic": {"n_segments": 60, "compactness": 0.1},
        "grid": 6,
        "batch": 50,
        "initial": 20,
        "budget": 0.12,
        "iou_labels": None,
        "shares": (0.02, 0.05, 0.08, 0.12),
    },
}
#: (regions, labelling) configurations per data set.
CONFIGS = (("grid", "full"), ("slic", "full"), ("slic", "dominant"))


def data(name: str, seed: int):
    if name == "nuclei":
        return V.load_nuclei("left"), V.load_nuclei("right")
    scenes = V.digits_scenes(n_images=32, size=48, n_digits=3, random_state=seed)
    return scenes.subset(range(24)), scenes.subset(range(24, 32))


def regions_for(name: str, kind: str, pool) -> V.RegionIndex:
    spec = DATASETS[name]
    if kind == "grid":
        return V.RegionIndex.grid([im.shape for im in pool.images], spec["grid"])
    return V.RegionIndex.slic(pool.images, **spec["slic"])


def full_iou(name: str, seed: int) -> float:
    pool, test = data(name, seed)
    model = V.PixelForest(pool.n_classes, n_estimators=TREES, random_state=seed)
    model.fit(pool.images, pool.masks)
    predicted = [V.predict_mask(model, im)[0] for im in test.images]
    return V.mean_iou(test.masks, predicted, pool.n_classes, labels=DATASETS[name]["iou_labels"])


def one_run(name: str, kind: str, labelling: str, strategy: str, seed: int) -> dict:
    spec = DATASETS[name]
    pool, test = data(name, seed)
    regions = regions_for(name, kind, pool)
    started = time.perf_counter()
    result = V.simulate(
        V.PixelForest(pool.n_classes, n_estimators=TREES, random_state=seed),
        pool.images,
        pool.masks,
        regions,
        test_images=test.images,
        test_masks=test.masks,
        strategy=strategy,
        labelling=labelling,
        budget=spec["budget"],
        batch_size=spec["batch"],
        initial=spec["initial"],
        iou_labels=spec["iou_labels"],
        random_state=seed,
    )
    return {
        "dataset": name,
        "regions": kind,
        "labelling": labelling,
        "strategy": strategy,
        "seed": seed,
        "share": result.curve("share_pixels")[0].tolist(),
        "clicks": result.curve("n_clicks")[0].tolist(),
        "iou": result.curve()[1].tolist(),
        "noise": result.curve(y="label_noise")[1].tolist(),
        "seconds": time.perf_counter() - started,
    }


def key(row: dict) -> tuple:
    return (row["dataset"], row["regions"], row["labelling"], row["strategy"], row["seed"])


def interp(x: list, y: list, at: float) -> float:
    x, y = np.asarray(x), np.asarray(y)
    return float(np.interp(at, x, y)) if x[0] <= at <= x[-1] + 1e-9 else float("nan")


def reach(x: list, y: list, target: float) -> float:
    hit = np.flatnonzero(np.asarray(y) >= target)
    return float(x[hit[0]]) if hit.size else float("nan")


def fmt(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return "–"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def share_reached(values: list[float], n: int) -> str:
    found = [v for v in values if np.isfinite(v)]
    if not found:
        return "not reached"
    text = f"{100 * np.median(found):.1f} %"
    return text if len(found) == n else f"{text} ({len(found)}/{n} seeds)"


def clicks_reached(values: list[float], n: int) -> str:
    found = [v for v in values if np.isfinite(v)]
    if not found:
        return "not reached"
    text = f"{np.median(found):.0f}"
    return text if len(found) == n else f"{text} ({len(found)}/{n} seeds)"


def table(name: str, rows: list[dict], full: dict[int, float]) -> str:
    spec = DATASETS[name]
    seeds = sorted(full)
    full_mean = float(np.mean([full[s] for s in seeds]))
    header = ["regions", "labels", "strategy"]
    header += [f"IoU @ {100 * s:g} %" for s in spec["shares"]]
    header += ["pixels to 95 % of full", "clicks to 95 % of full", "label noise at end"]
    body = []
    groups = defaultdict(list)
    for row in rows:
        if row["dataset"] == name:
            groups[(row["regions"], row["labelling"], row["strategy"])].append(row)
    for kind, labelling in CONFIGS:
        for strategy in STRATEGIES:
            runs = groups.get((kind, labelling, strategy), [])
            if not runs:
                continue
            cells = [kind, labelling, LABELS[strategy]]
            cells += [fmt([interp(r["share"], r["iou"], s) for r in runs]) for s in spec["shares"]]
            targets = [0.95 * full[r["seed"]] for r in runs]
            cells.append(
                share_reached(
                    [reach(r["share"], r["iou"], t) for r, t in zip(runs, targets, strict=True)],
                    len(runs),
                )
            )
            cells.append(
                clicks_reached(
                    [reach(r["clicks"], r["iou"], t) for r, t in zip(runs, targets, strict=True)],
                    len(runs),
                )
            )
            cells.append(f"{100 * np.mean([r['noise'][-1] for r in runs]):.1f} %")
            body.append(cells)
    metric = "foreground IoU" if spec["iou_labels"] else "mIoU"
    title = (
        f"**{name}** — {metric}, mean ± sd over {len(seeds)} seeds; full-label model "
        f"{full_mean:.3f} ± {np.std([full[s] for s in seeds]):.3f} (95 % = "
        f"{0.95 * full_mean:.3f}). Cost columns: median over seeds of the first round at or "
        "above 95 % of that seed's full-label IoU."
    )
    return title + "\n\n" + markdown_table(header, body)


def plot(name: str, rows: list[dict], full: dict[int, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full_mean = float(np.mean(list(full.values())))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"random": "grey", "top": "C0", "class_balanced": "C1", "diverse": "C2"}
    styles = {("grid", "full"): ":", ("slic", "full"): "-", ("slic", "dominant"): "--"}
    for (kind, labelling), style in styles.items():
        for strategy in STRATEGIES:
            runs = [
                r
                for r in rows
                if (r["dataset"], r["regions"], r["labelling"], r["strategy"])
                == (name, kind, labelling, strategy)
            ]
            if not runs:
                continue
            for ax, axis in zip(axes, ("share", "clicks"), strict=True):
                top = min(max(r[axis]) for r in runs)
                low = max(min(r[axis]) for r in runs)
                grid = np.linspace(low, top, 40)
                curve = np.mean([np.interp(grid, r[axis], r["iou"]) for r in runs], axis=0)
                scale = 100 if axis == "share" else 1
                ax.plot(
                    scale * grid,
                    curve,
                    style,
                    color=colours[strategy],
                    label=f"{kind}/{labelling} {LABELS[strategy]}",
                )
    for ax, xlabel in zip(
        axes, ("% of pool pixels labelled", "clicks (polygon vertices)"), strict=True
    ):
        ax.axhline(full_mean, color="black", lw=0.8)
        ax.axhline(0.95 * full_mean, color="black", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("foreground IoU" if DATASETS[name]["iou_labels"] else "mIoU")
        lows = [min(r["iou"][1:]) for r in rows if r["dataset"] == name and len(r["iou"]) > 1]
        ax.set_ylim(max(0.0, np.percentile(lows, 10) - 0.05), full_mean + 0.03)
    axes[0].set_title(f"{name}: IoU vs pixels labelled")
    axes[1].set_title(f"{name}: IoU vs clicks")
    axes[1].legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed, nuclei only")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks/results/vision-runs.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/vision.md")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    seeds = range(1 if args.quick else args.seeds)
    names = ("nuclei",) if args.quick else tuple(DATASETS)
    done = {}
    if args.cache.exists():
        for line in args.cache.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[key(row) if "strategy" in row else ("full", row["dataset"], row["seed"])] = row
    started = time.perf_counter()
    with args.cache.open("a") as cache:
        for name in names:
            for seed in seeds:
                if ("full", name, seed) not in done:
                    row = {"dataset": name, "seed": seed, "iou": full_iou(name, seed)}
                    done[("full", name, seed)] = row
                    cache.write(json.dumps(row) + "\n")
                    cache.flush()
                for kind, labelling in CONFIGS:
                    for strategy in STRATEGIES:
                        k = (name, kind, labelling, strategy, seed)
                        if k in done:
                            continue
                        row = one_run(name, kind, labelling, strategy, seed)
                        done[k] = row
                        cache.write(json.dumps(row) + "\n")
                        cache.flush()
                        print(
                            f"{k} {row['seconds']:.1f}s final IoU {row['iou'][-1]:.3f}", flush=True
                        )
    sections = []
    for name in names:
        full = {s: done[("full", name, s)]["iou"] for s in seeds}
        rows = [r for k, r in done.items() if k[0] == name and k[-1] in full]
        sections.append(table(name, rows, full))
        if not args.no_plot:
            plot(name, rows, full, ROOT / f"docs/img/vision-{name}.png")
    text = "\n\n".join(sections)
    text += (
        f"\n\nForest: {TREES} trees on multiscale pixel features; "
        f"wall time {time.perf_counter() - started:.0f} s for the runs not cached.\n"
    )
    print(text)
    if not args.quick:
        args.out.write_text("# Region-based active learning for segmentation\n\n" + text)


if __name__ == "__main__":
    main()
