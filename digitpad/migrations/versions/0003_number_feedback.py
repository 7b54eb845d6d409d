"""Corrected numbers: the ``number_feedback`` table (the image, the string it really shows, the
server's reading, one box per character), quarantined like digit feedback (``review``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "number_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(length=20), nullable=False),
        sa.Column("read_text", sa.String(length=64), nullable=True),
        sa.Column("boxes", sa.JSON(), nullable=True),
        sa.Column("boxes_from", sa.String(length=8), nullable=True),
        sa.Column("read_scores", sa.JSON(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("review", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(text) >= 1 AND length(text) <= 20", name=op.f("ck_number_feedback_text_length")),
        sa.CheckConstraint("confidence IS NULL OR (confidence >= 0 AND confidence <= 1)",
                           name=op.f("ck_number_feedback_confidence_unit")),
        sa.CheckConstraint("source IN ('draw', 'upload')", name=op.f("ck_number_feedback_source_known")),
        sa.CheckConstraint("review IN ('pending', 'accepted', 'rejected')",
                           name=op.f("ck_number_feedback_review_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_number_feedback")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_number_feedback_created_at"), "number_feedback", ["created_at"], unique=False)
    op.create_index(op.f("ix_number_feedback_review"), "number_feedback", ["review"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_number_feedback_review"), table_name="number_feedback")
    op.drop_index(op.f("ix_number_feedback_created_at"), table_name="number_feedback")
    op.drop_table("number_feedback")
