"""Org sorts: the people of an org-wide install still to be sorted after workspaces were taken out of it
(team_access_revoked), and the organisation a removal of that kind belongs to.

Revision ID: 0008_org_sorts
Revises: 0007_socket_envelopes
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0008_org_sorts"
down_revision = "0007_socket_envelopes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_sorts",
        sa.Column("enterprise_id", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("after_person_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("sorted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("enterprise_id", name=op.f("pk_org_sorts")),
    )
    with op.batch_alter_table("workspace_removals") as batch:
        batch.add_column(sa.Column("enterprise_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_removals") as batch:
        batch.drop_column("enterprise_id")
    op.drop_table("org_sorts")
