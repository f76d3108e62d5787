"""A persistent cache of chat-completion responses in one SQLite file.

Keyed by a hash of what determines an answer: the endpoint (``base_url``), the model, the
messages and the request parameters (temperature, seed, n, response format, …). A rerun of
the same experiment therefore makes no request at all, and two servers that serve models
of the same name do not share entries. (Files written before the endpoint joined the key
stay readable, but their entries are keyed without it and are no longer found: a rerun
asks once more and stores the answers under the new keys.) Only the response body is
stored, never a request header, so no API key reaches the file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    base_url: str | None = None,
) -> str:
    """The cache key of one request: SHA-256 of (base_url, model, messages, params) as
    canonical JSON.

    Parameters
    ----------
    model : str
    messages : list of dict
        The chat messages, in order.
    params : dict
        Every other field of the request body that changes the answer.
    base_url : str, optional
        The endpoint (:class:`ChatClient` always passes it): two servers with one model
        name get distinct keys. None leaves it out of the hash.

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> a = cache_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0})
    >>> a == cache_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0})
    True
    >>> a == cache_key("m", [{"role": "user", "content": "hi"}], {"temperature": 1})
    False
    >>> a == cache_key("m", [{"role": "user", "content": "hi"}], {"temperature": 0},
    ...                base_url="http://localhost:8000/v1")
    False
    """
    fields: dict[str, Any] = {"model": model, "messages": messages, "params": params}
    if base_url is not None:
        fields["base_url"] = base_url
    canonical = json.dumps(
        fields,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Chat-completion responses stored in SQLite (WAL), shared safely between threads.

    Parameters
    ----------
    path : str or pathlib.Path
        The database file (created with its folder when missing), or ``":memory:"``.

    Examples
    --------
    >>> cache = ResponseCache(":memory:")
    >>> cache.put("k", "m", {"choices": []})
    >>> cache.get("k")
    {'choices': []}
    >>> len(cache)
    1
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock:
            if self.path != ":memory:":
                self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(_SCHEMA)
            self._connection.commit()

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or None.

        Parameters
        ----------
        key : str

        Returns
        -------
        dict or None
        """
        with self._lock:
            row = self._connection.execute(
                "SELECT response FROM responses WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, model: str, response: dict[str, Any]) -> None:
        """Store ``response`` under ``key`` (replacing an older one).

        Parameters
        ----------
        key : str
        model : str
        response : dict
            The response body (JSON-serialisable).
        """
        text = json.dumps(response, ensure_ascii=False)
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO responses (key, model, response, created) "
                "VALUES (?, ?, ?, ?)",
                (key, model, text, time.time()),
            )
            self._connection.commit()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._connection.close()

    def __repr__(self) -> str:
        return f"ResponseCache({self.path!r})"
