"""The LLM suggestion on the labelling page, in a real browser (Playwright + Debian's
Chromium), with the real server, its trainer process and the fake LLM of tests/oracles.

Needs ``playwright`` (never ``playwright install``) and ``/usr/bin/chromium``.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

pytest.importorskip("fastapi", reason="the studio extra is not installed")
httpx = pytest.importorskip("httpx", reason="the studio extra is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the studio extra is not installed")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install playwright"
)
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)

from activelab.studio.app import create_app  # noqa: E402
from activelab.studio.project import init_project, read_admin_token  # noqa: E402
from tests.oracles.fake_llm import FakeLLM, serve  # noqa: E402

from .conftest import free_port  # noqa: E402

pytestmark = pytest.mark.slow

LABELS = ("negative", "neutral", "positive")
WORDS = {
    "negative": ("hate", "awful", "terrible"),
    "neutral": ("table", "tuesday", "report"),
    "positive": ("love", "great", "wonderful"),
}
API = "/api/p/llmpage"


def _texts() -> dict[str, str]:
    return {
        f"{WORDS[label][i % 3]} things, day {i}": label
        for i, label in ((i, LABELS[i % 3]) for i in range(30))
    }


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A served 30-text project in suggest mode, its fake LLM, and an API client."""
    truth = _texts()
    fake = FakeLLM(list(LABELS), truth=truth)
    root = tmp_path_factory.mktemp("studio-llm-browser")
    data = root / "items.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i, text in enumerate(truth):
            writer.writerow([f"t{i}", text])
    with serve(fake) as url:
        config = init_project(
            root / "project",
            data,
            LABELS,
            name="llmpage",
            llm="suggest",
            llm_base_url=url,
            llm_model="fake-model",
            llm_api_key_env="",
            llm_batch=10,
            llm_lookahead=10,
        )
        token = read_admin_token(config.directory)
        app = create_app(config, poll_seconds=0.3)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        try:
            yield {"base": base, "token": token, "api": api, "truth": truth, "fake": fake}
        finally:
            api.close()
            server.should_exit = True
            thread.join(timeout=15)


def test_the_llm_suggestion_is_shown_and_enter_accepts_it(studio: dict[str, Any]) -> None:
    api = studio["api"]
    # The trainer's process ranks the queue, then asks the LLM about its head.
    deadline = time.monotonic() + 60
    while api.get(f"{API}/llm").json()["items_handled"] < 10:
        assert time.monotonic() < deadline, "the LLM labeller did not run"
        time.sleep(0.2)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"{studio['base']}/login?token={studio['token']}")
            page.wait_for_url("**/p/llmpage/label")
            page.wait_for_function("() => document.getElementById('item-id').textContent !== '–'")
            page.wait_for_selector("#llm-suggestion:not([hidden])")
            text = page.inner_text("#item-text")
            shown = page.inner_text("#llm-suggested-label")
            assert shown == studio["truth"][text]
            assert page.inner_text("#llm-model") == "fake-model"
            assert page.inner_text("#llm-confidence") == "97 %"
            # The model's own suggestion is a different panel (no model yet).
            assert page.is_visible("#suggestion-none")
            button = page.locator(".label-button.llm-suggested")
            assert button.count() == 1 and shown in button.inner_text()
            item_id = page.inner_text("#item-id")
            page.keyboard.press("Enter")
            page.wait_for_function(
                "before => document.getElementById('item-id').textContent !== before",
                arg=item_id,
            )
            deadline = time.monotonic() + 20
            while True:
                stored = api.get(f"{API}/answers", params={"item": item_id}).json()
                if stored or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert [a["labels"] for a in stored] == [[shown]]
            assert stored[0]["machine"] is None  # the person's answer, not a machine label
            assert not problems, problems
        finally:
            browser.close()
