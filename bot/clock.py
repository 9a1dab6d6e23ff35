"""The nudge clock: one idempotent pass, run every minute by APScheduler.

A pass has two phases, each in short transactions:

1. Schedule. Plans whose `next_due_at` has passed (one indexed query) become a `deliveries` row keyed
   by (person, ISO week of the local due date), inserted with ON CONFLICT DO NOTHING, and the plan's
   due time moves to the next week. A missed stretch produces one row for the latest week only; one
   more than LATE_LIMIT late is recorded as missed and not sent. On PostgreSQL plans are claimed with
   FOR UPDATE SKIP LOCKED so several clocks share the work.
2. Send. Pending rows are claimed in one UPDATE ... WHERE id IN (SELECT ... [FOR UPDATE SKIP LOCKED])
   that stamps a claim token, so two clocks never hold the same row. Each claimed row is sent
   (conversations.open once per person, then chat.postMessage with the delivery id in the message
   metadata) and its Slack ts recorded. A row whose claim went stale (the clock died mid-send) is
   first looked up in the DM's history by that metadata; only if Slack has no such message is it sent.

Nothing is sent before its row is committed, and every row ends sent, failed or missed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.content import Content
from bot.growth import plan_state
from bot.models import Delivery, Person, Plan, utcnow
from bot.prompts import choose_prompt
from bot.render_growth import build_nudge
from bot.schedule import latest_occurrence, next_occurrence, week_key

logger = logging.getLogger(__name__)

LATE_LIMIT = timedelta(days=3)  # a nudge later than this is recorded as missed, not sent
STALE_CLAIM = timedelta(minutes=15)  # longer than any send with its retries (timeouts, Retry-After)
MAX_ATTEMPTS = 8
METADATA_EVENT = "ladderbot_nudge"
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


@dataclass
class PassReport:
    scheduled: int = 0
    missed: int = 0
    sent: int = 0
    recovered: int = 0  # stale claims found already delivered in Slack
    retrying: int = 0
    failed: int = 0
    reminders: int = 0
    would_send: list[tuple[str, str, str]] = field(default_factory=list)  # dry run: (team/user, week, prompt)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))


class NudgeClock:
    """Runs passes against one database and one Slack client."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        client: WebClient,
        content: Content,
        *,
        batch_size: int = 500,
        send_workers: int = 8,
    ):
        self.session_factory = session_factory
        self.client = client
        self.content = content
        self.batch_size = batch_size
        self.send_workers = send_workers
        self._lock = threading.Lock()  # one pass at a time in this process

    @property
    def _postgres(self) -> bool:
        return self.session_factory.kw["bind"].dialect.name == "postgresql"

    # the pass ----------------------------------------------------------------------------------

    def run_pass(self, now: datetime | None = None, *, dry_run: bool = False) -> PassReport:
        now = now or utcnow()
        report = PassReport()
        with self._lock:
            if dry_run:
                self._dry_run(now, report)
                return report
            self._schedule_due(now, report)
            self._send_pending(now, report)
            self._send_reminders(now, report)
        if report.scheduled or report.sent or report.failed or report.retrying:
            logger.info("nudge pass: %s", report)
        return report

    def _due_plans(self, session: Session, now: datetime):
        query = select(Plan).where(Plan.next_due_at <= now).order_by(Plan.next_due_at, Plan.id).limit(self.batch_size)
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return session.execute(query).scalars().all()

    def _dry_run(self, now: datetime, report: PassReport) -> None:
        with self.session_factory() as session:
            for plan in session.execute(
                select(Plan).where(Plan.next_due_at <= now).order_by(Plan.next_due_at)
            ).scalars():
                occurrence = latest_occurrence(plan.weekday, plan.local_time, plan.tz, now)
                person = session.get(Person, plan.person_id)
                history = self._history(session, plan.person_id)
                prompt = choose_prompt(self.content, plan.level, plan.target, plan.focus_areas, history)
                late = now - occurrence > LATE_LIMIT
                report.would_send.append(
                    (
                        f"{person.user_id}",
                        week_key(occurrence, plan.tz),
                        "missed (too late)" if late else (prompt.id if prompt else "no prompt"),
                    )
                )

    def _history(self, session: Session, person_id: int) -> list[str]:
        rows = session.execute(
            select(Delivery.prompt_id)
            .where(Delivery.person_id == person_id, Delivery.status != "missed")
            .order_by(Delivery.due_at, Delivery.id)
        )
        return [r for (r,) in rows]

    def _schedule_due(self, now: datetime, report: PassReport) -> None:
        while True:
            with self.session_factory.begin() as session:
                plans = self._due_plans(session, now)
                for plan in plans:
                    self._schedule_plan(session, plan, now, report)
            if len(plans) < self.batch_size:
                return

    def _schedule_plan(self, session: Session, plan: Plan, now: datetime, report: PassReport) -> None:
        occurrence = latest_occurrence(plan.weekday, plan.local_time, plan.tz, now)
        plan.next_due_at = next_occurrence(plan.weekday, plan.local_time, plan.tz, now)
        if plan_state(plan, occurrence) != "active":
            return  # paused over that occurrence: nothing owed
        history = self._history(session, plan.person_id)
        prompt = choose_prompt(self.content, plan.level, plan.target, plan.focus_areas, history)
        if prompt is None:
            logger.warning("no prompt fits plan %s (%s -> %s, %s)", plan.id, plan.level, plan.target, plan.focus)
            return
        late = now - occurrence > LATE_LIMIT
        values = {
            "person_id": plan.person_id,
            "week_key": week_key(occurrence, plan.tz),
            "prompt_id": prompt.id,
            "due_at": occurrence,
            "status": "missed" if late else "pending",
            "attempts": 0,
        }
        insert = postgresql.insert if self._postgres else sqlite.insert
        result = session.execute(
            insert(Delivery).values(**values).on_conflict_do_nothing(index_elements=["person_id", "week_key"])
        )
        if result.rowcount:
            if late:
                report.missed += 1
            else:
                report.scheduled += 1

    def _claim(self, now: datetime) -> tuple[str, list[int]]:
        token = uuid.uuid4().hex
        eligible = (
            select(Delivery.id)
            .where(
                or_(
                    and_(
                        Delivery.status == "pending",
                        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                    ),
                    and_(Delivery.status == "sending", Delivery.claimed_at < now - STALE_CLAIM),
                )
            )
            .order_by(Delivery.id)
            .limit(self.batch_size)
        )
        if self._postgres:
            eligible = eligible.with_for_update(skip_locked=True)
        with self.session_factory.begin() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(eligible.scalar_subquery()))
                .values(status="sending", claimed_at=now, claim_token=token, attempts=Delivery.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            ids = [i for (i,) in session.execute(select(Delivery.id).where(Delivery.claim_token == token))]
        return token, ids

    def _send_pending(self, now: datetime, report: PassReport) -> None:
        with ThreadPoolExecutor(max_workers=self.send_workers, thread_name_prefix="nudge-send") as pool:
            while True:
                token, ids = self._claim(now)
                if not ids:
                    return
                for outcome in pool.map(self._deliver, ids, [token] * len(ids), [now] * len(ids)):
                    setattr(report, outcome, getattr(report, outcome) + 1)

    def _deliver(self, delivery_id: int, token: str, now: datetime) -> str:
        """Send one claimed delivery and record the outcome; returns the PassReport counter to bump."""
        with self.session_factory() as session:
            delivery = session.get(Delivery, delivery_id)
            person = session.get(Person, delivery.person_id) if delivery else None
            if delivery is None or person is None or delivery.claim_token != token:
                return "recovered"  # forgotten meanwhile, or claimed by another clock
            user_id, channel, attempts = person.user_id, person.dm_channel_id, delivery.attempts
            was_stale = delivery.attempts > 1 and delivery.message_ts is None
            prompt = self.content.prompt(delivery.prompt_id)
            due_at = delivery.due_at
        if prompt is None:
            return self._finish(delivery_id, token, status="failed", error="prompt_removed")
        if now - due_at > LATE_LIMIT:
            return self._finish(delivery_id, token, status="missed", error="too_late")
        message = build_nudge(self.content, prompt, delivery_id)
        try:
            if channel is None:
                channel = self.client.conversations_open(users=user_id)["channel"]["id"]
                self._remember_channel(user_id, delivery_id, channel)
            if was_stale:
                ts = self._find_sent(channel, delivery_id)
                if ts:
                    self._finish(delivery_id, token, status="sent", channel=channel, ts=ts)
                    return "recovered"
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=list(message.blocks),
                metadata={"event_type": METADATA_EVENT, "event_payload": {"delivery_id": delivery_id}},
            )
            return self._finish(delivery_id, token, status="sent", channel=response["channel"], ts=response["ts"])
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if error in PERMANENT_ERRORS:
                self._mark_unreachable(delivery_id, error)
                return self._finish(delivery_id, token, status="failed", error=error)
            return self._retry_later(delivery_id, token, attempts, now, error)
        except (SlackClientError, OSError) as exc:
            return self._retry_later(delivery_id, token, attempts, now, type(exc).__name__)

    def _find_sent(self, channel: str, delivery_id: int) -> str | None:
        """After a crash mid-send: did Slack already get this nudge? Look for its metadata in the DM."""
        try:
            history = self.client.conversations_history(channel=channel, limit=50, include_all_metadata=True)
        except SlackApiError:
            return None
        for msg in history.get("messages", []):
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT and str(
                (meta.get("event_payload") or {}).get("delivery_id")
            ) == str(delivery_id):
                return msg.get("ts")
        return None

    def _retry_later(self, delivery_id: int, token: str, attempts: int, now: datetime, error: str) -> str:
        if attempts >= MAX_ATTEMPTS:
            return self._finish(delivery_id, token, status="failed", error=f"gave_up:{error}"[:100])
        return self._finish(
            delivery_id, token, status="pending", error=error[:100], next_attempt_at=now + _backoff(attempts)
        )

    def _finish(
        self,
        delivery_id: int,
        token: str,
        *,
        status: str,
        channel: str | None = None,
        ts: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> str:
        values: dict = {"status": status, "error": error, "next_attempt_at": next_attempt_at}
        if status == "sent":
            values.update(channel_id=channel, message_ts=ts, sent_at=utcnow(), claim_token=None)
        elif status == "pending":
            values.update(claim_token=None)
        with self.session_factory.begin() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id, Delivery.claim_token == token).values(**values)
            )
        return {"sent": "sent", "pending": "retrying", "failed": "failed", "missed": "missed"}[status]

    def _remember_channel(self, user_id: str, delivery_id: int, channel: str) -> None:
        with self.session_factory.begin() as session:
            person_id = session.execute(select(Delivery.person_id).where(Delivery.id == delivery_id)).scalar()
            session.execute(update(Person).where(Person.id == person_id).values(dm_channel_id=channel))

    def _mark_unreachable(self, delivery_id: int, error: str) -> None:
        with self.session_factory.begin() as session:
            person_id = session.execute(select(Delivery.person_id).where(Delivery.id == delivery_id)).scalar()
            session.execute(
                update(Plan)
                .where(Plan.person_id == person_id)
                .values(unreachable_reason=error, next_due_at=None, updated_at=utcnow())
            )
        logger.warning("person %s is unreachable (%s); their nudges stop until they /growth resume", person_id, error)

    def send_now(self, team_id: str, user_id: str, now: datetime | None = None) -> str:
        """/growth now: one extra prompt right away, recorded like a weekly one (so it counts in history)."""
        from bot import repo

        now = now or utcnow()
        token = uuid.uuid4().hex
        with self.session_factory.begin() as session:
            person = repo.get_person(session, team_id, user_id)
            plan = (
                session.execute(select(Plan).where(Plan.person_id == person.id)).scalar_one_or_none()
                if person
                else None
            )
            if plan is None:
                return "failed"
            prompt = choose_prompt(
                self.content, plan.level, plan.target, plan.focus_areas, self._history(session, person.id)
            )
            if prompt is None:
                return "failed"
            delivery = Delivery(
                person_id=person.id,
                week_key=f"now-{now:%y%m%d%H%M%S}",
                prompt_id=prompt.id,
                due_at=now,
                status="sending",
                attempts=1,
                claimed_at=now,
                claim_token=token,
            )
            session.add(delivery)
            session.flush()
            delivery_id = delivery.id
        return self._deliver(delivery_id, token, now)

    # reminders ("Remind me tomorrow") ---------------------------------------------------------

    def _send_reminders(self, now: datetime, report: PassReport) -> None:
        token = uuid.uuid4().hex
        eligible = (
            select(Delivery.id).where(Delivery.remind_at <= now, Delivery.reminded_at.is_(None)).limit(self.batch_size)
        )
        if self._postgres:
            eligible = eligible.with_for_update(skip_locked=True)
        with self.session_factory.begin() as session:
            # claiming marks the reminder as sent: a reminder is at most once, never twice
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(eligible.scalar_subquery()))
                .values(reminded_at=now, claim_token=token)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(Delivery, Person)
                .join(Person, Person.id == Delivery.person_id)
                .where(Delivery.claim_token == token)
            ).all()
            work = [(d.id, d.prompt_id, p.dm_channel_id or p.user_id) for d, p in rows]
        for delivery_id, prompt_id, channel in work:
            prompt = self.content.prompt(prompt_id)
            if prompt is None:
                continue
            message = build_nudge(self.content, prompt, delivery_id, reminder=True)
            try:
                self.client.chat_postMessage(channel=channel, text=message.text, blocks=list(message.blocks))
                report.reminders += 1
            except (SlackApiError, SlackClientError, OSError) as exc:
                logger.warning("reminder for delivery %s failed: %s", delivery_id, exc)


def start_scheduler(clock: NudgeClock, *, blocking: bool):
    """APScheduler: one pass a minute; a late tick is still run (misfire grace), ticks never overlap."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    scheduler.add_job(
        _safe_pass,
        "interval",
        args=[clock],
        minutes=1,
        id="nudges",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=300,
        next_run_time=utcnow(),
    )
    scheduler.start()
    return scheduler


def _safe_pass(clock: NudgeClock) -> None:
    try:
        clock.run_pass()
    except Exception:  # the next tick tries again; every step is idempotent
        logger.exception("nudge pass failed")
