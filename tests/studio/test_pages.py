"""The studio's HTML pages without a browser: routes, escaping, headers and static assets.

The pages are shells around the JSON API, so these tests mount only the page router on a bare
FastAPI app; what the scripts do in a real browser is tested in ``test_browser.py``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi", reason="the studio extra is not installed")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")

from fastapi import FastAPI
from fastapi.testclient import TestClient

from activelab.studio import pages

SCRIPTS = sorted(pages.STATIC_DIR.glob("*.js"))
TEMPLATES = sorted(pages.TEMPLATES_DIR.glob("*.html"))


class _Tags(HTMLParser):
    """Collect (tag, attributes) pairs and element ids of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.add(attributes["id"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _app(name: str | None = "demo") -> FastAPI:
    app = FastAPI()
    if name is not None:
        app.state.project_name = name
    app.include_router(pages.router)
    pages.mount_static(app)
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app(), follow_redirects=False)


# ------------------------------------------------------------------ routes


def test_root_redirects_to_the_labelling_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/p/demo/label"


def test_root_quotes_a_project_name_with_spaces_and_slashes() -> None:
    response = TestClient(_app("my tweets/v2"), follow_redirects=False).get("/")
    assert response.headers["location"] == "/p/my%20tweets%2Fv2/label"


def test_root_without_a_project_says_where_to_go() -> None:
    response = TestClient(_app(None), follow_redirects=False).get("/")
    assert response.status_code == 404
    assert "/p/PROJECT/label" in response.json()["detail"]


@pytest.mark.parametrize("page", ["label", "review", "admin"])
def test_each_page_is_html_with_strict_security_headers(client: TestClient, page: str) -> None:
    response = client.get(f"/p/demo/{page}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    parsed = _parse(response.text)
    body = next(attributes for tag, attributes in parsed.tags if tag == "body")
    assert body["data-project"] == "demo"
    assert body["data-api"] == "/api/p/demo"
    assert body["data-page"] == page
    current = [a for tag, a in parsed.tags if tag == "a" and "aria-current" in a]
    assert [a["href"] for a in current] == [f"/p/demo/{page}"]


def test_a_page_of_another_project_is_not_found(client: TestClient) -> None:
    response = client.get("/p/other/label")
    assert response.status_code == 404
    assert "'demo'" in response.json()["detail"] and "'other'" in response.json()["detail"]


def test_pages_are_left_out_of_the_openapi_schema() -> None:
    app = _app()
    assert not [path for path in app.openapi()["paths"] if not path.startswith("/api")]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"project_name": "a"}, "a"),
        ({"project": SimpleNamespace(name="b")}, "b"),
        ({"config": SimpleNamespace(name="c")}, "c"),
        ({"project_name": "", "config": SimpleNamespace(name="d")}, "d"),
        ({}, None),
    ],
)
def test_served_project_reads_the_app_state(state: dict, expected: str | None) -> None:
    app = FastAPI()
    for key, value in state.items():
        setattr(app.state, key, value)
    assert pages.served_project(app) == expected


# ------------------------------------------------------------------ escaping and markup

HOSTILE = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.mark.parametrize("page", sorted(pages.PAGES))
def test_a_hostile_project_name_is_escaped_everywhere(page: str) -> None:
    html = pages.render_page(page, HOSTILE)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    parsed = _parse(html)
    body = next(attributes for tag, attributes in parsed.tags if tag == "body")
    assert body["data-project"] == HOSTILE  # the attribute round-trips intact
    assert body["data-api"] == "/api/p/" + quote(HOSTILE, safe="")
    assert "<" not in body["data-api"] and '"' not in body["data-api"]
    assert not [a for tag, a in parsed.tags if tag == "img" and a.get("src") == "x"]


@pytest.mark.parametrize("page", sorted(pages.PAGES))
def test_pages_load_only_their_own_module_and_no_inline_script(page: str) -> None:
    parsed = _parse(pages.render_page(page, "demo"))
    scripts = [a for tag, a in parsed.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": f"/static/{pages.PAGES[page][1]}"}]
    assert not [a for _, a in parsed.tags for key in a if key.startswith("on")]
    styles = [a["href"] for tag, a in parsed.tags if tag == "link" and a.get("rel") == "stylesheet"]
    assert styles == ["/static/studio.css"]
    assert all(a.get("type") for tag, a in parsed.tags if tag == "button")


def test_unknown_page_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown page 'nope'"):
        pages.render_page("nope", "demo")


def test_labelling_page_has_every_control_the_script_drives() -> None:
    parsed = _parse(pages.render_page("label", "demo"))
    progress = next(a for _, a in parsed.tags if a.get("id") == "progress")
    assert progress["role"] == "progressbar"
    buttons = {a.get("id") for tag, a in parsed.tags if tag == "button"}
    assert {"accept", "submit", "skip", "undo"} <= buttons
    assert next(tag for tag, a in parsed.tags if a.get("id") == "curve") == "svg"
    assert {"labels", "probabilities", "stopping-rows", "model-version", "why-score"} <= parsed.ids
    for target in ("main", "item"):  # focus moves to the new item, keys work from there
        assert next(a for _, a in parsed.tags if a.get("id") == target)["tabindex"] == "-1"


def test_admin_page_links_the_export_formats() -> None:
    parsed = _parse(pages.render_page("admin", "demo"))
    links = {a["id"]: a["href"] for tag, a in parsed.tags if tag == "a" and "download" in a}
    assert links == {
        f"export-{fmt}": f"/api/p/demo/export?format={fmt}"
        # the script shows CoNLL for NER only, COCO for detection only
        for fmt in ("jsonl", "csv", "parquet", "conll", "coco")
    }
    assert "settings" in parsed.ids and "features-select" in parsed.ids


def test_the_label_page_of_an_ner_project_is_the_span_page() -> None:
    parsed = _parse(pages.render_page("label", "demo", task="ner"))
    assert {"tokens", "proposal", "mode-correct", "mode-teach", "labels"} <= parsed.ids
    assert 'src="/static/ner.js"' in pages.render_page("label", "demo", task="ner")
    assert 'src="/static/label.js"' in pages.render_page("label", "demo")


# ------------------------------------------------------------------ static assets


def test_static_files_are_served_with_the_right_types(client: TestClient) -> None:
    script = client.get("/static/label.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    assert client.get("/static/studio.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/%2e%2e/pages.py").status_code == 404


_IMPORT = re.compile(r"import\s*\{([^}]*)\}\s*from\s*'(\./[\w-]+\.js)'")
_EXPORT = re.compile(r"export\s+(?:async\s+)?(?:function|class|const|let)\s+(\w+)")


def test_every_module_import_resolves_to_an_export() -> None:
    exports = {path.name: set(_EXPORT.findall(path.read_text())) for path in SCRIPTS}
    imports = 0
    for path in SCRIPTS:
        for names, target in _IMPORT.findall(path.read_text()):
            assert target[2:] in exports, f"{path.name} imports missing module {target}"
            for name in (n.strip() for n in names.split(",") if n.strip()):
                assert name in exports[target[2:]], f"{path.name}: {target} has no export {name}"
                imports += 1
    assert imports > 10


def test_every_page_module_exists() -> None:
    names = {path.name for path in SCRIPTS}
    assert {script for _, script, _ in pages.PAGES.values()} <= names


_IDS = re.compile(r"""(?:\$|getElementById)\('([\w-]+)'\)""")


@pytest.mark.parametrize("page", sorted(pages.PAGES))
def test_every_element_a_script_looks_up_is_on_its_page(page: str) -> None:
    ids = _parse(pages.render_page(page, "demo")).ids
    for script in (pages.PAGES[page][1], "common.js"):
        wanted = set(_IDS.findall((pages.STATIC_DIR / script).read_text()))
        assert wanted, script
        assert wanted <= ids, f"{script} looks up ids missing from the {page} page: {wanted - ids}"


_HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_write_html(path) -> None:
    """Item text, names and labels reach the page only as text nodes."""
    assert not _HTML_SINKS.findall(path.read_text())


@pytest.mark.parametrize(
    "path", SCRIPTS + TEMPLATES + [pages.STATIC_DIR / "studio.css"], ids=lambda p: p.name
)
def test_nothing_is_loaded_from_another_origin(path) -> None:
    """No CDN: every asset is local (the SVG namespace is a name, not a request)."""
    text = path.read_text().replace("http://www.w3.org/2000/svg", "")
    assert not re.findall(r"https?://|//cdn|@import", text)


# ------------------------------------------------------------------ inside the real app


def test_the_real_app_serves_the_pages_and_assets(tmp_path) -> None:
    pytest.importorskip("sqlalchemy", reason="the studio extra is not installed")
    from activelab.studio.app import create_app
    from activelab.studio.project import init_project

    data = tmp_path / "items.jsonl"
    data.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    config = init_project(tmp_path / "project", data, ["a", "b"], name="real")
    client = TestClient(create_app(config, start_trainer=False), follow_redirects=False)
    assert client.get("/").headers["location"] == "/p/real/label"
    for page in pages.PAGES:
        response = client.get(f"/p/real/{page}")
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert client.get("/p/other/label").status_code == 404
    assert client.get("/static/label.js").status_code == 200
    assert client.get("/api/p/real").status_code == 401  # the pages are shells; data needs a token
