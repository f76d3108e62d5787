"""Alembic environment: runs on the connection :func:`activelab.studio.db.migrate` passes.

Importing this module outside a migration (e.g. pytest collecting doctests) does nothing.
"""

from __future__ import annotations

from alembic import context

from activelab.studio.db import Base


def run_migrations() -> None:
    """Run the pending migrations on the connection passed in ``config.attributes``."""
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only the programmatic path is supported
        raise RuntimeError(
            "the studio's migrations run through activelab.studio.db.migrate(url), which "
            "passes a connection; the alembic command line is not set up for them."
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # set only while Alembic runs this file
    run_migrations()
