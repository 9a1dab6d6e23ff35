"""The exactly-once machinery every job of the clock shares: rows stamped with a claim token, backoff between
attempts, and the look in a DM's history before anything is sent a second time.

A send is always: a row committed first (keyed so that a repeat is a no-op), then claimed by one statement
that stamps a token, then sent, then recorded only where this pass still holds the token. A claim is a lease
(`Lease`): the pass renews `claimed_at` for its tokens every third of LEASE while it is alive, however long it
runs at Slack's pace, and checks just before each send that the row still carries its token. Only a dead
clock's claims stop being renewed, go stale one LEASE later and are taken again; before resending such a row
the job looks for the first try in the DM's history (`find_in_history`), so the one window left is a crash
between Slack's answer and the record, with Slack's history not yet showing the message.

The history is read only when the last attempt's outcome is unknown (`outcome_unknown`): the row's `error`
starts with UNKNOWN_OUTCOME when the attempt timed out or lost its connection after the request may have been
written, and `claim` stamps it on a row taken from a dead clock. A 429 or any other answer from Slack proves
nothing was posted, so the resend after it goes straight to chat.postMessage.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import ColumnElement, Select, and_, bindparam, case, literal, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock.pacing import retry_after
from bot.schedule import week_key
from bot.storage.models import Delivery, DigestDelivery, Person, Workspace
from bot.storage.people import sendable_people, still_installed, unsorted_people

logger = logging.getLogger(__name__)

LATE_LIMIT = timedelta(days=3)  # a send later than this is recorded as missed, not sent
# A claim not renewed for this long belongs to a dead clock: a live one renews every LEASE / 3, so a renewal
# may fail (a locked SQLite, a slow query) twice before its claims are at risk, and a crashed clock's rows
# wait only this long to be taken again.
LEASE = timedelta(minutes=2)
STALE_CLAIM = LEASE  # how long after its last renewal a claim is taken again (the older name, kept for callers)
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

# ...of which these say our token is dead (a workspace that left, a revoked or bad token), not that the person
# cannot be reached: the send fails, but nobody is marked unreachable (that would need each person's /growth
# resume once the workspace installs again or the token is fixed).
TOKEN_ERRORS = frozenset({"not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive"})

# The `error` of an attempt that may have reached Slack without an answer (a timeout, a dropped connection, a
# clock that died mid-send): the only case where the next attempt reads the DM's history before sending.
UNKNOWN_OUTCOME = "unknown_outcome:"
CRASHED = UNKNOWN_OUTCOME + "claim_expired"  # stamped by `claim` on a row taken from a dead clock

OutboxModel = type[Delivery] | type[DigestDelivery]
Backoff = Callable[[int], timedelta]  # attempts made so far -> wait before the next one


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after the 1st, 2nd, 3rd ... attempt, at most an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


def outcome_unknown(error: str | None) -> bool:
    """Whether the last attempt, by its recorded `error`, may have posted without Slack's answer reaching us."""
    return error is not None and error.startswith(UNKNOWN_OUTCOME)


def unknown_outcome(detail: str) -> str:
    """The `error` to record for an attempt whose outcome is unknown (`detail`: what went wrong)."""
    return (detail if outcome_unknown(detail) else UNKNOWN_OUTCOME + detail)[:100]


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


def claim(
    session: Session,
    model: OutboxModel,
    now: datetime,
    limit: int,
    token: str,
    *,
    at: datetime | None = None,
    lease: timedelta = LEASE,
    within: ColumnElement[bool] | None = None,
) -> None:
    """Stamp up to `limit` rows of a delivery table with our claim token: pending rows due for an attempt at
    `now` (the pass's time), and rows whose lease expired because the clock holding them died (not renewed
    for `lease` before `at`, the pass's clock as it runs on: `Lease.clock`). A row taken from a dead clock gets
    `error` CRASHED (its send's outcome was never recorded); a pending row keeps its recorded error. `within`
    narrows the rows (one workspace's, for fair claims)."""
    eligible = select(model.id).where(claimable(model, now, at or now, lease)).order_by(model.id).limit(limit)
    if within is not None:
        eligible = eligible.where(within)
    # SET expressions see the row before the update, so `status` here is what the row was: sending = taken over
    crashed = case((model.status == "sending", literal(CRASHED)), else_=model.error)
    stamp(
        session,
        model,
        eligible,
        status="sending",
        claimed_at=at,
        claim_token=token,
        attempts=model.attempts + 1,
        error=crashed,
    )


def claimable(model: OutboxModel, now: datetime, at: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Rows a claim takes: pending and due at `now`, or sending under a lease not renewed for `lease` at `at`."""
    return or_(
        and_(model.status == "pending", or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now)),
        and_(model.status == "sending", model.claimed_at < at - lease),
    )


def sending_rows(model: OutboxModel, workspace_id: int | None = None) -> ColumnElement[bool]:
    """Rows of `model` whose person the clock sends for now (`sendable_people`: their workspace still
    installed, and not held for their organisation's sort; a digest waits for the whole sort); with
    `workspace_id`, of that workspace only."""
    people = sendable_people(whole_organisation=model is DigestDelivery)
    if workspace_id is not None:
        people = people.where(Person.workspace_id == workspace_id)
    return model.person_id.in_(people)


def claimable_workspaces(now: datetime, at: datetime, lease: timedelta) -> Select[int, str]:
    """(workspace id, team id) of every workspace still installed with weekly nudges a claim would take."""
    return (
        select(Workspace.id, Workspace.team_id)
        .where(
            select(Delivery.id)
            .join(Person, Person.id == Delivery.person_id)
            .where(Person.workspace_id == Workspace.id, claimable(Delivery, now, at, lease), ~unsorted_people())
            .exists(),
            still_installed(),
        )
        .order_by(Workspace.id)
    )


def holds(
    session_factory: sessionmaker[Session],
    model: OutboxModel,
    row_id: int,
    token: str,
    *,
    renewed_since: datetime | None = None,
) -> bool:
    """Whether the row is still `sending` under `token` (and, if given, was renewed since then). It runs before
    every send, so it is one primary-key read on a bare connection with a statement built once: building the
    select and an ORM session each time cost five times the read itself, and the send threads share one GIL."""
    statement = _holds_statement(model, renewed_since is not None)
    values: dict[str, Any] = {"row_id": row_id, "token": token, "since": renewed_since}
    with session_factory.kw["bind"].connect() as connection:
        return connection.execute(statement, values).first() is not None


@functools.cache
def _holds_statement(model: OutboxModel, renewed: bool) -> Select[int]:
    conditions = [model.id == bindparam("row_id"), model.claim_token == bindparam("token"), model.status == "sending"]
    if renewed:
        conditions.append(model.claimed_at >= bindparam("since"))
    return select(model.id).where(*conditions)


class Lease:
    """The claims of one pass, kept alive while the pass is: a daemon thread renews `claimed_at` of every row
    still `sending` under one of its tokens every third of the lease, and `owns` is the check just before a
    send. Times are the pass's `now` plus the real time elapsed since, so a pass run at a given moment (tests,
    `run-due --at`) renews in that moment's frame, as other clocks compare."""

    def __init__(self, session_factory: sessionmaker[Session], now: datetime, length: timedelta = LEASE):
        self.session_factory = session_factory
        self.length = length
        self._now = now
        self._start = time.monotonic()
        self._held: dict[OutboxModel, set[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, name="claim-lease", daemon=True)

    def clock(self) -> datetime:
        return self._now + timedelta(seconds=time.monotonic() - self._start)

    def hold(self, model: OutboxModel, token: str) -> None:
        with self._lock:
            self._held.setdefault(model, set()).add(token)

    def owns(self, model: OutboxModel, row_id: int, token: str) -> bool:
        """Whether the row still carries our token under a live lease: one primary-key read, just before a
        send. A row another clock took (its token changed) or one whose lease lapsed is not sent."""
        return holds(self.session_factory, model, row_id, token, renewed_since=self.clock() - self.length)

    def renew(self) -> None:
        """Bump claimed_at of every row still held; a failure is logged and tried again next time (a lease
        survives two missed renewals)."""
        with self._lock:
            held = [(model, list(tokens)) for model, tokens in self._held.items() if tokens]
        try:
            with self.session_factory.begin() as session:
                for model, tokens in held:
                    session.execute(
                        update(model)
                        .where(model.claim_token.in_(tokens), model.status == "sending")
                        .values(claimed_at=self.clock())
                        .execution_options(synchronize_session=False)
                    )
        except SQLAlchemyError as exc:
            logger.warning("could not renew the clock's claims: %s", exc)

    def _renew_until_stopped(self) -> None:
        while not self._stop.wait(self.length.total_seconds() / 3):
            self.renew()

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()


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


def open_dm(client: WebClient, user_id: str) -> str:
    """The DM channel's id from conversations.open (Tier 3, about 50 a minute: the first week's bottleneck if
    every first DM needed it). Every DM is posted by user id; only a resend whose last try's outcome is unknown
    and whose channel was never stored comes here, because the history read needs a channel id."""
    return str(client.conversations_open(users=user_id)["channel"]["id"])


def find_in_history(client: WebClient, channel: str, match: Callable[[dict[str, Any]], bool]) -> str | None:
    """The ts of the newest of the DM's last messages that `match` accepts; None if none (or Slack refuses the
    read: the caller then sends, preferring a rare duplicate to a lost message). A 429 is raised instead: the
    look must wait its turn and be made, never skipped for a send that may be the second."""
    try:
        history = client.conversations_history(channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True)
    except SlackApiError as exc:
        if retry_after(exc) is not None:
            raise
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
