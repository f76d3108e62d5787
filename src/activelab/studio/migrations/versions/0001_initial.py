"""The first schema: projects, annotators, items, leases, answers and model versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and their indexes."""
    op.create_table(
        "studio_projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("multi_label", sa.Boolean(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("rank_round", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "studio_annotators",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("studio_projects.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_annotator_name"),
    )
    op.create_index("ix_studio_annotators_project_id", "studio_annotators", ["project_id"])
    op.create_table(
        "studio_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("studio_projects.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("image_path", sa.String(1000), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("n_labels", sa.Integer(), nullable=False),
        sa.Column("priority", sa.BigInteger(), nullable=False),
        sa.Column("ranked_by", sa.String(64), nullable=True),
        sa.Column("ranked_version", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("suggestion", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_items_queue", "studio_items", ["project_id", "done", "priority"])
    op.create_index("ix_items_position", "studio_items", ["project_id", "position"])
    op.create_index("ix_items_labels", "studio_items", ["project_id", "n_labels"])
    op.create_table(
        "studio_leases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("studio_projects.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("studio_items.id"), nullable=False),
        sa.Column(
            "annotator_id", sa.Integer(), sa.ForeignKey("studio_annotators.id"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("served_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("strategy", sa.String(64), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
    )
    op.create_index("ix_leases_item", "studio_leases", ["item_id", "closed_at"])
    op.create_index("ix_leases_annotator", "studio_leases", ["annotator_id", "closed_at"])
    op.create_table(
        "studio_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("studio_projects.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("studio_items.id"), nullable=False),
        sa.Column(
            "annotator_id", sa.Integer(), sa.ForeignKey("studio_annotators.id"), nullable=False
        ),
        sa.Column("lease_id", sa.String(32), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("served_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column(
            "reviewed_by", sa.Integer(), sa.ForeignKey("studio_annotators.id"), nullable=True
        ),
        sa.Column("original_labels", sa.JSON(), nullable=True),
        sa.Column("strategy", sa.String(64), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.UniqueConstraint("project_id", "idempotency_key", name="uq_answer_idempotency"),
    )
    op.create_index("ix_studio_answers_project_id", "studio_answers", ["project_id"])
    op.create_index(
        "ix_answers_item", "studio_answers", ["item_id", "annotator_id", "withdrawn_at"]
    )
    op.create_index("ix_answers_annotator", "studio_answers", ["annotator_id", "withdrawn_at"])
    op.create_table(
        "studio_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("studio_projects.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("n_labeled", sa.Integer(), nullable=False),
        sa.Column("estimate", sa.Float(), nullable=True),
        sa.Column("metric", sa.String(32), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("stopping", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "version", name="uq_model_version"),
    )
    op.create_index("ix_studio_models_project_id", "studio_models", ["project_id"])


def downgrade() -> None:
    """Drop every studio table."""
    for table in (
        "studio_models",
        "studio_answers",
        "studio_leases",
        "studio_items",
        "studio_annotators",
        "studio_projects",
    ):
        op.drop_table(table)
