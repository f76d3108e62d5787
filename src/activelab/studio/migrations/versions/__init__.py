"""Alembic revisions of the studio's schema, oldest first."""
