"""Growth plans, weekly deliveries and reflections.

Revision ID: 0002_growth_plans
Revises: 0001_baseline
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from bot.storage.models import UTCDateTime

revision = "0002_growth_plans"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("tz", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("dm_channel_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("welcomed_at", UTCDateTime(), nullable=True))
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("focus", sa.String(length=200), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("paused_until", UTCDateTime(), nullable=True),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("unreachable_reason", sa.String(length=100), nullable=True),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_plans_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("person_id", name=op.f("uq_plans_person_id")),
    )
    op.create_index(op.f("ix_plans_next_due_at"), "plans", ["next_due_at"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("week_key", sa.String(length=16), nullable=False),
        sa.Column("prompt_id", sa.String(length=40), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.Column("answer", sa.String(length=10), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("remind_at", UTCDateTime(), nullable=True),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_deliveries_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("person_id", "week_key", name="uq_deliveries_person_week"),
    )
    op.create_index(op.f("ix_deliveries_person_id"), "deliveries", ["person_id"], unique=False)
    op.create_index("ix_deliveries_status_next_attempt", "deliveries", ["status", "next_attempt_at"], unique=False)
    op.create_index("ix_deliveries_remind_at", "deliveries", ["remind_at"], unique=False)
    op.create_table(
        "reflections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_reflections_delivery_id_deliveries"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_reflections_person_id_people"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reflections")),
    )
    op.create_index(op.f("ix_reflections_person_id"), "reflections", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reflections_person_id"), table_name="reflections")
    op.drop_table("reflections")
    op.drop_index("ix_deliveries_remind_at", table_name="deliveries")
    op.drop_index("ix_deliveries_status_next_attempt", table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_person_id"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_plans_next_due_at"), table_name="plans")
    op.drop_table("plans")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("welcomed_at")
        batch.drop_column("dm_channel_id")
        batch.drop_column("tz")
