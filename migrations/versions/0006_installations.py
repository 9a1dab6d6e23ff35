"""Installations: several workspaces over OAuth, with encrypted tokens, the OAuth states and workspace removals.

Revision ID: 0006_installations
Revises: 0005_evidence
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0006_installations"
down_revision = "0005_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("install_key", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("enterprise_url", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=False),
        sa.Column("bot_token_encrypted", sa.Text(), nullable=True),
        sa.Column("bot_refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("bot_token_expires_at", UTCDateTime(), nullable=True),
        sa.Column("installer_user_id", sa.String(length=32), nullable=False),
        sa.Column("user_token_encrypted", sa.Text(), nullable=True),
        sa.Column("user_refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("user_token_expires_at", UTCDateTime(), nullable=True),
        sa.Column("user_scopes", sa.String(length=1000), nullable=False),
        sa.Column("token_type", sa.String(length=32), nullable=True),
        sa.Column("installed_at", UTCDateTime(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installations")),
        sa.UniqueConstraint("install_key", name=op.f("uq_installations_install_key")),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_oauth_states")),
    )
    op.create_index(op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"], unique=False)
    op.create_table(
        "workspace_removals",
        sa.Column("install_key", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("removed_at", UTCDateTime(), nullable=False),
        sa.Column("forget_after", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("install_key", name=op.f("pk_workspace_removals")),
    )
    op.create_index(op.f("ix_workspace_removals_forget_after"), "workspace_removals", ["forget_after"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_workspace_removals_forget_after"), table_name="workspace_removals")
    op.drop_table("workspace_removals")
    op.drop_index(op.f("ix_oauth_states_expires_at"), table_name="oauth_states")
    op.drop_table("oauth_states")
    op.drop_table("installations")
