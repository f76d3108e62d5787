"""The LLM labeller and the aggregation of overlapping answers.

- ``studio_projects.llm``: the LLM labeller's settings now (the ``llm_*`` keys of
  studio.toml, never a key; null: off), read by the trainer's process at every step.
- ``studio_projects.aggregation``: ``majority`` or ``dawid_skene``.
- ``studio_items.llm``: the LLM's suggestion for the item, or where the router sent it.
- ``studio_items.llm_checked``: the model version at which the LLM labeller last handled
  the item (null: never).
- ``studio_answers.machine``: a machine label's model, confidence, cost and routing
  uncertainty (null for people's answers).
- ``studio_llm_rounds``: one row per round of the LLM labeller (requests, tokens, cost,
  error).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-16
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable columns and the rounds table."""
    op.add_column("studio_projects", sa.Column("llm", sa.JSON(), nullable=True))
    op.add_column("studio_projects", sa.Column("aggregation", sa.String(16), nullable=True))
    op.add_column("studio_items", sa.Column("llm", sa.JSON(), nullable=True))
    op.add_column("studio_items", sa.Column("llm_checked", sa.Integer(), nullable=True))
    op.add_column("studio_answers", sa.Column("machine", sa.JSON(), nullable=True))
    op.create_table(
        "studio_llm_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("studio_projects.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("n_labeled", sa.Integer(), nullable=False),
        sa.Column("n_skipped", sa.Integer(), nullable=False),
        sa.Column("n_to_people", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("cached", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_studio_llm_rounds_project_id", "studio_llm_rounds", ["project_id"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_studio_llm_rounds_project_id", table_name="studio_llm_rounds")
    op.drop_table("studio_llm_rounds")
    for table, column in (
        ("studio_answers", "machine"),
        ("studio_items", "llm_checked"),
        ("studio_items", "llm"),
        ("studio_projects", "aggregation"),
        ("studio_projects", "llm"),
    ):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
