"""Weekly team digests, sent by the same clock pass as the nudges and under the same rules.

A due digest plan becomes a `digest_deliveries` row keyed by (person, ISO week), inserted with ON CONFLICT
DO NOTHING before anything is sent. The row is claimed with a token (FOR UPDATE SKIP LOCKED on
PostgreSQL), then sent in two recorded steps: the summary message (with the row id in its metadata), then
the chart (a PNG named after the row). Each step is written to the database as soon as Slack accepts it,
and a retry whose last try's outcome is unknown (a timeout, a dead clock: bot.clock.outbox.outcome_unknown)
first looks in the DM's history for the step it may have done already, by that metadata or that file name.
The summary is built at send time, so it shows only who has accepted then.
Claims are held under the pass's lease (bot.clock.outbox.Lease) and checked just before each step is sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.chart import engagement_chart
from bot.blocks.team import TeamSummary, build_team_summary
from bot.clock.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    PERMANENT_ERRORS,
    Backoff,
    Lease,
    claim,
    find_in_history,
    has_metadata,
    is_postgres,
    new_claim_token,
    open_dm,
    outcome_unknown,
    owed_row,
    sending_rows,
    slack_error,
    too_late,
    unknown_outcome,
)
from bot.clock.pacing import Paced, SlackSenders, retry_after
from bot.clock.report import PassReport
from bot.content.records import Content
from bot.schedule import occurrences_around
from bot.storage.models import DigestDelivery, DigestPlan, Person, Workspace, utcnow
from bot.storage.upsert import insert_for
from bot.team import summary as team
from bot.team.mentions import Directory

logger = logging.getLogger(__name__)

METADATA_EVENT = "ladderbot_digest"
BATCH = 200


def chart_filename(digest_id: int) -> str:
    return f"ladderbot-team-digest-{digest_id}.png"


class DigestJob:
    """Schedules due digest plans and sends their digests, against one database and one Slack client."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        senders: SlackSenders,
        content: Content,
        *,
        backoff: Backoff,
        lease: timedelta = LEASE,
    ):
        self.session_factory = session_factory
        self.lease = lease
        self.senders = senders
        self.content = content
        self.backoff = backoff
        self._directories: dict[str, Directory] = {}

    def directory(self, client: WebClient) -> Directory:
        """The people directory of the workspace `client` sends for (cached for its lifetime)."""
        budget = getattr(client, "budget", "*")
        if budget not in self._directories:
            self._directories[budget] = Directory(client)
        return self._directories[budget]

    def run(self, now: datetime, report: PassReport) -> None:
        self._schedule(now, report)
        with Lease(self.session_factory, now, self.lease) as lease:
            while True:
                claimed = self._claim(now, lease)
                for digest_id, token in claimed:
                    self._send(digest_id, token, now, report, lease)
                if len(claimed) < BATCH:
                    return

    # schedule ------------------------------------------------------------------------------------

    def _schedule(self, now: datetime, report: PassReport) -> None:
        postgres = is_postgres(self.session_factory)
        while True:
            with self.session_factory.begin() as session:
                query = select(DigestPlan).where(DigestPlan.next_due_at <= now).order_by(DigestPlan.id).limit(BATCH)
                if postgres:
                    query = query.with_for_update(skip_locked=True)
                plans = session.execute(query).scalars().all()
                rows = []
                for plan in plans:
                    occurrence, plan.next_due_at = occurrences_around(plan.weekday, plan.local_time, plan.tz, now)
                    if not plan.enabled:
                        plan.next_due_at = None
                        continue
                    rows.append(owed_row(plan.person_id, occurrence, plan.tz, now))
                if rows:
                    inserted = session.execute(
                        insert_for(session, DigestDelivery)
                        .values(rows)
                        .on_conflict_do_nothing(index_elements=["person_id", "week_key"])
                        .returning(DigestDelivery.status)
                    ).all()
                    report.digests_scheduled += sum(1 for (status,) in inserted if status == "pending")
                    # a week whose digest fell due more than LATE_LIMIT ago (the clock was down): recorded missed
                    report.digests_missed += sum(1 for (status,) in inserted if status == "missed")
            if len(plans) < BATCH:
                return

    def _claim(self, now: datetime, lease: Lease) -> list[tuple[int, str]]:
        token = new_claim_token()
        with self.session_factory.begin() as session:
            # never a digest of a workspace that left (storage.people.still_installed): it waits for a reinstall
            within = sending_rows(DigestDelivery)
            claim(session, DigestDelivery, now, BATCH, token, at=lease.clock(), lease=lease.length, within=within)
            ids = session.execute(select(DigestDelivery.id).where(DigestDelivery.claim_token == token)).scalars().all()
        if ids:
            lease.hold(DigestDelivery, token)
        return [(i, token) for i in ids]

    # send ----------------------------------------------------------------------------------------

    def _write(self, digest_id: int, token: str, learned: tuple[int, str] | None = None, **values: Any) -> bool:
        """Record a step, only if this pass still owns the row; `learned`: (person id, DM channel) from Slack's
        answer to a post by user id, stored in the same transaction for history reads and uploads later."""
        with self.session_factory.begin() as session:
            if learned is not None:
                session.execute(update(Person).where(Person.id == learned[0]).values(dm_channel_id=learned[1]))
            result = session.execute(
                update(DigestDelivery)
                .where(DigestDelivery.id == digest_id, DigestDelivery.claim_token == token)
                .values(**values)
            )
            assert isinstance(result, CursorResult)  # an UPDATE's result: it carries the row count
            return bool(result.rowcount)

    def _send(self, digest_id: int, token: str, now: datetime, report: PassReport, lease: Lease) -> None:
        with self.session_factory() as session:
            digest, person, team_id = session.execute(
                select(DigestDelivery, Person, Workspace.team_id)
                .join(Person, Person.id == DigestDelivery.person_id)
                .join(Workspace, Workspace.id == Person.workspace_id)
                .where(DigestDelivery.id == digest_id)
            ).one()
            summary = team.team_summary(session, self.content, team_id, person.user_id, now)
            state = (
                digest.attempts,
                digest.error,
                digest.message_ts,
                digest.chart_file_id,
                digest.due_at,
                digest.channel_id,
            )
            person_id, user_id, dm_channel, tz = person.id, person.user_id, person.dm_channel_id, person.tz or "UTC"
        attempts, last_error, message_ts, chart_id, due_at, digest_channel = state
        # a waiting client: each call takes its turn at the workspace's pacer, and a 429 is waited out, not failed
        client = self.senders.waiting(team_id)
        # Read the history before a step only when the last try may have done it unanswered; until this
        # attempt itself writes to Slack, a failure leaves that question open (`pending_check`).
        check = pending_check = outcome_unknown(last_error)
        channel = digest_channel or dm_channel
        if too_late(due_at, now):
            if self._write(digest_id, token, status="missed", error="too_late", claim_token=None):
                report.digests_missed += 1
            return
        if not summary.reports and not summary.pending:
            self._write(digest_id, token, status="empty", claim_token=None)  # nobody to report on: no DM
            return
        if not lease.owns(DigestDelivery, digest_id, token):
            logger.warning("team digest %s was taken by another clock; not sent", digest_id)
            return
        try:
            if message_ts is None:
                posted = self._find_summary(client, digest_id, user_id, channel) if check else None
                if posted is None:
                    pending_check = False
                    posted = self._post_summary(client, digest_id, user_id, channel, summary, tz)
                message_ts, channel = posted
                learned = (person_id, channel) if channel != dm_channel else None
                if not self._write(digest_id, token, learned, channel_id=channel, message_ts=message_ts):
                    return
            if channel is None:  # never so far: the channel is recorded with the summary's ts
                channel = open_dm(client, user_id)
            if chart_id is None and summary.reports:
                if not lease.owns(DigestDelivery, digest_id, token):  # the summary went; the chart is the taker's
                    return
                chart_id = self._find_chart(client, digest_id, channel) if check else None
                pending_check = False
                chart_id = chart_id or self._send_chart(client, digest_id, channel, summary)
            self._write(
                digest_id, token, status="sent", chart_file_id=chart_id, sent_at=utcnow(), claim_token=None, error=None
            )
            report.digests_sent += 1
        except Paced as exc:  # the pacer's wait ran out before any request
            self._rate_limited(digest_id, token, attempts, exc.delay, now, unknown=pending_check)
        except SlackApiError as exc:
            pause = retry_after(exc)
            if pause is not None:  # 429s beyond what the waiting client waits out
                self._rate_limited(digest_id, token, attempts, pause, now, unknown=pending_check)
                return
            error = slack_error(exc)  # Slack answered: this call posted nothing
            recorded = unknown_outcome(error) if pending_check else error
            self._failed(digest_id, token, attempts, recorded, now, permanent=error in PERMANENT_ERRORS)
            report.digests_failed += 1
        except OSError as exc:  # a timeout or dropped connection: the step may have reached Slack
            self._failed(digest_id, token, attempts, unknown_outcome(type(exc).__name__), now, permanent=False)
            report.digests_failed += 1
        except SlackClientError as exc:  # raised before a request is made
            error = unknown_outcome(type(exc).__name__) if pending_check else type(exc).__name__
            self._failed(digest_id, token, attempts, error, now, permanent=False)
            report.digests_failed += 1

    def _rate_limited(
        self, digest_id: int, token: str, attempts: int, pause: float, now: datetime, *, unknown: bool
    ) -> None:
        """Rate-limited: not a failure and no attempt used; pending again once Slack's wait is over (an unknown
        outcome stays unknown, so the look still comes first)."""
        values: dict[str, Any] = {"status": "pending", "claim_token": None, "attempts": attempts - 1}
        if unknown:
            values["error"] = unknown_outcome("ratelimited")
        self._write(digest_id, token, next_attempt_at=now + timedelta(seconds=pause), **values)

    def _find_summary(
        self, client: WebClient, digest_id: int, user_id: str, channel: str | None
    ) -> tuple[str, str] | None:
        """(ts, DM channel) of the summary if the DM's history shows it, after a try whose outcome is unknown."""
        if channel is None:  # it may have posted by user id and died before recording the DM
            channel = open_dm(client, user_id)
        found = find_in_history(client, channel, lambda m: has_metadata(m, METADATA_EVENT, digest_id))
        return (found, channel) if found else None

    def _post_summary(
        self, client: WebClient, digest_id: int, user_id: str, channel: str | None, summary: TeamSummary, tz: str
    ) -> tuple[str, str]:
        """(ts, DM channel) of the summary posted now, by user id when the channel is not known yet (Slack
        answers with it)."""
        message = build_team_summary(self.content, summary, tz, title="Your weekly team digest")
        response = client.chat_postMessage(
            channel=channel or user_id,  # a user id: Slack posts to the app's DM and names it
            text=message.text,
            blocks=list(message.blocks),
            metadata={"event_type": METADATA_EVENT, "event_payload": {"delivery_id": digest_id}},
        )
        return str(response["ts"]), str(response["channel"])

    def _find_chart(self, client: WebClient, digest_id: int, channel: str) -> str | None:
        """ "shared" if the chart is in the DM's history already (after a try whose outcome is unknown)."""
        name = chart_filename(digest_id)
        found = find_in_history(client, channel, lambda m: any(f.get("name") == name for f in m.get("files") or []))
        return "shared" if found else None

    def _send_chart(self, client: WebClient, digest_id: int, channel: str, summary: TeamSummary) -> str:
        name = chart_filename(digest_id)
        png = engagement_chart(summary, self.directory(client).names([r.user_id for r in summary.reports]))
        response = client.files_upload_v2(
            channel=channel,
            file=png,
            filename=name,
            title="Weekly nudges answered, by person",
            alt_txt="A grid of the last 12 weeks for each person: answered, not answered, or no nudge.",
        )
        return str((response.get("file") or {}).get("id") or "shared")

    def _failed(self, digest_id: int, token: str, attempts: int, error: str, now: datetime, permanent: bool) -> None:
        if permanent or attempts >= MAX_ATTEMPTS:
            self._write(digest_id, token, status="failed", error=error[:100], claim_token=None)
            logger.warning("team digest %s failed: %s", digest_id, error)
        else:
            self._write(
                digest_id,
                token,
                status="pending",
                error=error[:100],
                claim_token=None,
                next_attempt_at=now + self.backoff(attempts),
            )
