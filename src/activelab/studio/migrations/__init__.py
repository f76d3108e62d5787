"""Alembic migrations of the studio's schema, run by :func:`activelab.studio.db.migrate`."""
