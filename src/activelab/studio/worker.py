"""Where the trainer runs: a separate process (the default) or a thread of the server.

Model fitting, cross-validation and ranking are CPU work in Python and NumPy: in a
thread of the server they hold the interpreter lock for long stretches, and every
request waits behind them. :class:`ProcessRunner` runs the trainer's loop in a child
process instead (``multiprocessing``'s *spawn* start method, the same on every
platform): the child opens its own database engine, reads what it needs and writes the
ranking in small transactions, so request handling never shares an interpreter with
model fitting. The child runs at a lower scheduling priority (``nice``), so on a busy
machine the requests get the CPU first.

What crosses between the processes:

- server → child: *wake*, one byte down a non-blocking pipe (an answer arrived:
  :meth:`~activelab.studio.trainer.Trainer.notify`, which never blocks), and *stop*, a
  flag in shared memory (plus the wake pipe's closing);
- child → server: a pipe of small messages — a step started or ended real work
  (``busy``), a step's result, a step's error with its traceback, the progress of
  the sentence-embedding job (``embedding``), the child's log records. A thread of
  the server (the supervisor) reads them into the
  :class:`~activelab.studio.trainer.Trainer`'s status and logs errors with the
  ``activelab.studio`` logger.

Life cycle: :meth:`ProcessRunner.stop` sets *stop*, waits ``grace`` seconds for the
child to finish (an idle child leaves at once; one in the middle of a retrain is
terminated — every write it makes is a transaction, so nothing is left half written
but the tail of a ranking, which the next ranking outranks), and joins it: no process
outlives the server's shutdown. If the server dies without stopping it (``kill -9``),
the child sees its parent's sentinel close and exits at once. If the child dies on its
own (a crash, the kernel's out-of-memory killer), the supervisor records the error
and starts a new child after a back-off.

:class:`ThreadRunner` is the old way, kept for in-memory SQLite databases (another
process cannot open them) and for tests that patch the trainer in place.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
import traceback
import types
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activelab.studio.project import ProjectConfig
    from activelab.studio.trainer import Trainer

__all__ = [
    "NICE_VARIABLE",
    "RANKING_CHUNK",
    "RANKING_PAUSE",
    "WORKER_NICE",
    "ProcessRunner",
    "ThreadRunner",
    "default_nice",
    "run_loop",
]

log = logging.getLogger("activelab.studio")

#: How much lower the child's scheduling priority is than the server's (POSIX ``nice``),
#: unless the environment variable ``ACTIVELAB_STUDIO_TRAINER_NICE`` says otherwise (0:
#: the same priority as the server).
WORKER_NICE = 10
NICE_VARIABLE = "ACTIVELAB_STUDIO_TRAINER_NICE"
#: On SQLite the child writes a ranking 100 rows per transaction (about 10 ms of the
#: write lock) and waits at least as long between two: a request of the server waiting
#: for the lock (SQLite's busy handler polls it with growing sleeps) gets it in between,
#: instead of the child taking it back at once.
RANKING_CHUNK = 100
RANKING_PAUSE = 0.01
#: Longest wait between restarts of a child that keeps dying, seconds.
MAX_BACKOFF = 60.0


def default_nice() -> int:
    """The trainer process's niceness increment: ``$ACTIVELAB_STUDIO_TRAINER_NICE`` or 10.

    Returns
    -------
    int
    """
    value = os.environ.get(NICE_VARIABLE, "").strip()
    if not value:
        return WORKER_NICE
    try:
        return max(0, min(19, int(value)))
    except ValueError:
        raise ValueError(
            f"{NICE_VARIABLE}={value!r} is not a whole number; set it to 0 (the server's "
            f"priority) … 19 (the lowest), or unset it for {WORKER_NICE}."
        ) from None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_loop(trainer: Trainer, wake: Any, stopping: Any, poll_seconds: float, report: Any) -> None:
    """The trainer's loop: a step, then wait for a wake-up or ``poll_seconds``.

    The wake flag is cleared *before* each step, so an answer that arrives during a
    step wakes the next wait at once (no wake-up is lost). While the trainer has
    background work left (``has_pending_work``: sentence embeddings being computed, a
    slice per step) the next step starts without waiting.

    Parameters
    ----------
    trainer : Trainer
        Runs :meth:`~activelab.studio.trainer.Trainer.step` in this thread.
    wake : object
        With ``clear()`` and ``wait(timeout)`` (a :class:`threading.Event`, or the
        child's pipe).
    stopping : object
        With ``is_set()``.
    poll_seconds : float
    report : callable
        ``report(kind, *values)`` with ``("step", result)`` after a step that did
        something and ``("error", message, traceback)`` after one that failed.
    """
    while not stopping.is_set():
        wake.clear()
        try:
            result = trainer.step()
        except Exception as error:  # the loop must survive a failed step
            report("error", f"{type(error).__name__}: {error}", traceback.format_exc())
        else:
            if result is not None:
                report("step", result)
        if not getattr(trainer, "has_pending_work", False):
            wake.wait(poll_seconds)


class ThreadRunner:
    """Runs a trainer's loop in a daemon thread of this process.

    Parameters
    ----------
    trainer : Trainer
    poll_seconds : float
    """

    mode = "thread"

    def __init__(self, trainer: Trainer, poll_seconds: float) -> None:
        self.trainer = trainer
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._run, name="studio-trainer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        run_loop(self.trainer, self._wake, self._stopping, self.poll_seconds, self._report)

    def _report(self, kind: str, *values: Any) -> None:
        if kind == "error":
            message, trace = values
            self.trainer._record_error(message, _now())
            log.error("studio trainer step failed:\n%s", trace)
        else:
            self.trainer._record_step(values[0])

    def notify(self) -> None:
        """Wake the thread (never blocks)."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """Ask the thread to stop and wait for it; a running step finishes first.

        Parameters
        ----------
        timeout : float
        """
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class _PipeLogHandler(logging.Handler):
    """Sends the child's log records to the server (which logs them itself)."""

    def __init__(self, channel: Any, send_lock: threading.Lock) -> None:
        super().__init__(logging.INFO)
        self.channel = channel
        self.send_lock = send_lock  # not ``lock``: Handler holds its own while emitting

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            with self.send_lock:
                self.channel.send(("log", record.levelno, text))
        except Exception:  # a log record must never break a step
            self.handleError(record)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a spawned child without running the server's ``__main__`` in it again.

    *spawn* re-imports the parent's main script in the child (as ``__mp_main__``) so that
    functions defined there can be unpickled. The child needs nothing from it (its
    target and arguments live in :mod:`activelab`), and a script that calls
    ``create_app`` and ``uvicorn.run`` without an ``if __name__ == "__main__"`` guard
    would start a second server in the child. While the child starts, ``__main__`` is
    an empty stand-in, so there is nothing to re-import.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _exit_with_parent() -> None:
    """End this process as soon as the process that started it is gone."""
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)  # mid-transaction is safe: the database rolls it back

    threading.Thread(target=watch, name="studio-trainer-parent-watch", daemon=True).start()


class _ChildSignals:
    """The child's side of *wake* (a pipe) and *stop* (a shared flag).

    ``clear`` empties the pipe, ``wait`` blocks until a byte arrives or the time is up,
    ``is_set`` says whether the server asked the child to stop (or closed the pipe).
    """

    def __init__(self, reader: Any, stop_flag: Any) -> None:
        self.reader = reader
        self.stop_flag = stop_flag
        self.closed = False
        os.set_blocking(reader.fileno(), False)

    def clear(self) -> None:
        while True:
            try:
                data = os.read(self.reader.fileno(), 4096)
            except BlockingIOError:
                return
            if not data:  # the server closed its end
                self.closed = True
                return

    def wait(self, timeout: float) -> None:
        from multiprocessing.connection import wait

        if not self.closed:
            wait([self.reader], timeout)

    def is_set(self) -> bool:
        return bool(self.stop_flag.value) or self.closed


def _child_main(
    config: ProjectConfig,
    project_id: int,
    poll_seconds: float,
    wake_reader: Any,
    stop_flag: Any,
    channel: Any,
    nice: int,
) -> None:
    """The child process: its own engine and trainer, the loop, reports to the server."""
    _exit_with_parent()
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)
    from activelab.studio.db import connect, is_sqlite
    from activelab.studio.trainer import Trainer

    lock = threading.Lock()

    def send(*message: Any) -> None:
        with lock:
            channel.send(message)

    studio_log = logging.getLogger("activelab.studio")
    studio_log.setLevel(logging.INFO)
    studio_log.addHandler(_PipeLogHandler(channel, lock))
    studio_log.propagate = False
    signals = _ChildSignals(wake_reader, stop_flag)
    try:
        engine = connect(config.url, pool_size=2)
    except Exception as error:  # say why before the exit code does
        send("error", f"{type(error).__name__}: {error}", traceback.format_exc())
        raise
    try:
        trainer = Trainer(config, engine, project_id, poll_seconds=poll_seconds)
        trainer._busy_hook = lambda busy: send("busy", busy)
        trainer._embedding_hook = lambda status: send("embedding", status)
        if is_sqlite(engine):
            trainer.ranking_chunk, trainer.ranking_pause = RANKING_CHUNK, RANKING_PAUSE
        send("ready", os.getpid())
        run_loop(trainer, signals, signals, poll_seconds, send)
    finally:
        engine.dispose()


class ProcessRunner:
    """Runs a trainer's loop in a child process, supervised by a thread of this one.

    Nothing the server's threads call can block on the child: :meth:`notify` writes one
    byte to a non-blocking pipe (a full pipe means a wake-up is pending already; a dead
    child's pipe is simply closed), and the stop request is a flag in shared memory.
    (``multiprocessing.Event`` would not do: setting it waits for every process
    waiting on it to wake, forever if one of them was killed.)

    Parameters
    ----------
    trainer : Trainer
        The server's trainer: its status (``busy``, errors, steps) is kept up to date
        from the child's reports. The child builds its own trainer from
        ``trainer.config`` and ``trainer.project_id``.
    poll_seconds : float
    grace : float
        Seconds :meth:`stop` waits for the child before terminating it.
    nice : int, optional
        Added to the child's scheduling niceness (POSIX only); default
        ``$ACTIVELAB_STUDIO_TRAINER_NICE`` or :data:`WORKER_NICE`.
    """

    mode = "process"

    def __init__(
        self,
        trainer: Trainer,
        poll_seconds: float,
        grace: float = 1.0,
        nice: int | None = None,
    ) -> None:
        self.trainer = trainer
        self.poll_seconds = poll_seconds
        self.grace = grace
        self.nice = default_nice() if nice is None else nice
        self._context = multiprocessing.get_context("spawn")
        self._stop_flag = self._context.RawValue("b", 0)
        self._stopping = threading.Event()
        self._wake_writer: Any = None
        self._wake_lock = threading.Lock()  # writing and closing the pipe never interleave
        self._process: Any = None
        self._supervisor: threading.Thread | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()  # spawning and stopping never interleave
        self._last_error: str | None = None  # the running child's last reported error
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    @property
    def alive(self) -> bool:
        """True while a child process runs."""
        return self.pid is not None

    def start(self, wait: float = 0.0) -> None:
        """Start the supervisor, which starts the child.

        Parameters
        ----------
        wait : float
            Seconds to wait until the child reports that it is ready (0: do not wait).
        """
        self._supervisor = threading.Thread(
            target=self._supervise, name="studio-trainer-supervisor", daemon=True
        )
        self._supervisor.start()
        if wait:
            self._started.wait(wait)

    def _spawn(self) -> tuple[Any, Any]:
        reader, writer = self._context.Pipe(duplex=False)
        wake_reader, wake_writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_child_main,
            args=(
                self.trainer.config,
                self.trainer.project_id,
                self.poll_seconds,
                wake_reader,
                self._stop_flag,
                writer,
                self.nice,
            ),
            name=f"activelab-studio-trainer-{self.trainer.config.name}",
            daemon=True,
        )
        with _main_module_hidden():
            process.start()
        writer.close()  # the child holds the only writer: EOF here when it dies
        wake_reader.close()
        os.set_blocking(wake_writer.fileno(), False)
        self._swap_wake(wake_writer)
        self._process = process
        return reader, process

    def _swap_wake(self, writer: Any) -> None:
        with self._wake_lock:
            old, self._wake_writer = self._wake_writer, writer
            if old is not None:
                old.close()

    def _supervise(self) -> None:
        backoff = 1.0
        while True:
            with self._lock:
                if self._stopping.is_set():
                    break
                reader, process = self._spawn()
            healthy = self._read(reader)
            reader.close()
            process.join(self.grace)
            self._swap_wake(None)
            if self._stopping.is_set():
                break
            code = process.exitcode
            last = f" after: {self._last_error}" if self._last_error else ""
            self.trainer._record_error(
                f"the trainer process exited unexpectedly (exit code {code}){last}; restarting it",
                _now(),
            )
            log.error("studio trainer process exited with code %s; restarting it", code)
            self.restarts += 1
            backoff = 1.0 if healthy else min(2 * backoff, MAX_BACKOFF)
            self._stopping.wait(backoff)

    def _read(self, reader: Any) -> bool:
        """Apply the child's reports until its pipe closes; True if it ever got ready."""
        ready = False
        self._last_error = None
        while True:
            try:
                message = reader.recv()
            except (EOFError, OSError):
                self.trainer._set_busy(False)
                return ready
            kind = message[0]
            if kind == "busy":
                self.trainer._set_busy(bool(message[1]))
            elif kind == "step":
                self.trainer._record_step(message[1])
            elif kind == "embedding":
                self.trainer.embedding_status = dict(message[1])
            elif kind == "error":
                self._last_error = message[1]
                self.trainer._record_error(message[1], _now())
                log.error("studio trainer step failed (trainer process):\n%s", message[2])
            elif kind == "log":
                log.log(message[1], "%s", message[2])
            elif kind == "ready":
                ready = True
                self._started.set()

    def notify(self) -> None:
        """Wake the child: one byte down a non-blocking pipe. Never blocks."""
        with self._wake_lock:
            writer = self._wake_writer
            if writer is None:
                return
            try:
                os.write(writer.fileno(), b"w")
            except OSError:  # full (a wake-up is pending) or the child is gone
                pass

    def stop(self, timeout: float) -> None:
        """Stop the child and the supervisor; no process is left behind.

        The child gets ``grace`` seconds (at most ``timeout``) to finish, then is
        terminated, then killed.

        Parameters
        ----------
        timeout : float
        """
        with self._lock:
            self._stop_flag.value = 1
            self._stopping.set()
            self._swap_wake(None)  # the child sees the pipe close and leaves its wait
            process = self._process
        if process is not None:
            deadline = time.monotonic() + max(timeout, 0.1)
            process.join(min(self.grace, timeout))
            if process.is_alive():
                process.terminate()
                process.join(max(deadline - time.monotonic(), 1.0))
            if process.is_alive():
                process.kill()
                process.join(5.0)
        if self._supervisor is not None:
            self._supervisor.join(max(timeout, 1.0))
            self._supervisor = None
        self._process = None
        if process is not None and not process.is_alive():
            process.close()
