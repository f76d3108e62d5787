"""The studio's web app: ``create_app(project)`` returns a FastAPI app serving one project.

It runs the schema migrations, mounts the JSON API below, the pages of
:mod:`activelab.studio.pages` and ``/static``, and starts the background trainer
(:mod:`activelab.studio.trainer`) with the app's lifespan. ``app.state.studio`` is the
:class:`~activelab.studio.api.StudioState` (settings, engine, project id, trainer) and
``app.state.project`` the :class:`~activelab.studio.project.ProjectConfig`.

Authentication
--------------
``Authorization: Bearer TOKEN``, or the ``activelab_token`` cookie that
``GET /login?token=TOKEN[&next=/p/…/review]`` sets (it also sets the ``activelab_csrf``
cookie and redirects to ``next`` when that is a path on this site, else to the labelling
page; ``GET /logout`` clears both). Cookie-authenticated POST, PUT and
DELETE need the header ``X-CSRF-Token`` equal to the ``activelab_csrf`` cookie. No or an
unknown token: 401; a token of another project, a missing CSRF header, or an annotator
on an admin route: 403; a project this server does not serve: 404.

Routes (all JSON; times are ISO 8601 UTC)
-----------------------------------------
``GET /health`` → ``{"status": "UP"}``. ``GET /docs`` is the OpenAPI page.

Under ``/api/p/{project}``:

``GET ""``
    ``{name, task, labels, multi_label, budget, n_items, n_labeled, n_skipped,
    model_version, strategy, cold_start, overlap, retrain_every, aggregation, llm:
    {mode, base_url, model, api_key_env, task, …} (annotators: {mode, model}), training,
    trainer:
    {mode, running, busy, failing, error, error_at, steps, restarts}, me: {name,
    role}, stopping: [{name, value, threshold, stop, description}], curve:
    [{model_version, n_labeled, estimate, at}]}``. ``trainer.error`` is the last failed
    retrain's exception (its text for admins only). ``n_labeled`` counts items with at
    least one live label; ``budget`` is null without one; ``stopping`` starts with the
    budget, then the criteria checked at the last retrain (performance_plateau,
    stabilizing_predictions, overall_uncertainty, max_uncertainty; ``value`` may be
    null until enough versions exist).
``POST /next``
    ``{item: {id, text | image_url, external_id, meta} | null, suggestion: {label,
    confidence, probabilities: {label: p}} | null, llm_suggestion: {label, confidence,
    model} | null, reason: {strategy, model_version,
    score, probability} | null, lease: {id, expires_at} | null, progress: {labelled,
    budget}}``. ``item`` is null when nothing is left for the caller. ``suggestion`` is
    null before the first model (cold start); multi-label suggestions add ``labels``
    (those with p ≥ 0.5). ``reason.probability`` is the probability with which the
    selection rule drew the item (1.0 for deterministic rules; null past the ranked
    batch). An annotator holds at most two open items (on screen and prefetched); a
    third call serves the least recently served open one again.
``POST /answers``
    Body ``{item_id, lease_id, labels: [str], skipped: bool, seconds: float,
    idempotency_key: str}`` → ``{answer_id, duplicate}``. Committed before the reply;
    the same key again → the stored answer, ``duplicate: true``. Single-label projects
    take exactly one label, a skip none. 404: unknown lease; 403: another annotator's
    lease; 409: lease of another item, key reused for another item, or the caller
    answered the item already; 422: unknown or wrong number of labels.
``POST /undo``
    Withdraws the caller's last live answer (kept, marked withdrawn, not counted) and
    leases its item to the caller again: same shape as ``/next``. 404 when there is
    nothing to undo.
``GET /items/{id}/image``
    The image bytes (paths confined to the project folder).
``GET /answers?annotator=&item=&limit=&offset=``
    A JSON list of ``{id, item_id, item, annotator, labels, skipped, seconds,
    created_at, updated_at, withdrawn, original_labels, reviewed, reason}``, newest
    first; the total is in the ``X-Total-Count`` header. Admins see everyone's,
    annotators their own.
``PUT /answers/{id}`` (admin)
    Body ``{labels}`` → the corrected answer (same shape); the annotator's labels stay
    in ``original_labels``.
``GET /agreement`` (admin)
    ``{cohen: [{a, b, kappa, n}], fleiss: {kappa, n}, annotators: [{annotator, accuracy,
    per_class, n}]}`` (Dawid–Skene's estimated accuracy of each annotator; empty
    without overlap).
``GET /llm`` (admin)
    The LLM labeller's settings (the key's variable name, never the key), summed
    requests, tokens and cost, machine labels, the last error and the latest rounds
    (:func:`activelab.studio.llm.usage_summary`).
``PUT /settings`` (admin)
    ``{features}``, ``{detector}``, or ``{aggregation, llm: {mode, base_url, model, …}}``
    (:mod:`activelab.studio.llm`).
``GET /export?format=jsonl|csv|parquet`` (admin)
    A file download, one row per live answer with annotator, timestamps, seconds and
    why the item was shown (see :mod:`activelab.studio.exporters`).
``GET /annotators`` (admin)
    A JSON list of ``{id, name, role, created_at, revoked_at, n_answers}``.
``POST /annotators`` (admin)
    Body ``{name, role}`` (role ``annotator`` or ``admin``) → 201 ``{id, name, role,
    token}``; 409 when the name is taken.
``POST /annotators/{id}/token`` (admin)
    A new token for that person → ``{id, name, role, created_at, revoked_at: null,
    token}``; the old token gets 401 from the next request on.
``DELETE /annotators/{id}/token`` (admin)
    Revoke that person's token → ``{id, name, role, created_at, revoked_at}``; it gets
    401 from the next request on; their answers stay. 409 for the last admin with a
    working token; 404 for nobody of that id in the project.
``POST /import`` (admin)
    Multipart upload, field ``file`` (``.csv`` or ``.jsonl``) → ``{added, errors: [{line,
    field, message}]}``; 413 over ``max_upload_bytes``.

Errors are ``{"detail": "what was wrong and what to do"}`` (422 validation errors in
FastAPI's list form).
"""

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import select, update

from activelab.studio import auth
from activelab.studio.api import StudioState, router
from activelab.studio.db import Item, Project, connect, migrate, read_session, write_session
from activelab.studio.project import ProjectConfig, load_project
from activelab.studio.trainer import Trainer

__all__ = ["SecurityHeaders", "create_app"]


def _project_id(config: ProjectConfig, engine: Any) -> int:
    with write_session(engine) as session:
        project_id = session.scalar(select(Project.id).where(Project.name == config.name))
        if project_id is None:
            raise LookupError(
                f"the database {config.db!r} holds no project named {config.name!r}; make it "
                "with `activelab studio init`."
            )
        # studio.toml wins over the database's features, LLM and aggregation settings
        # (an admin's change writes both).
        session.get(Project, project_id).features = config.features
        from activelab.studio.llm import store_settings

        store_settings(session, project_id, config)
        # overlap may have changed in studio.toml since the items were counted.
        session.execute(
            update(Item)
            .where(Item.project_id == project_id)
            .values(done=Item.n_labels >= config.overlap)
        )
    return project_id


_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware adding ``nosniff``, ``DENY`` framing and ``no-referrer`` headers.

    A plain ASGI wrapper (not ``BaseHTTPMiddleware``): it costs a few microseconds per
    response. Headers a route set itself are kept. It also adds ``Server-Timing: app;
    dur=MS``, the milliseconds from the request reaching the app to its response
    starting — the server's share of a request's latency, without the network and
    the client (``benchmarks/bench_studio.py`` reports both).

    Parameters
    ----------
    app : ASGI application
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on; add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in _SECURITY_HEADERS if item[0] not in present)
                elapsed = 1000 * (time.perf_counter() - started)
                headers.append((b"server-timing", b"app;dur=%.2f" % elapsed))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _login_routes(app: FastAPI) -> None:
    @app.get("/login", include_in_schema=True, tags=["auth"])
    def login(
        request: Request,
        token: str,
        next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    ) -> RedirectResponse:
        """Set the token and CSRF cookies, then go to ``next`` or the labelling page.

        ``next`` is followed only when it is a path on this site (``/p/…/review``);
        absolute and scheme-relative URLs (``https://…``, ``//host``) are ignored.
        """
        state: StudioState = request.app.state.studio
        with read_session(state.engine) as session:
            annotator = auth.caller_for_token(session, token)
            if annotator is None:
                raise HTTPException(
                    401, "unknown or revoked token; ask the project's admin for yours."
                )
            if annotator.project_id != state.project_id:
                raise HTTPException(403, "this token belongs to another project.")
        target = auth.safe_next(next_path, f"/p/{state.config.name}/label")
        secure = request.url.scheme == "https"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            auth.TOKEN_COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/"
        )
        response.set_cookie(
            auth.CSRF_COOKIE,
            auth.new_token(),
            httponly=False,
            samesite="strict",
            secure=secure,
            path="/",
        )
        return response

    @app.get("/logout", tags=["auth"])
    def logout() -> RedirectResponse:
        """Clear the cookies."""
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(auth.TOKEN_COOKIE, path="/")
        response.delete_cookie(auth.CSRF_COOKIE, path="/")
        return response

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """``{"status": "UP"}`` while the server runs."""
        return {"status": "UP"}


def _pages(app: FastAPI) -> None:
    """Mount the pages and /static of :mod:`activelab.studio.pages` when it is there."""
    try:
        from activelab.studio import pages
    except ImportError:  # the pages are optional for API-only use
        return
    app.include_router(pages.router)
    mount = getattr(pages, "mount_static", None)
    if mount is not None:
        mount(app)
    else:
        static = Path(__file__).parent / "static"
        if static.is_dir():
            from fastapi.staticfiles import StaticFiles

            app.mount("/static", StaticFiles(directory=static), name="static")


def create_app(
    project: ProjectConfig | str | os.PathLike[str],
    *,
    start_trainer: bool = True,
    poll_seconds: float = 2.0,
    trainer_mode: str = "process",
) -> FastAPI:
    """The FastAPI app of one project.

    Parameters
    ----------
    project : ProjectConfig, or the project folder
    start_trainer : bool
        Run the background trainer with the app's lifespan (started at start-up,
        stopped at shutdown). Without it the queue keeps import order until someone
        calls ``app.state.studio.trainer.step()``.
    poll_seconds : float
        How often the trainer looks for new answers when not notified.
    trainer_mode : {"process", "thread"}
        Where the trainer runs: a child process with its own database connection
        (the default: model fitting never holds the server's interpreter lock), or a
        thread of the server (an in-memory SQLite database always uses a thread).

    Returns
    -------
    fastapi.FastAPI
    """
    config = project if isinstance(project, ProjectConfig) else load_project(project)
    engine = connect(config.url)
    migrate(engine)
    project_id = _project_id(config, engine)
    trainer = Trainer(config, engine, project_id, poll_seconds=poll_seconds, mode=trainer_mode)
    state = StudioState(config, engine, project_id, trainer)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_trainer:
            trainer.start()
        try:
            yield
        finally:
            await run_in_threadpool(trainer.stop)
            engine.dispose()

    app = FastAPI(
        title=f"activelab studio — {config.name}",
        description="Label what the model most needs. See docs/studio.md.",
        lifespan=lifespan,
    )
    app.state.studio = state
    app.state.project = config
    app.state.project_name = config.name
    app.add_middleware(SecurityHeaders)
    _login_routes(app)
    app.include_router(router)
    _pages(app)
    return app
