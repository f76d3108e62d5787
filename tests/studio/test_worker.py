"""The trainer in a process of its own: retrains, reports errors, restarts, leaves no orphan."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from activelab.studio import answers, auth, db, queue, trainer, worker
from activelab.studio.app import create_app
from activelab.studio.db import Project, read_session, write_session
from activelab.studio.project import read_admin_token

from .conftest import bearer, free_port, synthetic_texts, truth_of
from .test_reliability import _serve, _wait_up

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc")


def _until(condition: Callable[[], object], seconds: float = 90.0, what: str = "") -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what or condition}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (exited, not reaped yet) still answers signal 0.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def _children(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Labeller:
    """Labels items through the services (no server): next, then the true label."""

    def __init__(self, config) -> None:
        self.config = config
        self.engine = db.connect(config.url)
        with read_session(self.engine) as session:
            self.project_id = session.scalar(select(Project.id).where(Project.name == config.name))
        with write_session(self.engine) as session:
            person, _ = auth.add_annotator(session, self.project_id, "ann", "annotator")
            session.flush()
            self.person = person.id
        self.keys = 0

    def label(self, n: int) -> None:
        for _ in range(n):
            self.label_one()

    def label_enough(self) -> None:
        """Label until a first model is due: min_labels (6) and every label seen."""
        seen: set[str] = set()
        while self.keys < 6 or len(seen) < 3:
            seen.add(self.label_one())

    def label_one(self) -> str:
        with write_session(self.engine) as session:
            served = queue.lease_next(session, self.config, self.project_id, self.person)
        self.keys += 1
        truth = truth_of(served.item.text)
        with write_session(self.engine) as session:
            answers.record_answer(
                session,
                self.config,
                self.project_id,
                self.person,
                item_id=served.item.id,
                lease_id=served.lease_id,
                labels=[truth],
                skipped=False,
                seconds=1.0,
                idempotency_key=f"key-{self.keys}",
            )
        return truth

    def version(self) -> int:
        with read_session(self.engine) as session:
            return session.get(Project, self.project_id).model_version


@pytest.fixture
def labeller(make_project):
    made = []

    def factory(**settings):
        texts, _ = synthetic_texts(60)
        settings = {"min_labels": 6, "retrain_every": 6, **settings}
        made.append(Labeller(make_project(texts, **settings)))
        return made[-1]

    yield factory
    for each in made:
        each.engine.dispose()


def test_the_trainer_process_retrains_bumps_the_version_and_stops_cleanly(labeller) -> None:
    s = labeller()
    background = trainer.Trainer(s.config, s.engine, s.project_id, poll_seconds=0.2)
    background.start(wait=120)
    try:
        pid = background.pid
        assert pid is not None and pid != os.getpid()
        assert background.status()["mode"] == "process" and background.status()["running"]
        _until(lambda: background.status()["steps"] >= 1, what="the cold-start ranking")
        s.label_enough()
        background.notify()
        _until(lambda: s.version() == 1, what="model version 1")
        _until(lambda: background.status()["steps"] >= 2, what="the step report")
        status = background.status()
        assert status["failing"] is False and status["error"] is None
        assert background.model is None  # the model lives in the trainer's process
    finally:
        background.stop()
    assert _gone(pid)
    assert background.pid is None and background.status()["running"] is False


def test_a_failing_retrain_is_logged_and_shown_on_the_status_endpoint(make_project, caplog) -> None:
    texts, _ = synthetic_texts(40)
    made = make_project(texts, min_labels=6, retrain_every=6)
    # A strategy the studio's model cannot run: every retrain fails in the trainer process.
    config = dataclasses.replace(made, strategy="bald")
    admin = read_admin_token(config.directory)
    app = create_app(config, poll_seconds=0.2)
    caplog.set_level(logging.ERROR, logger="activelab.studio")
    with TestClient(app) as client:
        person = client.post(
            "/api/p/proj/annotators", headers=bearer(admin), json={"name": "ann"}
        ).json()
        _until(
            lambda: client.get("/api/p/proj", headers=bearer(admin)).json()["trainer"]["steps"],
            what="the cold-start ranking",
        )
        seen: set[str] = set()
        given = 0
        while len(seen) < 3 or given < 6:  # a first model is due: 6 labels, all 3 seen
            given += 1
            served = client.post("/api/p/proj/next", headers=bearer(person["token"])).json()
            label = truth_of(served["item"]["text"])
            seen.add(label)
            client.post(
                "/api/p/proj/answers",
                headers=bearer(person["token"]),
                json={
                    "item_id": served["item"]["id"],
                    "lease_id": served["lease"]["id"],
                    "labels": [label],
                    "idempotency_key": served["lease"]["id"],
                },
            ).raise_for_status()

        def failing() -> dict | None:
            info = client.get("/api/p/proj", headers=bearer(admin)).json()
            return info if info["trainer"]["failing"] else None

        info = _until(failing, what="the trainer's error")
        trainer_status = info["trainer"]
        assert trainer_status["mode"] == "process" and trainer_status["running"]
        assert "bald" in trainer_status["error"] and trainer_status["error_at"]
        assert info["model_version"] == 0 and info["training"] is False
        seen = client.get("/api/p/proj", headers=bearer(person["token"])).json()["trainer"]
        assert seen["failing"] and "bald" not in seen["error"]  # the detail is for admins
    logged = [r.getMessage() for r in caplog.records if r.name == "activelab.studio"]
    assert any("ValueError" in message and "bald" in message for message in logged)


@posix_only
def test_a_trainer_process_that_dies_is_restarted(labeller) -> None:
    s = labeller()
    background = trainer.Trainer(s.config, s.engine, s.project_id, poll_seconds=0.2)
    background.start(wait=120)
    try:
        first = background.pid
        os.kill(first, signal.SIGKILL)
        _until(lambda: background.status()["restarts"] == 1, what="a restart")
        second = _until(lambda: background.pid, what="the new trainer process")
        assert second != first
        status = background.status()
        assert "exited unexpectedly" in status["error"] and "-9" in status["error"]
        s.label_enough()  # the new process trains as the first one would have
        background.notify()
        _until(lambda: s.version() == 1, what="model version 1 from the new process")
    finally:
        background.stop()
    assert _gone(second)


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_no_trainer_process_outlives_the_server(make_project, tmp_path: Path, how: str) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the server's children")
    texts, _ = synthetic_texts(40)
    config = make_project(texts)
    port = free_port()
    log = tmp_path / "server.log"
    server = _serve(config.directory, port, log)
    try:
        _wait_up(f"http://127.0.0.1:{port}", server, log)

        def trainer_children() -> set[int]:
            return {pid for pid in _children(server.pid) if "multiprocessing" in _command_line(pid)}

        children = _until(trainer_children, what="the trainer process")
        info = httpx.get(
            f"http://127.0.0.1:{port}/api/p/proj",
            headers=bearer(read_admin_token(config.directory)),
        ).json()
        assert info["trainer"]["mode"] == "process"
        server.send_signal(getattr(signal, how))
        server.wait(60)
        if how == "SIGTERM":  # uvicorn's graceful shutdown (then it re-raises the signal)
            assert server.returncode in (0, -signal.SIGTERM), log.read_text()[-2000:]
            assert "Traceback" not in log.read_text()
        _until(lambda: all(_gone(pid) for pid in children), 30, "the children to exit")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)


def test_an_in_memory_database_runs_the_trainer_in_a_thread() -> None:
    engine = db.connect("sqlite://")
    db.migrate(engine)
    with write_session(engine) as session:
        session.add(Project(name="mem", task="text", labels=["a", "b"]))
    from activelab.studio.project import ProjectConfig

    config = ProjectConfig(directory=Path("."), name="mem", labels=("a", "b"), db="sqlite://")
    background = trainer.Trainer(config, engine, 1, poll_seconds=0.05)
    background.start()
    try:
        assert background.running_mode == "thread" and background.pid is None
        assert background.status()["running"]
    finally:
        background.stop()
    assert background.status()["mode"] is None
    engine.dispose()


def test_run_loop_reports_steps_and_errors_and_survives_them() -> None:
    results = iter([RuntimeError("boom"), "trained", None])
    stopping, wake = threading.Event(), threading.Event()
    reports: list[tuple] = []

    class Fake:
        def step(self):
            value = next(results, None)
            if value is None:
                stopping.set()
            if isinstance(value, Exception):
                raise value
            return value

    worker.run_loop(Fake(), wake, stopping, 0.01, lambda *message: reports.append(message))
    assert reports[0][:2] == ("error", "RuntimeError: boom")
    assert "Traceback" in reports[0][2]
    assert reports[1] == ("step", "trained")
    assert len(reports) == 2


def test_the_trainer_process_niceness_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(worker.NICE_VARIABLE, raising=False)
    assert worker.default_nice() == worker.WORKER_NICE
    monkeypatch.setenv(worker.NICE_VARIABLE, "3")
    assert worker.default_nice() == 3
    monkeypatch.setenv(worker.NICE_VARIABLE, "40")
    assert worker.default_nice() == 19
    monkeypatch.setenv(worker.NICE_VARIABLE, "low")
    with pytest.raises(ValueError, match="whole number"):
        worker.default_nice()


def test_trainer_mode_is_checked(labeller) -> None:
    s = labeller()
    with pytest.raises(ValueError, match="'process' or 'thread'"):
        trainer.Trainer(s.config, s.engine, s.project_id, mode="fork")


def test_a_trainer_process_that_cannot_start_says_why(labeller) -> None:
    s = labeller()
    # The server's engine works; the trainer's process gets a URL it cannot open.
    broken = dataclasses.replace(s.config, db="mysql://nobody@127.0.0.1/none")
    background = trainer.Trainer(broken, s.engine, s.project_id, poll_seconds=0.2)
    background.start()
    try:
        status = _until(
            lambda: background.status()["restarts"] >= 1 and background.status(),
            what="the failed start",
        )
        assert "exited unexpectedly (exit code 1)" in status["error"]
        assert "unsupported database URL" in status["error"] and status["failing"]
    finally:
        background.stop()
    assert background.status()["running"] is False
