"""Evidence: a person's private log of wins and saved Slack messages, mapped to ladder expectations.

Revision ID: 0005_evidence
Revises: 0004_send_shares
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0005_evidence"
down_revision = "0004_send_shares"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("permalink", sa.String(length=500), nullable=True),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("expectations", sa.String(length=2000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_evidence_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    op.create_index("ix_evidence_person_created", "evidence", ["person_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_evidence_person_created", table_name="evidence")
    op.drop_table("evidence")
