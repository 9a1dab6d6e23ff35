"""Sending weekly nudges: claiming pending `deliveries` rows, the Slack calls for one row, and recording
what came of a batch of them.

`send` does no database work, so the send pool runs it in many threads at once; claiming and recording
are short transactions on the pass's own thread. Just before posting, `send` checks (one primary-key read)
that the row still carries the pass's token under a live lease; an outcome is written only where it does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.growth import build_nudge
from bot.clock.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    PERMANENT_ERRORS,
    TOKEN_ERRORS,
    Backoff,
    Lease,
    claim,
    claimable_workspaces,
    find_in_history,
    has_metadata,
    holds,
    new_claim_token,
    open_dm,
    outcome_unknown,
    sending_rows,
    slack_error,
    too_late,
    unknown_outcome,
)
from bot.clock.pacing import Paced, SlackSenders, retry_after
from bot.clock.report import PassReport
from bot.content.records import Content
from bot.storage.models import Delivery, Person, Plan, Workspace, utcnow

logger = logging.getLogger(__name__)

METADATA_EVENT = "ladderbot_nudge"
OWNED = and_(Delivery.id == bindparam("b_id"), Delivery.claim_token == bindparam("b_token"))


@dataclass(frozen=True)
class ClaimedNudge:
    """A delivery this pass owns, with what sending it needs (loaded in one query per batch)."""

    delivery_id: int
    person_id: int
    user_id: str
    dm_channel_id: str | None
    prompt_id: str
    due_at: datetime
    attempts: int
    message_ts: str | None
    last_error: str | None  # what the previous attempt recorded: UNKNOWN_OUTCOME means read the history first
    team_id: str
    claim_token: str


@dataclass(frozen=True)
class SendResult:
    item: ClaimedNudge
    outcome: str  # sent, recovered, retrying, failed, missed, lost, or paced (not sent yet: put back in line)
    channel: str | None = None
    ts: str | None = None
    error: str | None = None
    new_channel: str | None = None
    unreachable: bool = False
    late: float | None = None  # sent: seconds after its due time, in the pass's frame
    retry_in: float = 0.0  # paced: seconds until it may go again
    rate_limited: bool = False  # paced by a 429 from Slack (not only by our own pacer)


def claimed_rows(token: str) -> Select[int, int, str, str | None, str, datetime, int, str | None, str | None, str]:
    """The rows stamped with `token`, joined to what sending needs, in id order."""
    return (
        select(
            Delivery.id,
            Delivery.person_id,
            Person.user_id,
            Person.dm_channel_id,
            Delivery.prompt_id,
            Delivery.due_at,
            Delivery.attempts,
            Delivery.message_ts,
            Delivery.error,
            Workspace.team_id,
        )
        .join(Person, Person.id == Delivery.person_id)
        .join(Workspace, Workspace.id == Person.workspace_id)
        .where(Delivery.claim_token == token)
        .order_by(Delivery.id)
    )


def load_claimed(session: Session, token: str) -> list[ClaimedNudge]:
    return [ClaimedNudge(*row, token) for row in session.execute(claimed_rows(token))]


def retry_or_give_up(item: ClaimedNudge, error: str, *, known: bool = False) -> SendResult:
    """A failure that may pass: try again on a later pass, unless this was the last attempt. Unless the caller
    knows nothing reached Slack (`known`: Slack answered), the error is recorded as an unknown outcome, so the
    next try reads the DM's history first (a bug that raised in the send pool may have raised after the post)."""
    error = error if known else unknown_outcome(error)
    if item.attempts >= MAX_ATTEMPTS:
        return SendResult(item, "failed", error=f"gave_up:{error}"[:100])
    return SendResult(item, "retrying", error=error[:100])


class NudgeSender:
    """Claims, sends and records weekly nudges for one database and one Slack client."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        senders: SlackSenders,
        content: Content,
        *,
        batch_size: int,
        backoff: Backoff,
    ):
        self.session_factory = session_factory
        self.senders = senders
        self.content = content
        self.batch_size = batch_size
        self.backoff = backoff

    def claim(
        self, now: datetime, lease: Lease | None = None, wanted: Mapping[int, int] | None = None
    ) -> list[ClaimedNudge]:
        """Due (or stale) rows, stamped with a new token in one transaction and held under `lease` from then
        on (none: a claim that is never renewed, as a clock that dies right after makes): up to one batch, or
        with `wanted` (workspace id -> how many) that many of each workspace. Never rows of a workspace that
        left (storage.people.still_installed)."""
        token = new_claim_token()
        with self.session_factory.begin() as session:
            at, length = (lease.clock(), lease.length) if lease is not None else (now, LEASE)
            if wanted is None:
                claim(
                    session, Delivery, now, self.batch_size, token, at=at, lease=length, within=sending_rows(Delivery)
                )
            for workspace_id, count in (wanted or {}).items():
                # still installed now, not only when `wanted` was drawn up (an uninstall may have come since)
                of_workspace = sending_rows(Delivery, workspace_id)
                claim(session, Delivery, now, count, token, at=at, lease=length, within=of_workspace)
            claimed = load_claimed(session, token)
        if lease is not None and claimed:
            lease.hold(Delivery, token)
        return claimed

    def workspaces_due(self, now: datetime, lease: Lease) -> dict[int, str]:
        """Workspace id -> team id of every workspace with rows a claim at `now` would take."""
        with self.session_factory() as session:
            rows = session.execute(claimable_workspaces(now, lease.clock(), lease.length)).all()
            return {workspace_id: team_id for workspace_id, team_id in rows}

    def send(self, item: ClaimedNudge, now: datetime, lease: Lease | None = None, *, wait: bool = False) -> SendResult:
        """Slack I/O for one claimed delivery; no database work but the ownership check before the post (it
        runs in the send pool): the row still carries our token (under `lease`, a live one; without, the
        token alone). A row this pass no longer owns is `lost`: not sent, not recorded. A call the pacer
        holds back, or a 429, comes back `paced` with the seconds to wait, unless `wait` (then it waits)."""
        client = self.senders.waiting(item.team_id) if wait else self.senders.sending(item.team_id)
        prompt = self.content.prompt(item.prompt_id)
        if prompt is None:
            return SendResult(item, "failed", error="prompt_removed")
        if too_late(item.due_at, now):
            return SendResult(item, "missed", error="too_late")
        opened: str | None = None  # a DM channel learned from conversations.open, kept even if the post fails
        # Only a last try that may have posted without an answer (a timeout, a dead clock) is looked for; one
        # that failed before this attempt's post still may have, so its error stays unknown (`pending_check`).
        check = pending_check = outcome_unknown(item.last_error) and item.message_ts is None
        try:
            channel = item.dm_channel_id
            if check:
                if channel is None:
                    channel = opened = open_dm(client, item.user_id)
                ts = self.find_sent(client, channel, item.delivery_id)
                if ts:
                    return SendResult(item, "recovered", channel=channel, ts=ts, new_channel=opened)
            message = build_nudge(self.content, prompt, item.delivery_id)
            if not self.owns(item, lease):
                logger.warning("delivery %s was taken by another clock; not sent", item.delivery_id)
                return SendResult(item, "lost", error="claim_lost", new_channel=opened)
            pending_check = False  # from here on, this attempt's own post decides
            response = client.chat_postMessage(
                channel=channel or item.user_id,  # a user id: Slack posts to the app's DM and names it
                text=message.text,
                blocks=list(message.blocks),
                metadata={"event_type": METADATA_EVENT, "event_payload": {"delivery_id": item.delivery_id}},
            )
            posted_in = str(response["channel"])
            learned = posted_in if posted_in != item.dm_channel_id else None
            late = ((lease.clock() if lease else now) - item.due_at).total_seconds()
            return SendResult(item, "sent", channel=posted_in, ts=response["ts"], new_channel=learned, late=late)
        except Paced as exc:  # our pacer held it back: nothing was sent
            return SendResult(item, "paced", retry_in=exc.delay, new_channel=opened)
        except SlackApiError as exc:
            pause = retry_after(exc)
            if pause is not None:  # a 429: nothing was posted, and it is not a failure
                return SendResult(item, "paced", retry_in=pause, rate_limited=True, new_channel=opened)
            error = slack_error(exc)
            if error in PERMANENT_ERRORS:  # a dead token is not the person's doing: they stay active
                return SendResult(item, "failed", error=error, unreachable=error not in TOKEN_ERRORS)
            # Slack answered, so nothing was posted by this call; the last try's outcome is still open if unchecked
            return replace(retry_or_give_up(item, error, known=not pending_check), new_channel=opened)
        except OSError as exc:  # a timeout or dropped connection: the post may have reached Slack
            return replace(retry_or_give_up(item, type(exc).__name__), new_channel=opened)
        except SlackClientError as exc:  # raised before a request is made
            return replace(retry_or_give_up(item, type(exc).__name__, known=not pending_check), new_channel=opened)

    def owns(self, item: ClaimedNudge, lease: Lease | None) -> bool:
        if lease is None:
            return holds(self.session_factory, Delivery, item.delivery_id, item.claim_token)
        return lease.owns(Delivery, item.delivery_id, item.claim_token)

    def find_sent(self, client: WebClient, channel: str, delivery_id: int) -> str | None:
        """After a send whose outcome is unknown: did Slack already get this nudge? Look for its metadata."""
        return find_in_history(client, channel, lambda msg: has_metadata(msg, METADATA_EVENT, delivery_id))

    def record(self, results: list[SendResult], now: datetime, report: PassReport) -> None:
        """Write a batch of outcomes in one transaction (one executemany per kind of outcome), each row only
        if this pass still owns it."""
        if not results:
            return
        sent_at = utcnow()
        with self.session_factory.begin() as session:
            connection = session.connection()
            self._record_deliveries(connection, results, now, sent_at)
            channels = [{"b_pid": r.item.person_id, "b_channel": r.new_channel} for r in results if r.new_channel]
            if channels:
                connection.execute(
                    update(Person).where(Person.id == bindparam("b_pid")).values(dm_channel_id=bindparam("b_channel")),
                    channels,
                )
            for result in results:
                if result.unreachable:
                    connection.execute(
                        update(Plan)
                        .where(Plan.person_id == result.item.person_id)
                        .values(unreachable_reason=result.error, next_due_at=None, updated_at=sent_at)
                    )
                    logger.warning(
                        "person %s is unreachable (%s); nudges stop until /growth resume",
                        result.item.person_id,
                        result.error,
                    )
                report.count(result.outcome)
                if result.late is not None:
                    report.lateness.append(result.late)

    def release(self, items: list[ClaimedNudge], not_before: datetime) -> None:
        """Give back claimed rows that were never sent (a pass that stopped, a long Retry-After): pending again
        from `not_before`, the attempt their claim counted undone, their recorded error kept (an unknown
        outcome still means a look first). Only rows this pass still owns."""
        if not items:
            return
        with self.session_factory.begin() as session:
            session.connection().execute(
                update(Delivery)
                .where(OWNED, Delivery.status == "sending")
                .values(status="pending", claim_token=None, attempts=Delivery.attempts - 1, next_attempt_at=not_before),
                [{"b_id": i.delivery_id, "b_token": i.claim_token} for i in items],
            )

    def _record_deliveries(
        self, connection: Connection, results: list[SendResult], now: datetime, sent_at: datetime
    ) -> None:
        def key(r: SendResult) -> dict[str, Any]:
            return {"b_id": r.item.delivery_id, "b_token": r.item.claim_token}

        sent = [{**key(r), "b_channel": r.channel, "b_ts": r.ts} for r in results if r.outcome in ("sent", "recovered")]
        retry = [
            {**key(r), "b_error": r.error, "b_next": now + self.backoff(r.item.attempts)}
            for r in results
            if r.outcome == "retrying"
        ]
        ended = [
            {**key(r), "b_status": r.outcome, "b_error": r.error} for r in results if r.outcome in ("failed", "missed")
        ]
        if sent:
            connection.execute(
                update(Delivery)
                .where(OWNED)
                .values(
                    status="sent",
                    channel_id=bindparam("b_channel"),
                    message_ts=bindparam("b_ts"),
                    sent_at=sent_at,
                    claim_token=None,
                    error=None,
                    next_attempt_at=None,
                ),
                sent,
            )
        if retry:
            connection.execute(
                update(Delivery)
                .where(OWNED)
                .values(
                    status="pending", claim_token=None, error=bindparam("b_error"), next_attempt_at=bindparam("b_next")
                ),
                retry,
            )
        if ended:
            connection.execute(
                update(Delivery)
                .where(OWNED)
                .values(status=bindparam("b_status"), error=bindparam("b_error"), next_attempt_at=None),
                ended,
            )
