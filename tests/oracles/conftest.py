"""Fixtures for the oracle tests: a fake chat-completions server, recorded backoff waits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from activelab.oracles import _llm_client
from tests.oracles.fake_llm import FakeLLM, serve


@dataclass
class Server:
    """A running fake server: its behaviour/record (``fake``) and base URL."""

    fake: FakeLLM
    url: str


@pytest.fixture
def server() -> Iterator[Server]:
    """A fresh fake LLM on 127.0.0.1 with labels cats/dogs/birds."""
    fake = FakeLLM(["cats", "dogs", "birds"])
    with serve(fake) as url:
        yield Server(fake, url)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits are recorded here instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(_llm_client, "_sleep", recorded.append)
    return recorded
