"""Named-entity recognition: label efficiency of every tagger strategy, and query time.

How to run
----------
``.venv/bin/python benchmarks/bench_ner.py`` from the repository root (needs the ``ner``
extra, sklearn-crfsuite, and matplotlib for the plot). ``--seeds 3`` for a shorter run,
``--jobs 2`` to use two processes, ``--quick`` for a smoke test. Finished runs are kept
in ``--cache`` (JSON lines, default ``/tmp/activelab-bench-ner.jsonl``) so an
interrupted run resumes. No data is downloaded: wikigold ships with activelab.

The protocol's knobs are options, recorded with every cached run: ``--batch-share``
(tokens per round, default 0.025), ``--initial`` (random sentences to start, default 10),
``--c1`` / ``--c2`` (the penalties of every CRF of the run, the full-data reference
included) and ``--max-share`` (budget of sentence queries, default 0.40). The variants
measured for the sentence-query goal (docs/sequence.md, "Sentence queries and the
25 % goal") are, with ``--queries sentences --skip-timing --max-share 0.3``:
``--only MNLP``, ``--only MNLP --batch-share 0.01 --max-share 0.28``, ``--only MNLP
--initial 50``, ``--only MNLP --c2 0.5`` and ``--only "MNLP, power sampling"`` (that row
runs only when named).

What it measures
----------------
Label efficiency. For each seed, wikigold is split 80/20 by sentence with that seed
(:meth:`activelab.sequence.TaggedCorpus.split`); a :class:`~activelab.sequence.CRFTagger`
(50 L-BFGS iterations, c1 = c2 = 0.05, window 2) starts from 10 random sentences and
:func:`activelab.sequence.simulate` adds 2.5 % of the training tokens per round, up to
40 % with sentence queries and 25 % with sub-sequence queries (spans of
``--span-length`` tokens; before each fit the rest of a partly labelled sentence is
filled with the model's constrained Viterbi tags and each labelled stretch trains with
2 filled tokens of context on either side; the row "whole sentence filled" trains on
the whole filled sentence instead, as Radmard et al. 2021 do). The cost is counted in
tokens the oracle labelled. The committee strategies (vote entropy, KL, BALD) read a
:class:`~activelab.sequence.TaggerCommittee` of 3 CRFs trained on bootstrap resamples;
its full-data CRF is the one evaluated. ``full F1`` is the CRF trained on the whole
training part, per seed; ``to 90 %`` is the share of training tokens at the first round
whose F1 reaches 90 % of it (mean over the seeds that reach it, and how many did);
``F1 @ 25 % ÷ full F1`` (15 % for sub-sequences: the goal's share) is each seed's F1 there,
linear between the rounds either side, over that seed's full F1 (mean ± standard
deviation, and how many seeds reach 0.9); ``÷ random sentences`` divides ``to 90 %`` by
random sentence queries' share (for both query kinds: random spans are no baseline
anyone uses).

Query time. The training part replicated to 100,000 sentences is the pool; a CRF fitted
on the training part scores it. Each strategy's ``query`` (k = 100 sentences) and, for
sub-sequence queries, ``token_utilities`` plus :func:`~activelab.sequence.select_spans`
(a 2,500-token batch) are timed, best of 3 runs taken in rotation (``_common.race``, so
load from other processes hits all alike). No peer library has query strategies for
sequence labelling (modAL, scikit-activeml, ALiPy and libact are classification and
regression only; small-text declined NER), so the side-by-side row is what a user of
those libraries would write: per-token marginals from sklearn-crfsuite's own
``predict_marginals`` (crfsuite's forward-backward behind one Python call per token and
label), timed on 5,000 sentences and scaled linearly to the pool.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, race

import activelab.sequence as seq

#: (label, registry name, parameters, needs a committee)
STRATEGIES = [
    ("random", "random", {}, False),
    ("least confidence", "seq_least_confidence", {}, False),
    ("margin (N-best)", "seq_margin", {}, False),
    ("sequence entropy (N-best)", "seq_entropy", {}, False),
    ("token entropy, total", "seq_token_entropy", {"aggregate": "total"}, False),
    ("token entropy, mean", "seq_token_entropy", {"aggregate": "mean"}, False),
    ("token entropy, max", "seq_token_entropy", {"aggregate": "max"}, False),
    ("MNLP", "seq_mnlp", {}, False),
    ("vote entropy (committee)", "seq_vote_entropy", {}, True),
    ("KL (committee)", "seq_kl", {}, True),
    ("BALD (committee paths)", "seq_bald", {}, True),
    ("information density", "seq_information_density", {}, False),
    ("MNLP + k-center diversity", "seq_diverse", {"base": "seq_mnlp"}, False),
    ("MNLP, power sampling", "seq_mnlp", {"sampling": "power"}, False),
]
#: Rows run only when ``--only`` names them (variants measured for the sentence goal).
ON_REQUEST = {"MNLP, power sampling"}
#: Sub-sequence-only rows: (label, strategy label, context).
SPAN_VARIANTS = {"MNLP, whole sentence filled": ("MNLP", None)}
#: Strategies whose token utilities differ (the others reuse one of these per token).
SPAN_STRATEGIES = [
    "MNLP, whole sentence filled",
    "random",
    "least confidence",
    "margin (N-best)",
    "token entropy, total",
    "MNLP",
    "vote entropy (committee)",
    "KL (committee)",
    "BALD (committee paths)",
]

CRF = {"max_iterations": 50, "c1": 0.05, "c2": 0.05, "window": 2}
COMMITTEE_MEMBERS = 3
CONTEXT = 2  # filled tokens kept around each labelled span
INITIAL = 10
BATCH_SHARE = 0.025
MAX_SHARE = {"sentences": 0.40, "subsequences": 0.25}
GOAL = {"sentences": 0.25, "subsequences": 0.15}
TOKENS_IN_SHARES = (0.10, 0.15, 0.20, 0.30, 0.40)


@dataclass(frozen=True)
class Setup:
    """The protocol's knobs (``--batch-share``, ``--initial``, ``--c1``, ``--c2``, ``--max-share``).

    The CRF penalties apply to every tagger of the run, the full-data reference included.
    """

    batch_share: float = BATCH_SHARE
    initial: int = INITIAL
    c1: float = CRF["c1"]
    c2: float = CRF["c2"]
    max_sentences: float = MAX_SHARE["sentences"]

    @property
    def crf(self) -> dict:
        return {**CRF, "c1": self.c1, "c2": self.c2}

    def max_share(self, query: str) -> float:
        return self.max_sentences if query == "sentences" else MAX_SHARE[query]

    def describe(self) -> str:
        return (
            f"{100 * self.batch_share:g} % of the tokens per round, {self.initial} initial "
            f"sentences, c1 = {self.c1:g}, c2 = {self.c2:g}"
        )


def make_strategy(name: str, params: dict):
    from activelab import strategies

    if name in strategies.available():
        return strategies.get(name, **params)
    lookup = {cls.name: cls for cls in seq.SEQUENCE_STRATEGIES}
    return lookup[name](**params)


def tagger(committee: bool, setup: Setup = Setup()) -> seq.Tagger:
    base = seq.CRFTagger(**setup.crf)
    return seq.TaggerCommittee(base, n_members=COMMITTEE_MEMBERS) if committee else base


def split(seed: int):
    return seq.load_wikigold().split(0.2, random_state=seed)


def full_f1(seed: int, setup: Setup = Setup()) -> float:
    train, test = split(seed)
    model = seq.CRFTagger(**setup.crf).fit(train.tokens, train.tags)
    return seq.entity_f1(test.tags, model.predict(test.tokens))


def one_run(
    label: str, query: str, seed: int, span_length: tuple[int, int], setup: Setup = Setup()
) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    base, context = SPAN_VARIANTS.get(label, (label, CONTEXT))
    _, name, params, committee = next(s for s in STRATEGIES if s[0] == base)
    train, test = split(seed)
    started = time.perf_counter()
    result = seq.simulate(
        tagger(committee, setup),
        make_strategy(name, params),
        train.tokens,
        train.tags,
        test.tokens,
        test.tags,
        query=query,
        initial=setup.initial,
        batch_size=setup.batch_share * train.n_tokens,
        budget=setup.max_share(query) * train.n_tokens,
        span_length=span_length,
        context=context,
        random_state=seed,
    )
    return {
        "label": label,
        "query": query,
        "seed": seed,
        "span_length": list(span_length),
        "setup": asdict(setup),
        "share": result.costs("share").tolist(),
        "f1": result.curve("f1")[1].tolist(),
        "sentences": [r.sentences for r in result.history],
        "seconds": time.perf_counter() - started,
    }


def _key(label: str, query: str, seed: int, span_length, setup: dict | None) -> tuple:
    """Cache key: sentence queries do not depend on the span length, nor spans on
    ``max_sentences``; rows from before ``setup`` was recorded ran the default one."""
    setup = Setup(**(setup or {}))
    if query != "sentences":
        setup = Setup(**{**asdict(setup), "max_sentences": MAX_SHARE["sentences"]})
    return (label, query, seed, None if query == "sentences" else tuple(span_length), setup)


def load_cache(path: Path) -> dict:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                key = _key(
                    row["label"], row["query"], row["seed"], row["span_length"], row.get("setup")
                )
                done[key] = row
    return done


def interpolate(row: dict, share: float) -> float:
    x, y = np.array(row["share"]), np.array(row["f1"])
    return float(np.interp(share, x, y)) if x[0] <= share <= x[-1] + 1e-9 else float("nan")


def reach(row: dict, target: float) -> float:
    hit = np.flatnonzero(np.array(row["f1"]) >= target)
    return float(row["share"][hit[0]]) if hit.size else float("nan")


def aulc(row: dict) -> float:
    x, y = np.array(row["share"]), np.array(row["f1"])
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def efficiency_table(
    rows: list[dict], query: str, full: dict[int, float], setup: Setup = Setup()
) -> str:
    by_label = defaultdict(list)
    for row in rows:
        if row["query"] == query:
            by_label[row["label"]].append(row)
    limit = setup.max_share(query)
    shares = sorted({s for s in (*TOKENS_IN_SHARES, GOAL[query]) if s <= limit + 1e-9})
    # Baseline of the ratio: random *sentences*, the usual protocol, for both queries.
    # When random sentences never reach the target within their budget, the ratio is an
    # upper bound (the strategy's share over the whole budget).
    random_runs = [r for r in rows if r["query"] == "sentences" and r["label"] == "random"]
    random_hits = [reach(r, 0.9 * full[r["seed"]]) for r in random_runs]
    random_hits = [v for v in random_hits if np.isfinite(v)]
    if random_hits and len(random_hits) == len(random_runs):
        random_reach, bound = float(np.mean(random_hits)), ""
    else:
        random_reach, bound = setup.max_sentences, "< "
    table = []
    for label in [s[0] for s in STRATEGIES] + list(SPAN_VARIANTS):
        runs = by_label.get(label)
        if not runs:
            continue
        shown = "random spans" if label == "random" and query != "sentences" else label
        cells = [shown, str(len(runs))]
        for share in shares:
            values = [interpolate(r, share) for r in runs]
            cells.append(f"{np.nanmean(values):.3f} ± {np.nanstd(values):.3f}")
        cells.append(f"{np.mean([aulc(r) for r in runs]):.3f}")
        # Each seed's F1 at the goal's share over its own full-data F1, and how many reach 0.9.
        relative = np.array([interpolate(r, GOAL[query]) / full[r["seed"]] for r in runs])
        cells.append(
            f"{np.nanmean(relative):.3f} ± {np.nanstd(relative):.3f} "
            f"({int(np.sum(relative >= 0.9))}/{len(runs)})"
        )
        reached = [reach(r, 0.9 * full[r["seed"]]) for r in runs]
        hits = [v for v in reached if np.isfinite(v)]
        share_cell = f"{100 * np.mean(hits):.1f} %" if hits else "—"
        cells.append(f"{share_cell} ({len(hits)}/{len(runs)})")
        ratio = np.mean(hits) / random_reach if hits and random_runs else np.nan
        if label == "random" and query == "sentences":
            cells.append("1")
        else:
            cells.append(f"{bound}{ratio:.2f}" if np.isfinite(ratio) else "—")
        table.append(cells)
    headers = [
        "strategy",
        "seeds",
        *[f"F1 @ {int(100 * s)} % tokens" for s in shares],
        "AULC",
        f"F1 @ {int(100 * GOAL[query])} % ÷ full F1",
        "to 90 % of full F1",
        "÷ random sentences",
    ]
    return markdown_table(headers, table, right=list(range(1, len(headers))))


def plot(rows: list[dict], full: dict[int, float], path: Path, setup: Setup = Setup()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queries = [q for q in ("sentences", "subsequences") if any(r["query"] == q for r in rows)]
    fig, axes = plt.subplots(1, len(queries), figsize=(6.5 * len(queries), 5), squeeze=False)
    target = 0.9 * np.mean(list(full.values()))
    cmap = plt.get_cmap("tab20")
    for ax, query in zip(axes[0], queries, strict=True):
        for k, label in enumerate([s[0] for s in STRATEGIES] + list(SPAN_VARIANTS)):
            runs = [r for r in rows if r["query"] == query and r["label"] == label]
            if not runs:
                continue
            grid = np.linspace(min(r["share"][0] for r in runs), setup.max_share(query), 40)
            curves = np.array([[interpolate(r, g) for g in grid] for r in runs])
            style = {"color": "black", "lw": 2.2} if label == "random" else {"color": cmap(k)}
            if label in SPAN_VARIANTS:
                style["ls"] = ":"
            if label == "MNLP":
                style["lw"] = 2.2
            shown = "random spans" if label == "random" and query != "sentences" else label
            ax.plot(100 * grid, np.nanmean(curves, axis=0), label=shown, **style)
        if query != "sentences":  # the sentence-query curves of two strategies, for scale
            for label, colour in (("random", "0.55"), ("MNLP", "0.75")):
                runs = [r for r in rows if r["query"] == "sentences" and r["label"] == label]
                if runs:
                    grid = np.linspace(runs[0]["share"][0], setup.max_share(query), 40)
                    curve = np.nanmean([[interpolate(r, g) for g in grid] for r in runs], axis=0)
                    ax.plot(100 * grid, curve, color=colour, ls="--", label=f"{label} (sentences)")
        ax.axhline(target, color="grey", ls="--", lw=1)
        ax.text(1, target + 0.005, "90 % of full-data F1", color="grey", fontsize=8)
        kind = {"sentences": "sentence", "subsequences": "sub-sequence"}[query]
        ax.set_title(f"wikigold, CRF, {kind} queries ({len({r['seed'] for r in rows})} seeds)")
        ax.set_xlabel("training tokens labelled (%)")
        ax.set_ylabel("entity F1 (test)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def query_times(pool_size: int, quick: bool) -> str:
    train, _ = split(0)
    model = seq.CRFTagger(**CRF).fit(train.tokens, train.tags)
    committee = seq.TaggerCommittee(seq.CRFTagger(**CRF), n_members=COMMITTEE_MEMBERS).fit(
        train.tokens, train.tags
    )
    repeats = -(-pool_size // len(train))
    pool = (train.tokens * repeats)[:pool_size]
    n_tokens = sum(map(len, pool))
    calls = {
        "emissions": lambda: model.emissions(pool),
        "marginals": lambda: model.marginals(pool),
    }
    strategies = STRATEGIES if not quick else STRATEGIES[:3]
    for label, name, params, needs_committee in strategies:
        if label == "random" or label in ON_REQUEST:
            continue
        strategy = make_strategy(name, params)
        tagger_ = committee if needs_committee else model
        calls[label] = lambda s=strategy, t=tagger_: s.query(t, pool, 100, None, None, 0)
        if name not in ("seq_diverse", "seq_information_density"):

            def spans(s=strategy, t=tagger_):
                utilities = s.token_utilities(t, pool)
                return seq.select_spans(utilities, 2500, 2, 6, random_state=0)

            calls[f"{label} (spans)"] = spans
    # The calls take turns (load from other processes hits all alike); best of 3.
    outcomes = race(calls, warmup=False, min_repeats=3, max_repeats=3, budget_s=0.0)
    best = {name: outcome.best for name, outcome in outcomes.items()}
    sample = pool[:5000]
    features = model._features()
    feats = [features.token(s) for s in sample]
    started = time.perf_counter()
    model.crf_.predict_marginals(feats)
    crfsuite = (time.perf_counter() - started) * len(pool) / len(sample)
    marginals = best["marginals"]
    rows = [
        ["emission scores (numpy, lower bound)", f"{best['emissions']:.2f}", "—", "—"],
        ["per-token marginals (numpy)", f"{marginals:.2f}", "—", "1.00"],
        [
            "per-token marginals, sklearn-crfsuite predict_marginals (scaled from 5,000)",
            f"{crfsuite:.1f}",
            "—",
            f"{crfsuite / marginals:.1f}",
        ],
    ]
    for label, *_ in strategies:
        if label not in best:
            continue
        span = best.get(f"{label} (spans)")
        rows.append(
            [
                label,
                f"{best[label]:.2f}",
                f"{span:.2f}" if span is not None else "—",
                f"{best[label] / marginals:.2f}",
            ]
        )
    header = (
        f"Pool: {pool_size:,} sentences ({n_tokens:,} tokens), wikigold training part "
        f"replicated; CRF with {len(model.attributes_):,} attributes, {len(model.labels_)} "
        f"labels; committee of {COMMITTEE_MEMBERS}. Seconds, best of 3 turns taken in "
        "rotation, one process; a sub-sequence query is token utilities plus select_spans "
        "for a 2,500-token batch."
    )
    return (
        header
        + "\n\n"
        + markdown_table(
            ["what", "query k=100 (s)", "sub-sequence query (s)", "÷ marginals"],
            rows,
            right=[1, 2, 3],
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--queries", default="sentences,subsequences")
    parser.add_argument("--span-length", default="2,6")
    parser.add_argument("--only", default="", help="comma-separated strategy labels")
    parser.add_argument("--cache", default="/tmp/activelab-bench-ner.jsonl")
    parser.add_argument("--plot", default="docs/img/ner-curves.png")
    parser.add_argument("--pool-size", type=int, default=100_000)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--batch-share", type=float, default=BATCH_SHARE, help="tokens per round (share)"
    )
    parser.add_argument("--initial", type=int, default=INITIAL, help="random sentences to start")
    parser.add_argument("--c1", type=float, default=CRF["c1"], help="CRF L1 penalty (all CRFs)")
    parser.add_argument("--c2", type=float, default=CRF["c2"], help="CRF L2 penalty (all CRFs)")
    parser.add_argument(
        "--max-share",
        type=float,
        default=MAX_SHARE["sentences"],
        help="budget of sentence queries (share of the tokens)",
    )
    args = parser.parse_args()
    setup = Setup(args.batch_share, args.initial, args.c1, args.c2, args.max_share)
    span_length = tuple(int(v) for v in args.span_length.split(","))
    seeds = list(range(1 if args.quick else args.seeds))
    queries = args.queries.split(",")
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    from joblib import Parallel, delayed

    cache = Path(args.cache)
    if not args.skip_curves:
        full = dict(
            zip(
                seeds,
                Parallel(n_jobs=args.jobs)(delayed(full_f1)(seed, setup) for seed in seeds),
                strict=True,
            )
        )
        done = load_cache(cache)
        todo = []
        for seed in seeds:
            for query in queries:
                labels = [s[0] for s in STRATEGIES] if query == "sentences" else SPAN_STRATEGIES
                if args.quick:
                    labels = ["random", "MNLP"]
                for label in labels:
                    if (only and label not in only) or (label in ON_REQUEST and not only):
                        continue
                    if _key(label, query, seed, span_length, asdict(setup)) not in done:
                        todo.append((label, query, seed))
        if todo:
            print(f"{len(todo)} runs to do ({len(done)} cached)", file=sys.stderr)
        with cache.open("a") as handle:
            for row in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
                delayed(one_run)(label, query, seed, span_length, setup)
                for label, query, seed in todo
            ):
                handle.write(json.dumps(row) + "\n")
                handle.flush()
                print(
                    f"  {row['query']:12s} {row['label']:28s} seed {row['seed']} "
                    f"final F1 {row['f1'][-1]:.3f} ({row['seconds']:.0f} s)",
                    file=sys.stderr,
                )
        found = load_cache(cache)
        rows = [
            found[key]
            for key in {
                _key(r["label"], r["query"], r["seed"], span_length, asdict(setup))
                for r in found.values()
            }
            if key in found and key[2] in seeds
        ]
        print("## wikigold, CRF: entity F1 against the share of training tokens labelled\n")
        print(
            f"Seeds: {len(seeds)}; full-data F1 per seed: "
            + ", ".join(f"{full[s]:.3f}" for s in seeds)
            + f" (mean {np.mean(list(full.values())):.3f}); goal: 90 % of it with "
            f"≤ {int(100 * GOAL['sentences'])} % of the tokens by sentences, "
            f"≤ {int(100 * GOAL['subsequences'])} % by sub-sequences "
            f"(spans of {span_length[0]}–{span_length[1]} tokens). Setup: "
            f"{setup.describe()}.\n"
        )
        for query in queries:
            print(f"### {query} queries\n")
            print(efficiency_table(rows, query, full, setup))
            print()
        if args.plot:
            plot(rows, full, Path(args.plot), setup)
            print(f"Curves: {args.plot}\n")
    if not args.skip_timing:
        print("## Query time\n")
        print(query_times(10_000 if args.quick else args.pool_size, args.quick))
    print(f"\n(run on {os.cpu_count()} CPUs; numpy {np.__version__})")


if __name__ == "__main__":
    main()
