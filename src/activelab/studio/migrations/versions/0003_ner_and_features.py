"""Span annotation and the text-features setting.

- ``studio_items.tokens``: the tokens of a sentence of an NER project (null otherwise).
- ``studio_answers.annotation``: the spans of an NER answer (range asked, entities,
  accept/reject decisions; null for the other tasks).
- ``studio_projects.features``: what a text project's model reads (``tfidf`` or
  ``minilm``); the admin page changes it while the server runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the three nullable columns."""
    op.add_column("studio_items", sa.Column("tokens", sa.JSON(), nullable=True))
    op.add_column("studio_answers", sa.Column("annotation", sa.JSON(), nullable=True))
    op.add_column("studio_projects", sa.Column("features", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop them."""
    for table, column in (
        ("studio_projects", "features"),
        ("studio_answers", "annotation"),
        ("studio_items", "tokens"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
