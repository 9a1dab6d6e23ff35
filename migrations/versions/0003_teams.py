"""Teams, consent and weekly digests: follows, digest plans and digest deliveries.

Revision ID: 0003_teams
Revises: 0002_growth_plans
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0003_teams"
down_revision = "0002_growth_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("week_key", sa.String(length=16), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("chart_file_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_digest_deliveries_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        sa.UniqueConstraint("person_id", "week_key", name="uq_digest_deliveries_person_week"),
    )
    with op.batch_alter_table("digest_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_deliveries_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_digest_deliveries_status_next_attempt", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "digest_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_digest_plans_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_plans")),
        sa.UniqueConstraint("person_id", name=op.f("uq_digest_plans_person_id")),
    )
    with op.batch_alter_table("digest_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_plans_next_due_at"), ["next_due_at"], unique=False)

    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("follower_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("invited_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("invite_channel_id", sa.String(length=32), nullable=True),
        sa.Column("invite_ts", sa.String(length=32), nullable=True),
        sa.Column("follower_told_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["follower_id"], ["people.id"], name=op.f("fk_follows_follower_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["people.id"], name=op.f("fk_follows_report_id_people"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_follows_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follows")),
        sa.UniqueConstraint("follower_id", "report_id", name="uq_follows_follower_report"),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follows_follower_id"), ["follower_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follows_report_id"), ["report_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_follows_workspace_id"), ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follows_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_follows_report_id"))
        batch_op.drop_index(batch_op.f("ix_follows_follower_id"))

    op.drop_table("follows")
    with op.batch_alter_table("digest_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_plans_next_due_at"))

    op.drop_table("digest_plans")
    with op.batch_alter_table("digest_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_digest_deliveries_status_next_attempt")
        batch_op.drop_index(batch_op.f("ix_digest_deliveries_person_id"))

    op.drop_table("digest_deliveries")
