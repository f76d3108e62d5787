"""Token revocation: ``studio_annotators.revoked_at``.

An admin can revoke an annotator's token (``DELETE /annotators/{id}/token``) or issue a
new one (``POST /annotators/{id}/token``); ``revoked_at`` says since when the person has
no working token (null while they have one).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``revoked_at`` column."""
    op.add_column("studio_annotators", sa.Column("revoked_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Drop ``revoked_at``."""
    with op.batch_alter_table("studio_annotators") as batch:
        batch.drop_column("revoked_at")
