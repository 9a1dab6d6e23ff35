"""Send shares: which clocks are sending for a workspace right now, so they split its rate limits.

Revision ID: 0004_send_shares
Revises: 0003_teams
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0004_send_shares"
down_revision = "0003_teams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_shares",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("clock_id", sa.String(length=32), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "clock_id", name=op.f("pk_send_shares")),
    )


def downgrade() -> None:
    op.drop_table("send_shares")
