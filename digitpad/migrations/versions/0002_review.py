"""Quarantine: a review state per row (pending, accepted, rejected) and when it was reviewed.

Rows collected before this migration start ``pending``: nobody has looked at them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("review", sa.String(length=8), server_default="pending", nullable=False))
        batch.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_check_constraint(op.f("ck_feedback_review_known"), "review IN ('pending', 'accepted', 'rejected')")
        batch.create_index(op.f("ix_feedback_review"), ["review"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index(op.f("ix_feedback_review"))
        batch.drop_constraint(op.f("ck_feedback_review_known"), type_="check")
        batch.drop_column("reviewed_at")
        batch.drop_column("review")
