"""Socket Mode envelopes: the record of envelopes taken and the ack each produced, shared by every server.

Revision ID: 0007_socket_envelopes
Revises: 0006_installations
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0007_socket_envelopes"
down_revision = "0006_installations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "socket_envelopes",
        sa.Column("envelope_key", sa.String(length=255), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("ack", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("envelope_key", name=op.f("pk_socket_envelopes")),
    )
    op.create_index(op.f("ix_socket_envelopes_started_at"), "socket_envelopes", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_socket_envelopes_started_at"), table_name="socket_envelopes")
    op.drop_table("socket_envelopes")
