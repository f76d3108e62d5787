"""The studio's HTML pages: labelling, review and admin.

Each page is a small server-rendered shell (Jinja2, autoescaped) plus one plain ES module from
``/static``; everything the page shows comes from the JSON API under ``/api/p/{project}``, so
the pages hold no data of their own and every answer lives on the server as soon as it is
given. No CDN and no build step: the templates, scripts and stylesheet ship in the package.

Routes (all left out of the OpenAPI schema, which documents the JSON API):

- ``GET /`` redirects to ``/p/{project}/label`` for the project this server serves;
- ``GET /p/{project}/label`` the labelling page (any annotator); for an NER project the
  span-labelling page (``ner.html``, ``ner.js``);
- ``GET /p/{project}/review`` the review page (admin: list answers, filter, correct a label);
- ``GET /p/{project}/admin`` the admin page (annotators and tokens, export, agreement).

The pages themselves are public shells; the API decides who may read what (401 without a
token, 403 for another project or a non-admin) and the page shows a token form or the refusal.
Page responses carry a strict Content-Security-Policy (scripts, styles and images from this
origin only, no inline script), so item text that smuggles markup can never run.

``create_app`` includes :data:`router` and calls :func:`mount_static`. The project name for
``/`` is read from ``app.state`` (see :func:`served_project`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from activelab._extras import require

require("fastapi", "studio", "The annotation studio")
require("jinja2", "studio", "The studio's pages")

import jinja2  # noqa: E402
from fastapi import APIRouter, FastAPI, HTTPException, Request  # noqa: E402
from fastapi.responses import HTMLResponse, RedirectResponse  # noqa: E402
from fastapi.staticfiles import StaticFiles  # noqa: E402

__all__ = [
    "NER_LABEL_PAGE",
    "PAGES",
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "mount_static",
    "render_page",
    "router",
    "served_project",
]

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")

#: page name -> (template, ES module, title)
PAGES: dict[str, tuple[str, str, str]] = {
    "label": ("label.html", "label.js", "Label"),
    "review": ("review.html", "review.js", "Review"),
    "admin": ("admin.html", "admin.js", "Admin"),
}

#: The labelling page of NER projects: (template, ES module).
NER_LABEL_PAGE = ("ner.html", "ner.js")
SEGMENTATION_LABEL_PAGE = ("segmentation.html", "segmentation.js")
DETECTION_LABEL_PAGE = ("detection.html", "detection.js")

#: Headers sent with every page: no inline or foreign script, no framing, no sniffing.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(include_in_schema=False)


def served_project(app: Any) -> str | None:
    """Name of the project an app serves, or None when it does not say.

    ``create_app`` records it on ``app.state`` as ``project_name`` (a str) or as ``project``
    / ``config`` (an object with a ``name``); the first one found wins.

    Parameters
    ----------
    app : fastapi.FastAPI or starlette.applications.Starlette
        The application (``request.app`` inside a route).

    Returns
    -------
    str or None

    Examples
    --------
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> served_project(app) is None
    True
    >>> app.state.project_name = "tweets"
    >>> served_project(app)
    'tweets'
    """
    state = app.state
    name = getattr(state, "project_name", None)
    if isinstance(name, str) and name:
        return name
    for attribute in ("project", "config", "project_config"):
        name = getattr(getattr(state, attribute, None), "name", None)
        if isinstance(name, str) and name:
            return name
    return None


def render_page(page: str, project: str, task: str = "text") -> str:
    """Render one page's HTML shell for ``project``.

    Parameters
    ----------
    page : {"label", "review", "admin"}
        Which page.
    project : str
        The project name; it is escaped wherever it appears (text and attributes).
    task : str
        The project's task: ``"ner"`` gets the span-labelling page as its label page.

    Returns
    -------
    str
        The HTML document. It links ``/static/studio.css`` and loads ``/static/<page>.js`` as
        an ES module; ``<body data-project=... data-api=...>`` tells the script where the
        API is.

    Examples
    --------
    >>> html = render_page("label", "<b>x</b>")
    >>> "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    True
    """
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; expected one of {sorted(PAGES)}")
    template, script, title = PAGES[page]
    if page == "label" and task == "ner":
        template, script = NER_LABEL_PAGE
    elif page == "label" and task == "segmentation":
        template, script = SEGMENTATION_LABEL_PAGE
    elif page == "label" and task == "detection":
        template, script = DETECTION_LABEL_PAGE
    quoted = quote(project, safe="")
    return _environment.get_template(template).render(
        page=page,
        title=title,
        project=project,
        script=script,
        api=f"/api/p/{quoted}",
        pages={name: f"/p/{quoted}/{name}" for name in PAGES},
        nav=[(name, PAGES[name][2]) for name in PAGES],
    )


def _page_response(request: Request, page: str, project: str) -> HTMLResponse:
    served = served_project(request.app)
    if served is not None and project != served:
        raise HTTPException(
            status_code=404,
            detail=(
                f"this server serves project {served!r}, not {project!r}; "
                f"open /p/{quote(served, safe='')}/{page}"
            ),
        )
    task = getattr(getattr(request.app.state, "project", None), "task", "text")
    return HTMLResponse(render_page(page, project, task), headers=SECURITY_HEADERS)


@router.get("/")
def index(request: Request) -> RedirectResponse:
    """Redirect to the labelling page of the project this server serves."""
    project = served_project(request.app)
    if project is None:
        raise HTTPException(
            status_code=404,
            detail="this server does not name its project; open /p/PROJECT/label",
        )
    return RedirectResponse(f"/p/{quote(project, safe='')}/label", status_code=307)


@router.get("/p/{project}/label", response_class=HTMLResponse)
def label_page(request: Request, project: str) -> HTMLResponse:
    """The labelling page: the item, the suggestion, keys 1–9, progress, curve, stopping."""
    return _page_response(request, "label", project)


@router.get("/p/{project}/review", response_class=HTMLResponse)
def review_page(request: Request, project: str) -> HTMLResponse:
    """The review page (admin): answers filtered by annotator, with label correction."""
    return _page_response(request, "review", project)


@router.get("/p/{project}/admin", response_class=HTMLResponse)
def admin_page(request: Request, project: str) -> HTMLResponse:
    """The admin page: annotators and their tokens, export links, agreement."""
    return _page_response(request, "admin", project)


def mount_static(app: FastAPI) -> None:
    """Serve the pages' scripts and stylesheet at ``/static`` (from the package).

    Parameters
    ----------
    app : fastapi.FastAPI
        The studio app; ``/static`` must not be mounted yet.

    Examples
    --------
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> mount_static(app)
    >>> [route.path for route in app.routes if route.name == "static"]
    ['/static']
    """
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
