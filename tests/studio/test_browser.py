"""The studio in a real browser: Playwright driving Debian's Chromium against a real server.

A uvicorn server of the real app (``create_app``, background trainer on) serves a small text
project; the browser signs in, labels 20 items with the keyboard, accepts a suggestion with
Enter, skips with S, undoes with U, watches the progress and the model version change after a
retrain, corrects an answer on the review page, adds an annotator and exports JSONL from the
admin page. Every item's text carries markup (``<script>``, an ``<img onerror>``) that must
show as text and never run. The page's pure modules (keys, curve, outbox) are checked in the
same browser against hand-computed answers.

Needs ``playwright`` (``pip install playwright``; never ``playwright install``) and Debian's
Chromium at ``/usr/bin/chromium`` (``apt-get install -y chromium``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import socket
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

pytestmark = pytest.mark.slow

LABELS = ("negative", "neutral", "positive")
WORDS = {
    "negative": ("hate", "awful", "terrible", "sad", "horrible", "angry"),
    "neutral": ("table", "tuesday", "report", "meeting", "schedule", "printer"),
    "positive": ("love", "great", "wonderful", "happy", "excellent", "enjoyed"),
}
MARKUP = (
    "<script>window.__pwned = true</script>",
    '<img src=x onerror="window.__pwned = true">',
    "<b>not bold</b> & <i>not italic</i>",
)
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 20_000
API = "/api/p/browser"
BUDGET = 40


def _texts() -> list[tuple[str, str]]:
    """60 short texts (20 per label), each ending in markup that must render as text."""
    rows = []
    for i in range(60):
        label = LABELS[i % 3]
        words = WORDS[label]
        text = f"{words[i % 6]} {words[(i // 3) % 6]} day number {i} {MARKUP[(i // 3) % 3]}"
        rows.append((text, label))
    return rows


def true_label(text: str) -> str:
    """The label a text was written with (its first word's pool)."""
    first = text.split()[0]
    return next(label for label, words in WORDS.items() if first in words)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A real uvicorn server of a 60-text project: retrain every 5 answers, budget 40."""
    root = tmp_path_factory.mktemp("studio-browser")
    data = root / "items.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i, (text, label) in enumerate(_texts()):
            writer.writerow([f"{label}-{i}", text])
    config = init_project(
        root / "project",
        data,
        LABELS,
        name="browser",
        budget=BUDGET,
        retrain_every=5,
        min_labels=5,
    )
    with _serve(config) as served:
        yield served


@pytest.fixture(scope="module")
def image_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A multi-label image project: 12 small PNGs (red, green, blue squares)."""
    image = pytest.importorskip("PIL.Image", reason="image projects need Pillow")
    root = tmp_path_factory.mktemp("studio-images")
    folder = root / "images"
    folder.mkdir()
    colours = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (40, 60, 230)}
    for i in range(12):
        name = list(colours)[i % 3]
        image.new("RGB", (24, 16), colours[name]).save(folder / f"{name}-{i:02d}.png")
    config = init_project(root / "project", folder, tuple(colours), name="images", multi_label=True)
    with _serve(config) as served:
        yield served


@contextlib.contextmanager
def _serve(config: Any) -> Iterator[dict[str, Any]]:
    """Run the real app of ``config`` in a uvicorn server on a free port, in a thread."""
    token = read_admin_token(config.directory)
    app = create_app(config, poll_seconds=0.5)
    port = _free_port()
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
        yield {"base": base, "token": token, "api": api, "name": config.name}
    finally:
        api.close()
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []  # uncaught errors and console errors, checked by the tests
    page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda message: page.problems.append(message.text) if message.type == "error" else None,
    )
    try:
        yield page
    finally:
        context.close()


def _item_id(page: Any) -> str:
    return page.inner_text("#item-id")


def _wait_for_new_item(page: Any, before: str) -> str:
    page.wait_for_function(
        "before => { const id = document.getElementById('item-id').textContent;"
        " return id !== before && id !== '–'; }",
        arg=before,
    )
    return _item_id(page)


def _until(page: Any, condition: Any, seconds: float = TIMEOUT_MS / 1000) -> None:
    """Let the page run until ``condition()`` holds (Python-side state fed by events)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the page"
        page.wait_for_timeout(50)


def _wait_for_progress(page: Any, labelled: int) -> None:
    page.wait_for_function(
        "text => document.getElementById('progress-text').textContent === text",
        arg=f"{labelled} / {BUDGET} labelled",
    )


def _answer_by_api(api: Any, n: int) -> None:
    """Label ``n`` items through the API (Bearer token: no CSRF header needed)."""
    for _ in range(n):
        served = api.post(f"{API}/next").json()
        label = true_label(served["item"]["text"])
        reply = api.post(
            f"{API}/answers",
            json={
                "item_id": served["item"]["id"],
                "lease_id": served["lease"]["id"],
                "labels": [label],
                "skipped": False,
                "seconds": 1.5,
                "idempotency_key": f"api-{served['item']['id']}-{time.monotonic_ns()}",
            },
        )
        reply.raise_for_status()


def _check_item_is_text(page: Any) -> str:
    """The item on screen is plain text: no element children, the markup shown verbatim."""
    shown = page.evaluate(
        "() => { const node = document.getElementById('item-text');"
        " return {children: node.childElementCount, text: node.textContent,"
        " pwned: window.__pwned === true}; }"
    )
    assert shown["children"] == 0, shown
    assert not shown["pwned"]
    assert any(markup in shown["text"] for markup in MARKUP), shown["text"]
    return shown["text"]


def _sign_in(page: Any, studio: dict[str, Any]) -> None:
    page.goto(f"{studio['base']}/login?token={studio['token']}")
    page.wait_for_url(f"**/p/{studio['name']}/label")
    page.wait_for_function("() => document.getElementById('item-id').textContent !== '–'")


def test_label_twenty_items_with_the_keyboard(
    page: Any, studio: dict[str, Any], tmp_path: Path
) -> None:
    base, api = studio["base"], studio["api"]
    page.goto(f"{base}/")
    page.wait_for_selector("#login:not([hidden])")  # no token yet: the sign-in form
    assert page.is_hidden("#main")
    page.problems.clear()  # the 401 that opened the sign-in form
    _sign_in(page, studio)
    page.evaluate("() => { window.__sameDocument = true; }")  # gone after any full reload
    start = api.get(API).json()  # other tests may have labelled a few items already
    first_version, labelled = int(start["model_version"]), int(start["n_labeled"])
    assert page.inner_text("#progress-text") == f"{labelled} / {BUDGET} labelled"

    # 20 answers with keys 1–3: the item's own label, so the model can learn.
    given: dict[str, str] = {}
    for _ in range(20):
        item = _item_id(page)
        label = true_label(_check_item_is_text(page))
        given[item] = label
        page.keyboard.press(str(LABELS.index(label) + 1))
        _wait_for_new_item(page, item)
    page.wait_for_selector("#sync:text('all answers saved')")
    assert page.evaluate("() => document.activeElement.id") == "item"  # keys keep working
    _wait_for_progress(page, labelled + 20)
    assert page.get_attribute("#progress", "aria-valuenow") == str(labelled + 20)

    # The background trainer retrains every 5 answers; the page shows the new version.
    page.wait_for_function(
        "v => Number(document.getElementById('model-version').textContent) > v",
        arg=first_version,
        timeout=60_000,
    )
    assert int(page.inner_text("#model-version")) > first_version
    page.wait_for_function("() => document.querySelector('#curve circle') !== null")

    # Wait for an item ranked by a model: it carries a suggestion; Enter accepts it.
    for _ in range(8):
        if page.is_visible("#suggestion-main"):
            break
        item = _item_id(page)
        label = true_label(_check_item_is_text(page))
        given[item] = label
        page.keyboard.press(str(LABELS.index(label) + 1))
        _wait_for_new_item(page, item)
    assert page.is_visible("#suggestion-main"), "no suggestion after the retrain"
    bars = page.locator("#probabilities li")
    assert bars.count() == len(LABELS)
    percentages = [int(v.split()[0]) for v in page.locator(".bar-value").all_inner_texts()]
    assert abs(sum(percentages) - 100) <= len(LABELS)
    accepted_item, suggested = _item_id(page), page.inner_text("#suggested-label")
    assert suggested in LABELS
    page.keyboard.press("Enter")
    given[accepted_item] = suggested
    skipped_item = _wait_for_new_item(page, accepted_item)

    # S skips; U undoes that skip and brings the same item back.
    page.keyboard.press("s")
    after_skip = _wait_for_new_item(page, skipped_item)
    page.keyboard.press("u")
    assert _wait_for_new_item(page, after_skip) == skipped_item
    page.wait_for_selector(".toast:has-text('Undone')")
    page.wait_for_selector("#sync:text('all answers saved')")
    _wait_for_progress(page, labelled + len(given))
    page.evaluate("() => document.getElementById('toasts').replaceChildren()")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(tmp_path / "labelling.png"), full_page=True)
    shutil.copyfile(tmp_path / "labelling.png", ARTIFACTS / "labelling.png")
    assert page.evaluate("() => window.__sameDocument === true")  # never a full reload
    assert page.problems == []

    # The server holds exactly these answers: one per item, with the label given.
    answers = [
        a
        for a in api.get(f"{API}/answers", params={"limit": 100}).json()
        if str(a["item_id"]) in given
    ]
    assert {str(a["item_id"]): a["labels"] for a in answers} == {
        item: [label] for item, label in given.items()
    }
    assert len(answers) == len(given)
    assert all(not a["skipped"] and a["seconds"] > 0 for a in answers)
    withdrawn = api.get(f"{API}/answers", params={"item": skipped_item}).json()
    assert withdrawn == []  # the withdrawn skip is not a live answer


def test_review_corrects_an_answer_and_export_carries_it(
    page: Any, studio: dict[str, Any], tmp_path: Path
) -> None:
    base, api = studio["base"], studio["api"]
    _sign_in(page, studio)
    have = len(api.get(f"{API}/answers", params={"limit": 100}).json())
    _answer_by_api(api, max(0, 5 - have))  # when this test runs first
    page.goto(f"{base}/p/browser/review")
    page.wait_for_selector("#answer-rows tr select")
    rows = page.locator("#answer-rows tr")
    total = len(api.get(f"{API}/answers", params={"limit": 100}).json())
    assert rows.count() == total and total >= 5
    assert page.inner_text("#page-info") == f"1–{total} of {total}"
    for cell in page.locator(".text-cell").all():  # item text, shown as text
        assert cell.evaluate("node => node.childElementCount") == 0
    assert any("<script>" in text for text in page.locator(".text-cell").all_inner_texts())

    first = rows.first
    answer_id = first.locator("td").first.inner_text()
    before = first.locator(".labels").inner_text()
    other = next(label for label in LABELS if label != before)
    first.locator("select").select_option(other)
    first.locator("button:has-text('Save')").click()
    page.wait_for_selector(".toast:has-text('corrected')")
    assert first.locator(".labels").inner_text() == other
    stored = next(a for a in api.get(f"{API}/answers").json() if str(a["id"]) == answer_id)
    assert stored["labels"] == [other] and stored["original_labels"] == [before]

    # Filter by annotator: the admin gave every answer, nobody else gave any.
    page.select_option("#filter-annotator", "admin")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#review-summary:has-text('by admin')")
    assert page.locator("#answer-rows tr").count() == total

    page.goto(f"{base}/p/browser/admin")
    with page.expect_download() as download:
        page.click("#export-jsonl")
    path = tmp_path / "export.jsonl"
    download.value.save_as(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len(rows) == total
    corrected = next(row for row in rows if str(row["answer_id"]) == answer_id)
    assert corrected["labels"] == [other] and corrected["original_labels"] == [before]
    for row in rows:
        assert row["annotator"] == "admin" and row["seconds"] > 0
        assert row["strategy"] and row["model_version"] is not None
        assert row["text"].split()[0] in WORDS[row["external_id"].split("-")[0]]
    assert any("<script>" in row["text"] for row in rows)
    assert page.problems == []


def test_admin_adds_an_annotator_and_imports_items(
    page: Any, browser: Any, studio: dict[str, Any]
) -> None:
    base, api = studio["base"], studio["api"]
    _sign_in(page, studio)
    page.goto(f"{base}/p/browser/admin")
    page.wait_for_selector("#people-rows tr")
    page.fill("#person-name", "ann <b>")
    page.select_option("#person-role", "annotator")
    page.click("#new-person button[type=submit]")
    page.wait_for_selector("#new-token:not([hidden])")
    token = page.input_value("#new-token-value")
    assert len(token) >= 20
    assert page.input_value("#new-token-link") == f"{base}/login?token={token}"
    page.wait_for_selector("#people-rows td:text-is('ann <b>')")  # the name, as text
    page.wait_for_selector("#fleiss-kappa")

    # Import: the good row is added, the bad one named by line and field.
    n_items = api.get(API).json()["n_items"]
    upload = f"id,text\npositive-new,love love new item {MARKUP[2]}\nnew-2,\n".encode()
    page.set_input_files(
        "#import-file", files=[{"name": "more.csv", "mimeType": "text/csv", "buffer": upload}]
    )
    page.click("#import button[type=submit]")
    page.wait_for_selector("#import-result:has-text('added')")
    assert page.inner_text("#import-result") == "1 item added; 1 row refused:"
    assert page.inner_text("#import-errors").startswith("line 3, field 'text':")
    assert api.get(API).json()["n_items"] == n_items + 1
    assert page.problems == []

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        other = context.new_page()
        other.goto(f"{base}/login?token={token}")
        other.wait_for_url("**/p/browser/label")
        # #me starts empty; the page fills it once the project info arrives.
        other.wait_for_function(
            "() => !['', '–'].includes(document.getElementById('me').textContent)"
        )
        assert other.inner_text("#me") == "ann <b> (annotator)"
        assert other.locator(".topbar nav a:text('Admin')").is_hidden()
        other.goto(f"{base}/p/browser/admin")
        other.wait_for_selector(".refusal")
        assert "admin" in other.inner_text(".refusal").lower()
        # Signing in again with next= lands on that page of the site.
        other.goto(f"{base}/login?token={token}&next=/p/browser/review")
        other.wait_for_url("**/p/browser/review")

        # The admin revokes ann's token on the admin page: ann is signed out at once.
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#people-rows tr", has_text="ann <b>").locator("button.danger").click()
        page.wait_for_selector("#people-rows tr:has-text('ann <b>') td:has-text('revoked')")
        other.goto(f"{base}/p/browser/label")
        other.wait_for_selector("#login:not([hidden])")
        assert page.problems == []
    finally:
        context.close()


def test_a_failed_answer_is_retried_with_the_same_key(page: Any, studio: dict[str, Any]) -> None:
    """The first POST is lost on the network, the second gets a 503: the page shows it,
    retries with the same idempotency key, and the server stores the answer once."""
    api = studio["api"]
    _sign_in(page, studio)
    keys: list[str] = []

    def flaky(route: Any) -> None:
        keys.append(json.loads(route.request.post_data)["idempotency_key"])
        if len(keys) == 1:
            route.abort("connectionreset")
        elif len(keys) == 2:
            route.fulfill(status=503, json={"detail": "busy, try again"})
        else:
            route.continue_()

    page.route("**/api/p/browser/answers", flaky)
    before = len(api.get(f"{API}/answers", params={"limit": 100}).json())
    item = _item_id(page)
    label = true_label(_check_item_is_text(page))
    page.keyboard.press(str(LABELS.index(label) + 1))
    page.wait_for_selector("#sync.warn:has-text('retrying')")
    page.wait_for_selector("#sync:text('all answers saved')")
    assert len(keys) == 3 and len(set(keys)) == 1
    answers = api.get(f"{API}/answers", params={"limit": 100}).json()
    assert len(answers) == before + 1
    assert [a["labels"] for a in answers if str(a["item_id"]) == item] == [[label]]


def test_the_next_item_is_on_screen_before_the_answer_is_saved(
    page: Any, studio: dict[str, Any]
) -> None:
    """Prefetch: while an answer is still in flight the next item is already shown, and one
    more is fetched once the server has the answer."""
    calls: list[str] = []
    page.on(
        "request",
        lambda request: (
            calls.append(request.url.rsplit("/", 1)[-1]) if request.method == "POST" else None
        ),
    )
    _sign_in(page, studio)
    _until(page, lambda: calls.count("next") == 2)  # the item on screen, and the next one
    held: list[Any] = []
    page.route("**/api/p/browser/answers", lambda route: held.append(route))
    first = _item_id(page)
    page.keyboard.press(str(LABELS.index(true_label(_check_item_is_text(page))) + 1))
    second = _wait_for_new_item(page, first)  # shown while the answer is held back
    page.wait_for_selector("#sync:text('saving 1 answer…')")
    assert len(held) == 1 and calls.count("next") == 2
    held[0].continue_()
    page.wait_for_selector("#sync:text('all answers saved')")
    _until(page, lambda: calls.count("next") == 3)  # prefetched once the answer was in
    page.unroute("**/api/p/browser/answers")
    page.keyboard.press(str(LABELS.index(true_label(_check_item_is_text(page))) + 1))
    third = _wait_for_new_item(page, second)
    assert len({first, second, third}) == 3
    page.wait_for_selector("#sync:text('all answers saved')")
    assert calls.count("answers") == 2


def test_a_refused_answer_stays_on_screen(page: Any, studio: dict[str, Any]) -> None:
    """A 4xx is not retried blindly: the failure is shown with a way to send it again."""
    _sign_in(page, studio)
    page.route(
        "**/api/p/browser/answers",
        lambda route: route.fulfill(status=409, json={"detail": "lease of another item"}),
    )
    item = _item_id(page)
    page.keyboard.press("1")
    page.wait_for_selector("#failures:not([hidden])")
    assert f"item {item}" in page.inner_text("#failures")
    assert "lease of another item" in page.inner_text("#failures")
    assert "refused" in page.inner_text("#sync")
    page.unroute("**/api/p/browser/answers")
    page.click("#failures button:has-text('Send again')")
    page.wait_for_selector("#failures", state="hidden")
    page.wait_for_selector("#sync:text('all answers saved')")


def test_multi_label_keys_toggle_and_enter_submits_an_image_item(
    page: Any, image_studio: dict[str, Any]
) -> None:
    api = image_studio["api"]
    _sign_in(page, image_studio)
    image = page.locator("#item-image")
    image.wait_for(state="visible")
    assert image.evaluate("node => node.complete && node.naturalWidth") == 24  # loaded
    assert page.inner_text("#item-text") == ""
    assert page.is_visible("#submit") and page.is_hidden("#accept")
    buttons = page.locator("#labels button")
    item = _item_id(page)
    for key in ("1", "3", "1", "2"):  # red on, blue on, red off, green on
        page.keyboard.press(key)
    pressed = [buttons.nth(i).get_attribute("aria-pressed") for i in range(3)]
    assert pressed == ["false", "true", "true"]
    page.keyboard.press("Enter")
    _wait_for_new_item(page, item)
    assert page.locator("#labels button[aria-pressed=true]").count() == 0  # fresh item
    page.wait_for_selector("#sync:text('all answers saved')")
    answers = api.get("/api/p/images/answers").json()
    assert [(str(a["item_id"]), a["labels"]) for a in answers] == [(item, ["green", "blue"])]
    assert page.problems == []


# ------------------------------------------------------------------ the pure modules


def _module(page: Any, studio: dict[str, Any], script: str) -> Any:
    page.goto(f"{studio['base']}/p/browser/label")
    return page.evaluate(script)


def test_key_map(page: Any, studio: dict[str, Any]) -> None:
    result = _module(
        page,
        studio,
        """async () => {
          const { keyAction } = await import('/static/keys.js');
          const single = { labelCount: 3, multiLabel: false };
          const multi = { labelCount: 3, multiLabel: true };
          const k = (key, opts, extra = {}) => keyAction({ key, ...extra }, opts);
          return [k('1', single), k('3', single), k('4', single), k('2', multi),
                  k('Enter', single), k('Enter', multi), k('s', single), k('S', single),
                  k('u', single), k('Backspace', single), k('1', single, { ctrlKey: true }),
                  k('x', single)];
        }""",
    )
    assert result == [
        {"type": "label", "index": 0},
        {"type": "label", "index": 2},
        None,
        {"type": "toggle", "index": 1},
        {"type": "accept"},
        {"type": "submit"},
        {"type": "skip"},
        {"type": "skip"},
        {"type": "undo"},
        {"type": "undo"},
        None,
        None,
    ]


def test_curve_geometry(page: Any, studio: dict[str, Any]) -> None:
    geometry = _module(
        page,
        studio,
        """async () => {
          const { curveGeometry } = await import('/static/curve.js');
          const pad = { left: 10, right: 10, top: 10, bottom: 10 };
          return curveGeometry([
            { n_labeled: 30, estimate: 0.8, model_version: 3 },
            { n_labeled: 10, estimate: 0.5, model_version: 1 },
            { n_labeled: 20, estimate: null, model_version: 2 },
          ], { width: 220, height: 120, pad });
        }""",
    )
    # x: 10 → 10, 30 → 210; y spans [0.4, 0.9] over 100 px (estimates padded by 0.05,
    # rounded out to tenths): 0.5 → 10 + 100 · 0.8 = 90, 0.8 → 10 + 100 · 0.2 = 30.
    assert [(p["x"], p["y"]) for p in geometry["points"]] == [
        pytest.approx((10, 90)),
        pytest.approx((210, 30)),
    ]
    assert geometry["path"] == "M10.0 90.0 L210.0 30.0"
    assert [t["value"] for t in geometry["xTicks"]] == [10, 15, 20, 25, 30]
    # y ticks: a step of (0.9 − 0.4) / 4 = 0.125 rounds up to 0.2.
    assert [round(t["value"], 2) for t in geometry["yTicks"]] == [0.4, 0.6, 0.8]


def test_outbox_retries_transient_failures_and_keeps_refusals(
    page: Any, studio: dict[str, Any]
) -> None:
    result = _module(
        page,
        studio,
        """async () => {
          const { Outbox } = await import('/static/outbox.js');
          const { ApiError } = await import('/static/common.js');
          const calls = [];
          const plan = [new ApiError(0, 'offline'), new ApiError(502, 'bad gateway'), 'ok',
                        new ApiError(422, 'unknown label'), 'ok'];
          const box = new Outbox(async (body) => {
            calls.push(body.n);
            const next = plan.shift();
            if (next instanceof Error) throw next;
            return { answer_id: body.n };
          }, { delays: [1, 1, 1] });
          box.add({ n: 1 }, 'first');
          box.add({ n: 2 }, 'second');
          box.add({ n: 3 }, 'third');
          await box.drain();
          return { calls, pending: box.pending,
                   failed: box.failed.map((e) => [e.label, e.error.status]) };
        }""",
    )
    # 1 fails twice (network, 502) and then goes; 2 is refused (422) and kept; 3 goes.
    assert result == {"calls": [1, 1, 1, 2, 3], "pending": 0, "failed": [["second", 422]]}
