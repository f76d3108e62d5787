"""Studio fixtures: a database on each backend, small projects, a real server on a free port.

``db_url`` is parametrised over SQLite (always) and PostgreSQL (when the environment
variable ``ACTIVELAB_TEST_POSTGRES_URL`` names a server, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; skipped otherwise). Each
PostgreSQL test gets its own schema (through ``search_path`` in the URL), dropped
afterwards, so tests never collide.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

POSTGRES_ENV = "ACTIVELAB_TEST_POSTGRES_URL"
LABELS = ("pos", "neg", "mid")
#: Words that make each synthetic label learnable.
VOCABULARY = {
    "pos": ["good", "great", "love", "fine", "happy", "best"],
    "neg": ["bad", "awful", "hate", "worst", "sad", "broken"],
    "mid": ["okay", "meh", "average", "normal", "plain", "usual"],
}
FILLER = ["the", "car", "road", "drive", "today", "city", "ride", "seat", "wheel", "trip"]


def synthetic_texts(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` short texts and their true labels (three classes, learnable, deterministic)."""
    rng = np.random.default_rng(seed)
    texts, truth = [], []
    for i in range(n):
        label = LABELS[i % 3]
        words = list(rng.choice(VOCABULARY[label], size=2)) + list(rng.choice(FILLER, size=3))
        rng.shuffle(words)
        texts.append(" ".join(words) + f" #{i}")
        truth.append(label)
    return texts, truth


def truth_of(text: str) -> str:
    """The synthetic label of a text made by :func:`synthetic_texts`."""
    return LABELS[int(text.rsplit("#", 1)[1]) % 3]


def _postgres_schema_url(base: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on SQLite, then on PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'studio.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set")
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    schema = f"studio_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_schema_url(base, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '20s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


ProjectFactory = Callable[..., Any]


@pytest.fixture
def make_project(db_url: str, tmp_path: Path) -> ProjectFactory:
    """Make a text project on ``db_url``: ``make_project(texts, labels=..., **settings)``.

    ``db=`` overrides the database URL (e.g. to add ``?synchronous=normal``).
    Returns the ProjectConfig; the admin token is ``read_admin_token(config.directory)``.
    Several calls make several projects in the same database (give each a ``name``).
    """
    from activelab.studio.project import init_project

    def factory(
        texts: Sequence[str] | None = None,
        labels: Sequence[str] = LABELS,
        name: str = "proj",
        **settings: Any,
    ) -> Any:
        import json

        folder = tmp_path / name
        data = None
        if texts is not None:
            data = tmp_path / f"{name}-items.jsonl"
            data.write_text(
                "".join(
                    json.dumps({"text": text, "id": f"x{i}"}) + "\n" for i, text in enumerate(texts)
                )
            )
        settings.setdefault("db", db_url)
        return init_project(folder, data, labels, name=name, **settings)

    return factory


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free port; yield its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}
