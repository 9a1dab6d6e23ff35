"""Database models (SQLAlchemy 2, typed). Every schema change comes with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC: the only kind of datetime the models store."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Workspace(Base):
    """A Slack workspace (team) the bot has been used in."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    domain: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Person(Base):
    """Someone who has used the bot, keyed by their workspace and Slack user id."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_people_workspace_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tz: Mapped[str | None] = mapped_column(String(64))  # IANA name from users.info, never an offset
    dm_channel_id: Mapped[str | None] = mapped_column(String(32))  # from conversations.open, reused
    welcomed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def split_focus(focus: str) -> list[str]:
    """The focus areas stored in a plan's comma-separated `focus` column."""
    return [area for area in focus.split(",") if area]


class Plan(Base):
    """A person's growth plan and when their next weekly nudge is due (UTC, indexed)."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    level: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(40))
    focus: Mapped[str] = mapped_column(String(200))  # comma-separated area ids, 1 to 3
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # Monday = 0
    local_time: Mapped[str] = mapped_column(String(5), default="10:00")
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable_reason: Mapped[str | None] = mapped_column(String(100))
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def focus_areas(self) -> list[str]:
        return split_focus(self.focus)


class Delivery(Base):
    """One weekly nudge for one person. The unique (person, week) key is what makes a send happen once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("person_id", "week_key", name="uq_deliveries_person_week"),
        Index("ix_deliveries_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_deliveries_remind_at", "remind_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    # ISO week of the local due date (2026-W48); now-<time> for /growth now
    week_key: Mapped[str] = mapped_column(String(16))
    prompt_id: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))  # pending, sending, sent, failed, missed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(32))  # which clock pass owns the send
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(String(10))  # done, skipped, snoozed
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Reflection(Base):
    """A reflection written in answer to a nudge. Private to its author unless they share it."""

    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Follow(Base):
    """A follower (a manager or a mentor) asking to see one person's growth summary.

    Nothing about the report is shown to the follower unless status is "accepted". pending: asked, not
    answered; declined; left: the report stopped sharing; removed: the follower stopped following.
    """

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("follower_id", "report_id", name="uq_follows_follower_report"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invite_channel_id: Mapped[str | None] = mapped_column(String(32))  # the invitation DM, updated on answer
    invite_ts: Mapped[str | None] = mapped_column(String(32))
    follower_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # "accepted" DM, sent once


class DigestPlan(Base):
    """A follower's weekly team digest: when it is due (UTC, indexed), from their local weekday and time."""

    __tablename__ = "digest_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    local_time: Mapped[str] = mapped_column(String(5), default="09:00")
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DigestDelivery(Base):
    """One weekly digest for one follower, keyed by (person, week) like a nudge. The summary message and
    the chart are two Slack calls; each is recorded as soon as Slack accepts it."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        UniqueConstraint("person_id", "week_key", name="uq_digest_deliveries_person_week"),
        Index("ix_digest_deliveries_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    week_key: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))  # pending, sending, sent, failed, missed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    chart_file_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(100))


class SendShare(Base):
    """A clock that is sending for a workspace right now: each one renews its row while it has that
    workspace's sends queued, and paces itself at the workspace's rate divided by the live rows, so several
    clocks together stay within Slack's limits for that workspace."""

    __tablename__ = "send_shares"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    clock_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Evidence(Base):
    """One item of a person's evidence log: a saved Slack message or a win they wrote down, with the ladder
    expectations it shows. Private to its author, like reflections: only they see it unless they share."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_person_created", "person_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(10))  # message (the shortcut), command, button
    text: Mapped[str] = mapped_column(Text, default="")  # the message as the person kept it, or their own words
    note: Mapped[str] = mapped_column(Text, default="")
    author_user_id: Mapped[str | None] = mapped_column(String(32))  # who wrote the saved message
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    permalink: Mapped[str | None] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(40))  # the target level the expectations belong to
    expectations: Mapped[str] = mapped_column(String(2000), default="")  # comma-separated expectation keys
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def expectation_keys(self) -> list[str]:
        return split_focus(self.expectations)


class Installation(Base):
    """The app's installation in one workspace, or in a whole Enterprise Grid organisation (an org-wide install,
    keyed by its enterprise id). Tokens are stored encrypted (bot.install.crypto): the `*_encrypted` columns hold
    Fernet tokens, never a Slack token. One row per workspace or organisation: a new install replaces it."""

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    install_key: Mapped[str] = mapped_column(String(32), unique=True)  # team id, or enterprise id org-wide
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    enterprise_url: Mapped[str | None] = mapped_column(String(200))
    team_id: Mapped[str | None] = mapped_column(String(32))  # None for an org-wide install
    team_name: Mapped[str | None] = mapped_column(String(200))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    app_id: Mapped[str | None] = mapped_column(String(32))
    bot_id: Mapped[str | None] = mapped_column(String(32))
    bot_user_id: Mapped[str | None] = mapped_column(String(32))
    bot_scopes: Mapped[str] = mapped_column(String(1000), default="")
    bot_token_encrypted: Mapped[str | None] = mapped_column(Text)
    bot_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    installer_user_id: Mapped[str] = mapped_column(String(32), default="")
    user_token_encrypted: Mapped[str | None] = mapped_column(Text)
    user_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    user_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_scopes: Mapped[str] = mapped_column(String(1000), default="")
    token_type: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OAuthState(Base):
    """An OAuth `state` handed to a browser starting an install: consumed once, before it expires."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class WorkspaceRemoval(Base):
    """A workspace (or organisation) that uninstalled the app or revoked its tokens: its installation is gone at
    once, its data is deleted when `forget_after` has passed (the README's grace period)."""

    __tablename__ = "workspace_removals"

    install_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))  # app_uninstalled, tokens_revoked, team_access_revoked
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    forget_after: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # team_access_revoked: the organisation whose org-wide install the workspace was taken out of
    enterprise_id: Mapped[str | None] = mapped_column(String(32))


class OrgSort(Base):
    """An organisation whose people must be sorted after workspaces were taken out of its org-wide install
    (`team_access_revoked`): each person still under the organisation is looked up (users.info), and those
    Slack lists only in workspaces taken out move to one of those (bot.clock.sorting). Recorded with the
    removal, in the event's own transaction, so a crash loses nothing: every clock pass sorts what is left.
    People are taken in id order; `after_person_id` is the last one checked, so none is looked up twice.
    Another workspace taken out starts a new `generation` from the first person; `sorted_at` is set when
    the last one is checked."""

    __tablename__ = "org_sorts"

    enterprise_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    after_person_id: Mapped[int] = mapped_column(Integer, default=0)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sorted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SocketEnvelope(Base):
    """A Socket Mode envelope a server process has taken (bot.web.socket_mode): shared by every process of every
    server, so that an envelope Slack delivers again, on any link, is answered with the ack it produced the first
    time instead of being handled twice. `ack` is the ack's payload as JSON ("null": an ack with none), set once
    the handler acked. `lease_until` is when the taking lapses, in seconds since the epoch by the database's own
    clock (never a server's: servers' clocks may disagree); the live handler renews it while it works, and a
    redelivery takes over a taking whose lease ran out (its process died). Rows are swept 15 minutes after their
    lease (Slack has stopped retrying by then)."""

    __tablename__ = "socket_envelopes"

    envelope_key: Mapped[str] = mapped_column(String(255), primary_key=True)  # envelope id, or an event's id
    owner: Mapped[str] = mapped_column(String(100))  # host:pid of the process that handles it
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    ack: Mapped[str | None] = mapped_column(Text)
    # NULL: written by a process from before migration 0009, which kept no lease
    lease_until: Mapped[float | None] = mapped_column(Double, index=True)
