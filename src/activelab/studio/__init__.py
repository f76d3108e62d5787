"""The annotation studio: a web app where people label what the model most needs.

``activelab studio init PROJECT --data items.csv --labels a,b,c`` makes a project,
``activelab studio serve PROJECT`` serves it (see ``docs/studio.md``). In Python:

>>> from activelab import studio
>>> config = studio.init_project("tweets", "tweets.csv", ["neg", "pos"])  # doctest: +SKIP
>>> app = studio.create_app(config)  # a FastAPI app                     # doctest: +SKIP

Needs the ``studio`` extra (``pip install 'activelab[studio]'``); the names below are
imported on first use, so ``import activelab`` never needs FastAPI or SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ProjectConfig", "create_app", "create_ml_backend", "init_project", "load_project"]

_HOMES = {
    "ProjectConfig": "activelab.studio.project",
    "init_project": "activelab.studio.project",
    "load_project": "activelab.studio.project",
    "create_app": "activelab.studio.app",
    "create_ml_backend": "activelab.studio.labelstudio",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (the studio extra is optional)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'activelab.studio' has no attribute {name!r}")
    from activelab._extras import require

    require("fastapi", "studio", "the annotation studio")
    require("sqlalchemy", "studio", "the annotation studio")
    return getattr(importlib.import_module(_HOMES[name]), name)
