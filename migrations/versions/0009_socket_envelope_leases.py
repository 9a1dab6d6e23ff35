"""Socket Mode envelope leases: when a taking lapses, by the database's own clock, renewed by its live handler,
so that taking over an envelope whose process died depends on no server's clock. Additive: rows written before
it have no lease.

Revision ID: 0009_socket_envelope_leases
Revises: 0008_org_sorts
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_socket_envelope_leases"
down_revision = "0008_org_sorts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("socket_envelopes") as batch:
        batch.add_column(sa.Column("lease_until", sa.Double(), nullable=True))
        batch.create_index(op.f("ix_socket_envelopes_lease_until"), ["lease_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("socket_envelopes") as batch:
        batch.drop_index(op.f("ix_socket_envelopes_lease_until"))
        batch.drop_column("lease_until")
