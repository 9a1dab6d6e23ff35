"""The exactly-once machinery every job of the clock shares: rows stamped with a claim token, backoff between
attempts, and the look in a DM's history before anything is sent a second time.

A send is always: a row committed first (keyed so that a repeat is a no-op), then claimed by one statement
that stamps a token, then sent, then recorded only where this pass still holds the token. A claim whose clock
died goes stale after STALE_CLAIM and is taken again; before resending such a row the job looks for the first
try in the DM's history (`find_in_history`), so the one window left is a crash between Slack's answer and
the record, with Slack's history not yet showing the message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.schedule import week_key
from bot.storage.models import Delivery, DigestDelivery

LATE_LIMIT = timedelta(days=3)  # a send later than this is recorded as missed, not sent
STALE_CLAIM = timedelta(minutes=15)  # longer than any send with its retries (timeouts, Retry-After)
MAX_ATTEMPTS = 8
HISTORY_LOOKBACK = 50  # messages of the DM searched for an earlier try
# Errors that will not go away by retrying: the person cannot be reached (or our token is dead).
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "account_inactive",
        "user_disabled",
        "cannot_dm_bot",
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "channel_not_found",
        "is_archived",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
        "no_permission",
        "restricted_action",
        "ekm_access_denied",
    }
)

OutboxModel = type[Delivery] | type[DigestDelivery]
Backoff = Callable[[int], timedelta]  # attempts made so far -> wait before the next one


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after the 1st, 2nd, 3rd ... attempt, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def new_claim_token() -> str:
    return uuid.uuid4().hex


def is_postgres(session_factory: sessionmaker[Session]) -> bool:
    """PostgreSQL takes row locks with SKIP LOCKED, so clocks share the work; SQLite has one writer at a time."""
    return bool(session_factory.kw["bind"].dialect.name == "postgresql")


def stamp(session: Session, model: OutboxModel, eligible: Select[int], **values: Any) -> None:
    """Claim rows in one statement: UPDATE ... WHERE id IN (eligible [FOR UPDATE SKIP LOCKED]). Two clocks
    never stamp the same row; on SQLite the single writer lock gives the same guarantee."""
    if session.get_bind().dialect.name == "postgresql":
        eligible = eligible.with_for_update(skip_locked=True)
    session.execute(
        update(model)
        .where(model.id.in_(eligible.scalar_subquery()))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def claim(session: Session, model: OutboxModel, now: datetime, limit: int, token: str) -> None:
    """Stamp up to `limit` rows of a delivery table with our claim token: pending rows due for an attempt,
    and rows whose claim went stale because the clock holding them died mid-send."""
    eligible = (
        select(model.id)
        .where(
            or_(
                and_(model.status == "pending", or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now)),
                and_(model.status == "sending", model.claimed_at < now - STALE_CLAIM),
            )
        )
        .order_by(model.id)
        .limit(limit)
    )
    stamp(session, model, eligible, status="sending", claimed_at=now, claim_token=token, attempts=model.attempts + 1)


def too_late(due_at: datetime, now: datetime) -> bool:
    """More than LATE_LIMIT after its due time: recorded as missed, not sent (a week-old nudge confuses)."""
    return now - due_at > LATE_LIMIT


def owed_row(person_id: int, occurrence: datetime, tz: str, now: datetime) -> dict[str, Any]:
    """The row a plan owes for its weekly `occurrence`: keyed by (person, ISO week of the local date), so a
    repeat is a no-op; pending, or missed (never sent) when the pass is more than LATE_LIMIT late."""
    return {
        "person_id": person_id,
        "week_key": week_key(occurrence, tz),
        "due_at": occurrence,
        "status": "missed" if too_late(occurrence, now) else "pending",
        "attempts": 0,
    }


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`user_not_found`), or the HTTP status when the answer had none."""
    return str(exc.response.get("error") or exc.response.status_code)


def find_in_history(client: WebClient, channel: str, match: Callable[[dict[str, Any]], bool]) -> str | None:
    """The ts of the newest of the DM's last messages that `match` accepts; None if none (or Slack fails:
    the caller then sends, preferring a rare duplicate to a lost message)."""
    try:
        history = client.conversations_history(channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True)
    except SlackApiError:
        return None
    messages: list[dict[str, Any]] = history.get("messages", [])
    for message in messages:
        if match(message):
            ts = message.get("ts")
            return str(ts) if ts is not None else None
    return None


def has_metadata(message: dict[str, Any], event_type: str, row_id: int) -> bool:
    """Whether `message` carries our metadata for row `row_id` of the kind `event_type`."""
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    return bool(meta.get("event_type") == event_type and str(payload.get("delivery_id")) == str(row_id))
