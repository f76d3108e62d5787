"""Reliability against a real server: many concurrent annotators, and kill -9 mid-labelling."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from activelab.studio import db
from activelab.studio.project import read_admin_token

from .conftest import bearer, free_port, synthetic_texts, truth_of

pytestmark = pytest.mark.slow


def _annotators(url: str, admin: str, n: int) -> list[str]:
    tokens = []
    with httpx.Client(base_url=url, headers=bearer(admin), timeout=60) as client:
        for i in range(n):
            created = client.post("/api/p/proj/annotators", json={"name": f"a{i}"})
            created.raise_for_status()
            tokens.append(created.json()["token"])
    return tokens


def _stored(config) -> tuple[list[tuple[int, int, str, int]], Counter]:
    """(answer id, item id, key, annotator) of every answer, and leases per item."""
    engine = db.connect(config.url)
    try:
        with db.read_session(engine) as session:
            answers = session.execute(
                select(
                    db.Answer.id,
                    db.Answer.item_id,
                    db.Answer.idempotency_key,
                    db.Answer.annotator_id,
                ).order_by(db.Answer.id)
            ).all()
            leases = Counter(
                dict(
                    session.execute(
                        select(db.Lease.item_id, func.count()).group_by(db.Lease.item_id)
                    ).all()
                )
            )
    finally:
        engine.dispose()
    return [tuple(row) for row in answers], leases


def test_twenty_annotators_label_two_thousand_items(
    make_project, db_url: str, tmp_path: Path
) -> None:
    texts, _ = synthetic_texts(2000)
    # This test is about leases and lost updates, not power cuts: on SQLite it skips the
    # fsync per commit (a killed process still loses nothing; see the kill -9 test).
    url = f"{db_url}?synchronous=normal" if db_url.startswith("sqlite") else db_url
    config = make_project(texts, retrain_every=700, min_labels=30, batch_size=200, db=url)
    admin = read_admin_token(config.directory)
    acknowledged: list[list[tuple[int, int]]] = [[] for _ in range(20)]
    failures: list[BaseException] = []

    def annotate(worker: int, url: str, token: str) -> None:
        try:
            with httpx.Client(base_url=url, headers=bearer(token), timeout=120) as client:
                while True:
                    served = client.post("/api/p/proj/next")
                    served.raise_for_status()
                    item = served.json()["item"]
                    if item is None:
                        return
                    reply = client.post(
                        "/api/p/proj/answers",
                        json={
                            "item_id": item["id"],
                            "lease_id": served.json()["lease"]["id"],
                            "labels": [truth_of(item["text"])],
                            "skipped": False,
                            "seconds": 0.5,
                            "idempotency_key": f"{worker}-{item['id']}",
                        },
                    )
                    reply.raise_for_status()
                    assert reply.json()["duplicate"] is False
                    acknowledged[worker].append((reply.json()["answer_id"], item["id"]))
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    with served(config.directory, tmp_path / "server.log") as url:
        tokens = _annotators(url, admin, 20)
        threads = [
            threading.Thread(target=annotate, args=(i, url, token))
            for i, token in enumerate(tokens)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert not failures, failures[:3]
        # The trainer (its own process) retrains on the answers: 2,000 ≥ retrain_every.
        deadline = time.monotonic() + 180
        while True:
            info = httpx.get(f"{url}/api/p/proj", headers=bearer(admin)).json()
            if info["model_version"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    answers, leases = _stored(config)
    acked = sorted(pair for per_worker in acknowledged for pair in per_worker)
    # No answer lost: every acknowledged answer is stored, for the item it was given to.
    assert len(acked) == 2000
    assert acked == sorted((answer_id, item_id) for answer_id, item_id, _, _ in answers)
    # No item leased twice: each of the 2,000 items got exactly one lease and one answer.
    assert len(leases) == 2000 and set(leases.values()) == {1}
    assert len({item_id for _, item_id, _, _ in answers}) == 2000
    assert info["n_labeled"] == 2000
    assert sum(1 for per_worker in acknowledged if per_worker) >= 10  # the work was shared
    assert info["model_version"] >= 1, info["trainer"]
    assert info["trainer"]["mode"] == "process" and not info["trainer"]["failing"]


def _serve(directory: Path, port: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "activelab.studio.cli",
        "serve",
        str(directory),
        "--port",
        str(port),
    ]
    # The trainer's process at the server's priority: these tests are about correctness
    # while it writes rankings, not about who gets the CPU on a busy test machine.
    return subprocess.Popen(
        command,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "ACTIVELAB_STUDIO_TRAINER_NICE": "0"},
    )


def _wait_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server did not come up: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def served(directory: Path, log: Path) -> Iterator[str]:
    """``activelab studio serve DIRECTORY`` in a subprocess on a free port; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(directory, port, log)
    try:
        _wait_up(url, server, log)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)


def test_kill_9_mid_labelling_loses_no_acknowledged_answer(make_project, tmp_path: Path) -> None:
    texts, _ = synthetic_texts(400)
    config = make_project(texts, retrain_every=25, min_labels=10)
    admin = read_admin_token(config.directory)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = _serve(config.directory, port, log)
    try:
        _wait_up(url, server, log)
        tokens = _annotators(url, admin, 4)
        acknowledged: dict[str, tuple[int, int, bool]] = {}
        lock = threading.Lock()
        stop = threading.Event()
        failures: list[BaseException] = []

        def annotate(worker: int, token: str) -> None:
            pending = None
            counter = 0
            try:
                with httpx.Client(base_url=url, headers=bearer(token), timeout=10) as client:
                    while True:
                        try:
                            if pending is None:
                                if stop.is_set():
                                    return
                                served = client.post("/api/p/proj/next")
                                served.raise_for_status()
                                item = served.json()["item"]
                                if item is None:
                                    return
                                counter += 1
                                pending = {
                                    "item_id": item["id"],
                                    "lease_id": served.json()["lease"]["id"],
                                    "labels": [truth_of(item["text"])],
                                    "skipped": False,
                                    "seconds": 0.1,
                                    "idempotency_key": f"w{worker}-{counter}",
                                }
                            reply = client.post("/api/p/proj/answers", json=pending)
                            reply.raise_for_status()
                            with lock:
                                acknowledged[pending["idempotency_key"]] = (
                                    reply.json()["answer_id"],
                                    pending["item_id"],
                                    reply.json()["duplicate"],
                                )
                            pending = None
                        except httpx.TransportError:
                            time.sleep(0.1)  # the server is down: retry the same request
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=annotate, args=(i, t)) for i, t in enumerate(tokens)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 40 and time.monotonic() < deadline and not failures:
            time.sleep(0.05)
        assert len(acknowledged) >= 40, failures
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        before_kill = dict(acknowledged)
        server = _serve(config.directory, port, log)
        _wait_up(url, server, log)
        while len(acknowledged) < len(before_kill) + 40 and time.monotonic() < deadline + 120:
            if failures:
                break
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not failures, failures[:3]
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(30)
    answers, _ = _stored(config)
    stored = {key: (answer_id, item_id) for answer_id, item_id, key, _ in answers}
    # Every acknowledged answer is there, once, with the id the client was given.
    assert len(stored) == len(answers)
    assert {key: (a, i) for key, (a, i, _) in acknowledged.items()} == stored
    assert set(before_kill) <= set(stored)
    # None twice: no item has two answers (overlap 1), no key two rows.
    items = Counter(item_id for _, item_id, _, _ in answers)
    assert max(items.values()) == 1
    assert len(acknowledged) >= len(before_kill) + 40
