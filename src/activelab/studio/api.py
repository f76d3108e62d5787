"""The studio's JSON API (routes under ``/api/p/{project}``); see :mod:`activelab.studio.app`.

Every route is a plain function run in the server's thread pool; each request uses its
own short database transaction. Services raise :class:`~activelab.studio.errors.StudioError`,
answered here as ``{"detail": message}`` with its status.
"""

import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from activelab.studio import answers as answer_store
from activelab.studio import auth, exporters, importers, queue
from activelab.studio.db import (
    Annotator,
    Answer,
    Item,
    ModelVersion,
    Project,
    read_session,
    write_session,
)
from activelab.studio.errors import StudioError
from activelab.studio.project import ProjectConfig

__all__ = [
    "CALLER_TTL",
    "AnnotatorIn",
    "AnswerIn",
    "CorrectionIn",
    "LLMSettingsIn",
    "SettingsIn",
    "StudioState",
    "router",
]


#: Seconds a token stays in a server's memory before the database is asked again: a
#: change made by another process (``activelab studio serve`` making a new admin token)
#: takes effect within this time; one made through this server's API, at once.
CALLER_TTL = 2.0


@dataclass
class StudioState:
    """What the routes share: the project's settings, the engine and the trainer.

    Authenticated tokens are remembered for :data:`CALLER_TTL` seconds (by their hash),
    so most requests need no database lookup to authenticate; :meth:`forget` drops an
    annotator's entries at once when their token is revoked or replaced.

    Attributes
    ----------
    config : ProjectConfig
    engine : sqlalchemy.engine.Engine
    project_id : int
    trainer : activelab.studio.trainer.Trainer or None
    """

    config: ProjectConfig
    engine: Engine
    project_id: int
    trainer: Any = None

    def __post_init__(self) -> None:
        self._callers: dict[str, tuple[auth.Caller, float]] = {}
        self._generation = 0
        self._callers_lock = threading.Lock()

    def notify(self) -> None:
        """Tell the trainer that answers changed (never blocks)."""
        if self.trainer is not None:
            self.trainer.notify()

    def remembered(self, key: str) -> auth.Caller | None:
        """The caller of a token hash seen less than :data:`CALLER_TTL` seconds ago.

        Parameters
        ----------
        key : str
            :func:`activelab.studio.auth.hash_token` of the token.

        Returns
        -------
        Caller or None
        """
        entry = self._callers.get(key)
        if entry is None or time.monotonic() - entry[1] > CALLER_TTL:
            return None
        return entry[0]

    def remember(self, key: str, caller: auth.Caller, generation: int) -> None:
        """Remember a caller looked up while :attr:`generation` was ``generation``.

        A lookup that raced with :meth:`forget` is not remembered (it may have read a
        token that is revoked now).
        """
        with self._callers_lock:
            if generation == self._generation:
                self._callers[key] = (caller, time.monotonic())

    @property
    def generation(self) -> int:
        """Bumped by every :meth:`forget`."""
        return self._generation

    def forget(self, annotator_id: int) -> None:
        """Drop every remembered token of an annotator (revoked or replaced).

        Parameters
        ----------
        annotator_id : int
        """
        with self._callers_lock:
            self._generation += 1
            for key, (caller, _) in list(self._callers.items()):
                if caller.id == annotator_id:
                    del self._callers[key]


class AnswerIn(BaseModel):
    """Body of ``POST /answers``."""

    item_id: int
    lease_id: str = Field(min_length=1, max_length=64)
    labels: list[str] = Field(default_factory=list, max_length=1000)
    skipped: bool = False
    seconds: float | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    idempotency_key: str = Field(min_length=1, max_length=200)
    annotation: dict[str, Any] | None = None


class LLMSettingsIn(BaseModel):
    """The LLM labeller's settings in ``PUT /settings`` (any subset; the rest stay).

    ``base_url`` and ``api_key_env`` (the *name* of the environment variable holding the
    key; the key itself is never sent, stored or shown) are set on the server only
    (studio.toml, ``activelab studio settings``): a different value here gets 403.
    """

    mode: str | None = Field(default=None, pattern="^(off|suggest|route)$")
    base_url: str | None = Field(default=None, max_length=500)
    model: str | None = Field(default=None, max_length=200)
    api_key_env: str | None = Field(default=None, max_length=128)
    task: str | None = Field(default=None, max_length=2000)
    price_prompt: float | None = Field(default=None, ge=0)
    price_completion: float | None = Field(default=None, ge=0)
    route_by: str | None = Field(default=None, pattern="^(threshold|fraction)$")
    threshold: float | None = Field(default=None, ge=0, le=1)
    human_fraction: float | None = Field(default=None, ge=0, le=1)
    batch: int | None = Field(default=None, ge=1, le=1000)
    lookahead: int | None = Field(default=None, ge=1, le=100_000)
    examples: int | None = Field(default=None, ge=0, le=100)
    samples: int | None = Field(default=None, ge=1, le=20)


class SettingsIn(BaseModel):
    """Body of ``PUT /settings`` (admin): the settings that change while serving."""

    features: str | None = Field(default=None, pattern="^(tfidf|minilm)$")
    detector: str | None = Field(default=None, max_length=300)
    aggregation: str | None = Field(default=None, pattern="^(majority|dawid_skene)$")
    llm: LLMSettingsIn | None = None


class CorrectionIn(BaseModel):
    """Body of ``PUT /answers/{id}`` (review mode)."""

    labels: list[str] = Field(max_length=1000)


class AnnotatorIn(BaseModel):
    """Body of ``POST /annotators``."""

    name: str = Field(min_length=1, max_length=64)
    role: str = "annotator"


async def studio_state(request: Request) -> StudioState:
    """The app's :class:`StudioState` (a FastAPI dependency; no thread hop)."""
    return request.app.state.studio


State = Annotated[StudioState, Depends(studio_state)]


def _lookup(state: StudioState, token: str) -> auth.Caller | None:
    with read_session(state.engine) as session:
        annotator = auth.caller_for_token(session, token)
        if annotator is None:
            return None
        return auth.Caller(annotator.id, annotator.name, annotator.role, annotator.project_id)


async def current_caller(request: Request, project: str, state: State) -> auth.Caller:
    """Authenticate the request (a FastAPI dependency); 401, 403 or 404 otherwise.

    Runs on the event loop: a remembered token costs no thread hop and no query; an
    unknown or expired one is looked up in the server's thread pool.

    Parameters
    ----------
    request : starlette.requests.Request
    project : str
        The ``{project}`` of the path.
    state : StudioState

    Returns
    -------
    Caller
    """
    token, via_cookie = auth.token_from_request(request)
    if not token:
        raise HTTPException(
            401,
            "no token: send 'Authorization: Bearer TOKEN' or log in at /login?token=TOKEN.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = auth.hash_token(token)
    caller = state.remembered(key)
    if caller is None:
        generation = state.generation
        caller = await run_in_threadpool(_lookup, state, token)
        if caller is None:
            raise HTTPException(
                401,
                "unknown or revoked token; ask the project's admin for yours.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        state.remember(key, caller, generation)
    if caller.project_id != state.project_id:
        raise HTTPException(403, "this token belongs to another project.")
    if project != state.config.name:
        raise HTTPException(
            404, f"this server serves project {state.config.name!r}, not {project!r}."
        )
    if via_cookie:
        if not auth.check_csrf(request):
            raise HTTPException(
                403,
                f"missing or wrong {auth.CSRF_HEADER} header: send the value of the "
                f"{auth.CSRF_COOKIE} cookie with every POST, PUT and DELETE.",
            )
        caller = auth.Caller(caller.id, caller.name, caller.role, caller.project_id, True)
    return caller


Caller = Annotated[auth.Caller, Depends(current_caller)]


async def admin_caller(caller: Caller) -> auth.Caller:
    """Like :func:`current_caller`, and 403 unless the caller is an admin."""
    if not caller.is_admin:
        raise HTTPException(403, "this needs the admin role.")
    return caller


Admin = Annotated[auth.Caller, Depends(admin_caller)]

router = APIRouter(prefix="/api/p/{project}", tags=["project"])


def _fail(error: StudioError) -> HTTPException:
    return HTTPException(error.status, error.message)


def _stopping(session: Any, state: StudioState, n_labeled: int) -> list[dict[str, Any]]:
    budget = state.config.budget
    rows: list[dict[str, Any]] = []
    if budget:
        rows.append(
            {
                "name": "budget",
                "value": n_labeled,
                "threshold": budget,
                "stop": n_labeled >= budget,
                "description": f"stop after {budget} labelled items",
            }
        )
    latest = session.scalar(
        select(ModelVersion.stopping)
        .where(ModelVersion.project_id == state.project_id)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    return rows + list(latest or [])


def _trainer_status(state: StudioState, caller: auth.Caller) -> dict[str, Any]:
    """The trainer's status; the error's text only for admins (it may name files)."""
    if state.trainer is None:
        status: dict[str, Any] = {"mode": None, "running": False, "busy": False}
        status.update(failing=False, error=None, error_at=None, steps=0, restarts=0)
        return status
    status = state.trainer.status()
    if not caller.is_admin and status["error"] is not None:
        status["error"] = "the trainer failed; an admin can see why here"
    return status


@router.get("")
def project_info(project: str, state: State, caller: Caller) -> dict[str, Any]:
    """The project: labels, counts, model version, stopping criteria and learning curve."""
    config = state.config
    with read_session(state.engine) as session:
        row = session.get(Project, state.project_id)
        n_items = session.scalar(
            select(func.count()).select_from(Item).where(Item.project_id == state.project_id)
        )
        n_labeled = queue.progress(session, config, state.project_id)["labelled"]
        n_skipped = session.scalar(
            select(func.count())
            .select_from(Answer)
            .where(
                Answer.project_id == state.project_id,
                Answer.skipped.is_(True),
                Answer.withdrawn_at.is_(None),
            )
        )
        curve = session.execute(
            select(
                ModelVersion.version, ModelVersion.n_labeled, ModelVersion.estimate, ModelVersion.at
            )
            .where(ModelVersion.project_id == state.project_id)
            .order_by(ModelVersion.version)
        ).all()
        stopping = _stopping(session, state, n_labeled)
        features = row.features or config.features
        from activelab.studio.llm import LLMSettings

        llm = LLMSettings.from_json(row.llm).to_json()
        if not caller.is_admin:  # annotators see what labels, not where it runs
            llm = {"mode": llm["mode"], "model": llm["model"]}
        aggregation = row.aggregation or config.aggregation
    return {
        "name": config.name,
        "task": config.task,
        "labels": list(config.labels),
        "multi_label": config.multi_label,
        "budget": config.budget or None,
        "n_items": int(n_items or 0),
        "n_labeled": n_labeled,
        "n_skipped": int(n_skipped or 0),
        "model_version": row.model_version,
        "strategy": config.strategy,
        "cold_start": config.cold_start,
        "overlap": config.overlap,
        "retrain_every": config.retrain_every,
        "features": features,
        "query": config.query,
        "detector": config.detector or None,
        "aggregation": aggregation,
        "llm": llm,
        "training": bool(state.trainer is not None and state.trainer.busy),
        "trainer": _trainer_status(state, caller),
        "me": {"name": caller.name, "role": caller.role},
        "stopping": stopping,
        "curve": [
            {"model_version": v, "n_labeled": n, "estimate": e, "at": at.isoformat()}
            for v, n, e, at in curve
        ],
    }


@router.post("/next")
def next_item(project: str, state: State, caller: Caller) -> JSONResponse:
    """Lease the next item to the caller: the item, the suggestion, why, the lease."""
    try:
        with write_session(state.engine, durable=False, urgent=True) as session:
            pair = queue.lease_next(session, state.config, state.project_id, caller.id)
            reply = queue.served(session, state.config, state.project_id, pair)
    except StudioError as error:
        raise _fail(error) from None
    return JSONResponse(reply)


@router.post("/answers")
def post_answer(project: str, body: AnswerIn, state: State, caller: Caller) -> JSONResponse:
    """Store an answer (committed before the reply); the same idempotency key is stored once."""
    values = body.model_dump()
    try:
        try:
            with write_session(state.engine) as session:
                answer_id, duplicate = answer_store.record_answer(
                    session, state.config, state.project_id, caller.id, **values
                )
        except IntegrityError:
            # A concurrent request with the same key won the insert: read its answer.
            with read_session(state.engine) as session:
                stored = answer_store.find_duplicate(
                    session, state.project_id, caller.id, body.item_id, body.idempotency_key
                )
            if stored is None:
                raise
            answer_id, duplicate = stored.id, True
    except StudioError as error:
        raise _fail(error) from None
    if not duplicate:
        state.notify()
    return JSONResponse({"answer_id": answer_id, "duplicate": duplicate})


@router.post("/undo")
def undo(project: str, state: State, caller: Caller) -> dict[str, Any]:
    """Withdraw the caller's last answer and lease its item to the caller again."""
    try:
        with write_session(state.engine) as session:
            pair = answer_store.undo_last(session, state.config, state.project_id, caller.id)
            reply = queue.served(session, state.config, state.project_id, pair)
    except StudioError as error:
        raise _fail(error) from None
    state.notify()
    return reply


@router.get("/items/{item_id}/image", response_class=FileResponse)
def item_image(project: str, item_id: int, state: State, caller: Caller) -> FileResponse:
    """The image of an item; its path must stay inside the project folder."""
    with read_session(state.engine) as session:
        item = session.get(Item, item_id)
    if item is None or item.project_id != state.project_id or not item.image_path:
        raise HTTPException(404, f"no image item {item_id} in this project.")
    root = state.config.directory.resolve()
    path = (root / item.image_path).resolve()
    if not path.is_relative_to(root):
        raise HTTPException(403, "the image path leaves the project folder; it is not served.")
    if not path.is_file() or path.suffix.lower() not in importers.IMAGE_SUFFIXES:
        raise HTTPException(404, f"the image of item {item_id} is missing.")
    return FileResponse(path, headers={"X-Content-Type-Options": "nosniff"})


@router.get("/answers")
def get_answers(
    project: str,
    state: State,
    caller: Caller,
    response: Response,
    annotator: str | None = None,
    item: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Answers, newest first (admin: everyone's; annotator: own); total in X-Total-Count."""
    if not caller.is_admin:
        if annotator is not None and annotator != caller.name:
            raise HTTPException(403, "annotators see only their own answers.")
        annotator = caller.name
    with read_session(state.engine) as session:
        row = session.get(Project, state.project_id)
        page, total = answer_store.list_answers(
            session, row, annotator=annotator, item_id=item, limit=limit, offset=offset
        )
    response.headers["X-Total-Count"] = str(total)
    return page


@router.put("/answers/{answer_id}")
def put_answer(
    project: str, answer_id: int, body: CorrectionIn, state: State, caller: Admin
) -> dict[str, Any]:
    """Review mode: correct an answer's labels (the original ones are kept)."""
    try:
        with write_session(state.engine) as session:
            answer = answer_store.correct_answer(
                session, state.config, state.project_id, answer_id, body.labels, caller.id
            )
            name = session.get(Annotator, answer.annotator_id).name
            item = session.get(Item, answer.item_id)
            reply = answer_store.answer_json(answer, name, state.config.name, item)
    except StudioError as error:
        raise _fail(error) from None
    state.notify()
    return reply


@router.get("/agreement")
def get_agreement(project: str, state: State, caller: Admin) -> dict[str, Any]:
    """Cohen's kappa per pair of annotators and Fleiss' kappa over shared items."""
    with read_session(state.engine) as session:
        return answer_store.agreement(session, session.get(Project, state.project_id))


@router.get("/llm")
def get_llm(project: str, state: State, caller: Admin) -> dict[str, Any]:
    """The LLM labeller: its settings (the key's variable name only), requests, tokens,
    cost, machine labels, the last error and the latest rounds."""
    from activelab.studio.llm import usage_summary

    with read_session(state.engine) as session:
        return usage_summary(session, state.project_id)


@router.get("/export")
def export(
    project: str,
    state: State,
    caller: Admin,
    format: Annotated[str, Query(pattern="^(jsonl|csv|parquet|conll|png|coco)$")] = "jsonl",
) -> Response:
    """Download every live answer with its provenance (JSONL, CSV or Parquet; NER
    projects: JSONL spans or CoNLL; segmentation projects: ``png``, a zip of label
    masks, or ``coco``; detection projects: ``coco``)."""
    if state.config.task == "detection":
        return _export_detection(state, format)
    if state.config.task == "segmentation" or format in ("png", "coco"):
        return _export_segmentation(state, format)
    with read_session(state.engine) as session:
        try:
            data, media_type, filename = exporters.export(
                session, session.get(Project, state.project_id), format
            )
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _export_detection(state: StudioState, format: str) -> Response:
    """A detection project's boxes as COCO JSON, with provenance; other formats 422."""
    import json

    from activelab.studio import detection

    if format != "coco":
        raise HTTPException(
            422, f"a detection project exports coco (COCO JSON boxes); got {format!r}."
        )
    with read_session(state.engine) as session:
        project = session.get(Project, state.project_id)
        data = json.dumps(detection.export_coco(session, state.config, project)).encode()
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{project.name}-coco.json"'},
    )


def _export_segmentation(state: StudioState, format: str) -> Response:
    """A segmentation project's masks: a zip of PNGs or COCO JSON, with provenance."""
    import json

    from activelab.studio import segmentation

    if state.config.task != "segmentation" or format not in ("png", "coco"):
        raise HTTPException(
            422,
            "png and coco are the exports of segmentation (and coco of detection) projects; "
            "this project exports "
            "jsonl, csv or parquet."
            if state.config.task != "segmentation"
            else f"a segmentation project exports png (a zip of masks) or coco; got {format!r}.",
        )
    with read_session(state.engine) as session:
        project = session.get(Project, state.project_id)
        if format == "png":
            data = segmentation.export_png_zip(session, state.config, project)
            media_type, filename = "application/zip", f"{project.name}-masks.zip"
        else:
            data = json.dumps(segmentation.export_coco(session, state.config, project)).encode()
            media_type, filename = "application/json", f"{project.name}-coco.json"
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/items/{item_id}/segmentation")
def item_segmentation(project: str, item_id: int, state: State, caller: Caller) -> dict[str, Any]:
    """A region item's image: its regions, its labels so far and the model's mask."""
    from activelab.studio import segmentation

    if state.config.task != "segmentation":
        raise HTTPException(404, "this is not a segmentation project.")
    with read_session(state.engine) as session:
        item = session.get(Item, item_id)
        if item is None or item.project_id != state.project_id:
            raise HTTPException(404, f"no item {item_id} in this project.")
        return segmentation.item_view(session, state.config, state.project_id, item)


@router.get("/items/{item_id}/detection")
def item_detection(project: str, item_id: int, state: State, caller: Caller) -> dict[str, Any]:
    """An image's size, the detector's proposals and the caller's withdrawn boxes."""
    from activelab.studio import detection

    if state.config.task != "detection":
        raise HTTPException(404, "this is not a detection project.")
    with read_session(state.engine) as session:
        item = session.get(Item, item_id)
        if item is None or item.project_id != state.project_id:
            raise HTTPException(404, f"no item {item_id} in this project.")
        return detection.item_view(session, state.config, item, caller.id)


@router.put("/settings")
def put_settings(project: str, body: SettingsIn, state: State, caller: Admin) -> dict[str, Any]:
    """Change what a text project's model reads (``features``) or a detection project's
    ``detector``; saved to studio.toml too.

    ``minilm``: the trainer embeds every text in the background (progress in ``GET
    /api/p/{project}`` under ``trainer.embedding``) while the TF-IDF model keeps serving.
    ``detector``: ``"module:function"`` (checked: imported, called, run on one image) or
    ``""`` for none; the trainer runs it over the images and ranks them.
    """
    import dataclasses

    from activelab.studio.features import minilm_problem
    from activelab.studio.project import write_config

    if body.llm is not None or body.aggregation is not None:
        if body.features is not None or body.detector is not None:
            raise HTTPException(
                422, "send llm/aggregation, features or detector, one kind at a time."
            )
        return _put_labelling(state, body.llm, body.aggregation)
    if body.detector is not None:
        if body.features is not None:
            raise HTTPException(422, "send features or detector, one at a time.")
        return _put_detector(state, body.detector)
    if body.features is None:
        raise HTTPException(
            422,
            "send {features: tfidf | minilm}, {detector: 'module:function'}, {aggregation: "
            "majority | dawid_skene} or {llm: {mode, base_url, model, …}}.",
        )
    config = state.config
    if body.features != "tfidf" and config.task != "text":
        raise HTTPException(422, f"features {body.features!r} is for text projects.")
    if body.features == "minilm":
        problem = minilm_problem()
        if problem is not None:
            raise HTTPException(422, f"features minilm: {problem}.")
    with write_session(state.engine) as session:
        session.get(Project, state.project_id).features = body.features
    state.config = dataclasses.replace(config, features=body.features)
    write_config(state.config)
    state.notify()
    return {"features": body.features}


#: LLM settings the web API may not change: where requests go and which server
#: environment variable is sent with them.
SERVER_ONLY = ("base_url", "api_key_env")


def _put_labelling(
    state: StudioState, llm: LLMSettingsIn | None, aggregation: str | None
) -> dict[str, Any]:
    """Check and save the LLM labeller's settings and the aggregation (studio.toml and
    the database, which the trainer's process reads at every step)."""
    import dataclasses

    from activelab.studio.llm import LLMSettings, store_settings
    from activelab.studio.project import write_config

    with read_session(state.engine) as session:
        row = session.get(Project, state.project_id)
        stored_llm, stored_aggregation = row.llm, row.aggregation
    config = state.config
    if stored_llm is not None:  # `studio settings` may have changed them since start-up
        config = dataclasses.replace(
            config,
            **LLMSettings.from_json(stored_llm).config_values(),
            aggregation=stored_aggregation or config.aggregation,
        )
    changes: dict[str, Any] = {}
    if aggregation is not None:
        changes["aggregation"] = aggregation
    if llm is not None:
        current = LLMSettings.from_config(config)
        given = {key: value for key, value in llm.model_dump().items() if value is not None}
        for key in SERVER_ONLY:
            if key in given and given[key] != getattr(current, key):
                raise HTTPException(
                    403,
                    f"llm {key} is set on the server (studio.toml, or `activelab studio "
                    "settings`), not through the web API: the server sends the key in that "
                    "variable to that URL, and a web admin must not be able to point a "
                    "server secret at a host of their choosing.",
                )
        changes.update(dataclasses.replace(current, **given).config_values())
    try:
        updated = dataclasses.replace(config, **changes).validate()
    except ValueError as error:
        where = f"{config.directory}/studio.toml: "
        raise HTTPException(422, str(error).replace(where, "")) from None
    with write_session(state.engine) as session:
        cleared = store_settings(session, state.project_id, updated)
    state.config = updated
    write_config(updated)
    state.notify()
    return {
        "aggregation": updated.aggregation,
        "llm": LLMSettings.from_config(updated).to_json(),
        "cleared": cleared,
    }


def _put_detector(state: StudioState, spec: str) -> dict[str, Any]:
    """Check and save a detection project's detector (``""``: none)."""
    import dataclasses

    from activelab.studio import detection
    from activelab.studio.project import write_config

    config = state.config
    if config.task != "detection":
        raise HTTPException(
            422, f"detector is for detection projects; this is a {config.task} one."
        )
    spec = spec.strip()
    with read_session(state.engine) as session:
        sample = session.scalar(
            select(Item.image_path)
            .where(Item.project_id == state.project_id)
            .order_by(Item.position)
            .limit(1)
        )
    try:
        detection.check_detector(spec, config.labels, config.directory / sample if sample else None)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    state.config = dataclasses.replace(config, detector=spec)
    write_config(state.config)
    state.notify()
    return {"detector": spec or None}


def _person_json(person: Annotator, n_answers: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": person.id,
        "name": person.name,
        "role": person.role,
        "created_at": person.created_at.isoformat(),
        "revoked_at": None if person.revoked_at is None else person.revoked_at.isoformat(),
    }
    if n_answers is not None:
        data["n_answers"] = n_answers
    return data


@router.get("/annotators")
def list_annotators(project: str, state: State, caller: Admin) -> list[dict[str, Any]]:
    """Everyone with a token in this project, with their number of live answers."""
    with read_session(state.engine) as session:
        counts = dict(
            session.execute(
                select(Answer.annotator_id, func.count())
                .where(Answer.project_id == state.project_id, Answer.withdrawn_at.is_(None))
                .group_by(Answer.annotator_id)
            ).all()
        )
        people = session.scalars(
            select(Annotator).where(Annotator.project_id == state.project_id).order_by(Annotator.id)
        ).all()
        return [_person_json(person, int(counts.get(person.id, 0))) for person in people]


@router.post("/annotators", status_code=201)
def create_annotator(
    project: str, body: AnnotatorIn, state: State, caller: Admin
) -> dict[str, Any]:
    """Add an annotator (or admin); the reply holds the token, shown only this once."""
    try:
        with write_session(state.engine) as session:
            person, token = auth.add_annotator(session, state.project_id, body.name, body.role)
            return {"id": person.id, "name": person.name, "role": person.role, "token": token}
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    except LookupError as error:
        raise HTTPException(409, str(error)) from None


@router.post("/annotators/{annotator_id}/token")
def issue_token(project: str, annotator_id: int, state: State, caller: Admin) -> dict[str, Any]:
    """Give an annotator a new token (shown only this once); the old one stops working."""
    try:
        with write_session(state.engine) as session:
            person, token = auth.issue_token(session, state.project_id, annotator_id)
            reply = {**_person_json(person), "token": token}
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    except ValueError as error:
        raise HTTPException(409, str(error)) from None
    state.forget(annotator_id)
    return reply


@router.delete("/annotators/{annotator_id}/token")
def revoke_token(project: str, annotator_id: int, state: State, caller: Admin) -> dict[str, Any]:
    """Revoke an annotator's token: the next request with it gets 401.

    Their answers stay. 409 for the project's last admin with a working token.
    """
    try:
        with write_session(state.engine) as session:
            person = auth.revoke_token(session, state.project_id, annotator_id)
            reply = _person_json(person)
    except LookupError as error:
        raise HTTPException(404, str(error)) from None
    except ValueError as error:
        raise HTTPException(409, str(error)) from None
    state.forget(annotator_id)
    return reply


@router.post("/import")
async def import_items(request: Request, project: str, state: State, caller: Admin) -> dict:
    """Add items from an uploaded CSV or JSONL file (multipart field ``file``).

    Uploads larger than ``max_upload_bytes`` get 413 before they are parsed. Rows with
    errors are left out and listed (line, field, message); the others are added.
    """
    if state.config.task == "segmentation":
        raise HTTPException(
            422,
            "a segmentation project takes its images at init (they are cut into regions "
            "then); make a new project with the new images.",
        )
    limit = state.config.max_upload_bytes
    declared = request.headers.get("content-length")
    too_large = HTTPException(413, f"the upload is larger than the limit of {limit} bytes.")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, "send the file as the multipart form field 'file'.")
    data = await upload.read()
    task = state.config.task
    kind = "image" if task == "detection" else task
    records, errors = importers.parse_bytes(data, upload.filename or "", kind)
    if task in ("image", "detection"):
        root = state.config.directory
        kept = []
        for record in records:
            if (root / str(record.image)).is_file():
                kept.append(record)
            else:
                errors.append(
                    importers.ImportProblem(
                        record.line, "image", f"{record.image!r} is not in the project folder."
                    )
                )
        records = kept
    if task == "detection" and records:
        from activelab.studio.detection import image_records

        records = image_records(records, state.config.directory)

    def store() -> int:
        with write_session(state.engine) as session:
            return importers.add_records(session, state.project_id, records)

    added = await run_in_threadpool(store) if records else 0
    if added:
        state.notify()
    return {
        "added": added,
        "errors": [error.as_dict() for error in sorted(errors, key=lambda e: e.line)],
    }
