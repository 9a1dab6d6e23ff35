"""The nudge clock: one idempotent pass, run every minute by APScheduler.

A pass has two kinds of step, each in short transactions, overlapped so that scheduling the next batch
uses the time the send pool spends waiting on Slack:

1. Schedule. Plans whose `next_due_at` has passed (one indexed query per batch) become a `deliveries`
   row keyed by (person, ISO week of the local due date), inserted with ON CONFLICT DO NOTHING, and the
   plan's due time moves to the next week. A missed stretch produces one row for the latest week only;
   one more than LATE_LIMIT late is recorded as missed and not sent. On PostgreSQL plans are claimed
   with FOR UPDATE SKIP LOCKED so several clocks share the work.
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
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.growth import build_nudge
from bot.content.records import Content
from bot.growth.plans import plan_state
from bot.growth.prompts import choose_prompt
from bot.schedule import occurrences_around, week_key
from bot.storage.models import Delivery, Person, Plan, split_focus, utcnow

logger = logging.getLogger(__name__)

LATE_LIMIT = timedelta(days=3)  # a nudge later than this is recorded as missed, not sent
STALE_CLAIM = timedelta(minutes=15)  # longer than any send with its retries (timeouts, Retry-After)
MAX_ATTEMPTS = 8
RECORD_EVERY = 100  # outcomes written per transaction while a batch is being sent
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
    digests_scheduled: int = 0
    digests_sent: int = 0
    digests_failed: int = 0  # failed or to be retried
    would_send: list[tuple[str, str, str]] = field(default_factory=list)  # dry run: (team/user, week, prompt)


@dataclass(frozen=True)
class _Claimed:
    """A delivery this pass owns, with what sending it needs (loaded in one query per batch)."""

    delivery_id: int
    person_id: int
    user_id: str
    dm_channel_id: str | None
    prompt_id: str
    due_at: datetime
    attempts: int
    message_ts: str | None
    claim_token: str


@dataclass(frozen=True)
class _Result:
    item: _Claimed
    outcome: str  # sent, recovered, retrying, failed, missed: the PassReport counter to bump
    channel: str | None = None
    ts: str | None = None
    error: str | None = None
    new_channel: str | None = None
    unreachable: bool = False


class _Outbox:
    """Where the send threads leave outcomes. The pass sleeps until there is a batch worth recording, room
    to claim more, or nothing left in flight: a few hundred wake-ups for 10,000 sends, not one each."""

    def __init__(self, *, record_every: int, low_water: int):
        self._ready = threading.Condition()
        self._results: list[_Result] = []
        self.in_flight = 0
        self._record_every = record_every
        self._low_water = low_water

    def started(self, count: int) -> None:
        with self._ready:
            self.in_flight += count

    def put(self, result: _Result) -> None:
        with self._ready:
            self._results.append(result)
            self.in_flight -= 1
            if len(self._results) >= self._record_every or self.in_flight <= self._low_water:
                self._ready.notify()

    def take(self, *, want_room: bool = False, wait: bool = True) -> list[_Result]:
        """The outcomes so far; unless told not to wait, after waiting for a full batch, for nothing in
        flight or (want_room) for the pool to run low."""
        with self._ready:
            if wait:
                self._ready.wait_for(
                    lambda: (
                        len(self._results) >= self._record_every
                        or self.in_flight == 0
                        or (want_room and self.in_flight <= self._low_water)
                    )
                )
            taken, self._results = self._results, []
            return taken


def stamp(session: Session, model, eligible, **values) -> None:
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


def claim(session: Session, model, now: datetime, limit: int, token: str) -> None:
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


def find_in_history(client: WebClient, channel: str, match) -> str | None:
    """The ts of the newest of the DM's last 50 messages that `match` accepts; None if none (or Slack fails:
    the caller then sends, preferring a rare duplicate to a lost message)."""
    try:
        history = client.conversations_history(channel=channel, limit=50, include_all_metadata=True)
    except SlackApiError:
        return None
    for msg in history.get("messages", []):
        if match(msg):
            return msg.get("ts")
    return None


def has_metadata(message: dict, event_type: str, row_id: int) -> bool:
    meta = message.get("metadata") or {}
    return meta.get("event_type") == event_type and str((meta.get("event_payload") or {}).get("delivery_id")) == str(
        row_id
    )


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
        from bot.clock.digests import DigestSender  # digests build on the clock's claim helpers

        self.digests = DigestSender(session_factory, client, content)

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
            self._schedule_and_send(now, report)
            self._send_reminders(now, report)
            self.digests.run(now, report)
        if report.scheduled or report.sent or report.failed or report.retrying or report.digests_scheduled:
            logger.info("nudge pass: %s", report)
        return report

    def _due_plans(self, session: Session, now: datetime, *, limit: int | None):
        """Due plans as plain rows (what scheduling reads), oldest due first; claimed on PostgreSQL."""
        query = (
            select(
                Plan.id,
                Plan.person_id,
                Plan.level,
                Plan.target,
                Plan.focus,
                Plan.weekday,
                Plan.local_time,
                Plan.tz,
                Plan.paused_until,
                Plan.stopped,
                Plan.unreachable_reason,
            )
            .where(Plan.next_due_at <= now)
            .order_by(Plan.next_due_at, Plan.id)
            .limit(limit)
        )
        if self._postgres and limit is not None:
            query = query.with_for_update(skip_locked=True)
        return session.execute(query).all()

    def _dry_run(self, now: datetime, report: PassReport) -> None:
        """What a pass would schedule, by the same rules as a real pass; nothing is written."""
        with self.session_factory() as session:
            plans = self._due_plans(session, now, limit=None)
            histories = self._histories(session, [p.person_id for p in plans]) if plans else {}
            users = dict(
                session.execute(
                    select(Person.id, Person.user_id).where(Person.id.in_([p.person_id for p in plans]))
                ).all()
            )
            for plan in plans:
                _, row = self._schedule_plan(plan, now, histories[plan.person_id])
                if row is not None:
                    what = "missed (too late)" if row["status"] == "missed" else row["prompt_id"]
                    report.would_send.append((users[plan.person_id], row["week_key"], what))

    def _history(self, session: Session, person_id: int) -> list[str]:
        return self._histories(session, [person_id]).get(person_id, [])

    def _histories(self, session: Session, person_ids: list[int]) -> dict[int, list[str]]:
        """Prompts already given to each person, oldest first: one query for a whole batch."""
        out: dict[int, list[str]] = {pid: [] for pid in person_ids}
        rows = session.execute(
            select(Delivery.person_id, Delivery.prompt_id)
            .where(Delivery.person_id.in_(person_ids), Delivery.status != "missed")
            .order_by(Delivery.person_id, Delivery.due_at, Delivery.id)
        )
        for person_id, prompt_id in rows:
            out[person_id].append(prompt_id)
        return out

    def _schedule_batch(self, now: datetime, report: PassReport) -> bool:
        """Schedule up to one batch of due plans in one transaction; True if more may be due."""
        insert = postgresql.insert if self._postgres else sqlite.insert
        with self.session_factory.begin() as session:
            connection = session.connection()
            plans = self._due_plans(session, now, limit=self.batch_size)
            if not plans:
                return False
            histories = self._histories(session, [p.person_id for p in plans])
            moves: dict[datetime, list[int]] = {}  # next due time -> plans; people share a few zones and times
            rows = []
            for plan in plans:
                next_due, row = self._schedule_plan(plan, now, histories[plan.person_id])
                moves.setdefault(next_due, []).append(plan.id)
                if row is not None:
                    rows.append(row)
            for next_due, plan_ids in moves.items():
                connection.execute(update(Plan).where(Plan.id.in_(plan_ids)).values(next_due_at=next_due))
            for status in ("pending", "missed"):
                batch = [row for row in rows if row["status"] == status]
                if batch:
                    # the unique (person, week) key makes a repeat a no-op
                    inserted = connection.execute(
                        insert(Delivery)
                        .on_conflict_do_nothing(index_elements=["person_id", "week_key"])
                        .returning(Delivery.id),
                        batch,  # executemany: compiled once, sent in multi-row chunks
                    ).all()
                    if status == "pending":
                        report.scheduled += len(inserted)
                    else:
                        report.missed += len(inserted)
        return len(plans) == self.batch_size

    def _schedule_plan(self, plan, now: datetime, history: list[str]) -> tuple[datetime, dict | None]:
        """The plan's next due time (next week) and the delivery row it owes now (None: nothing owed)."""
        occurrence, next_due = occurrences_around(plan.weekday, plan.local_time, plan.tz, now)
        if plan_state(plan, occurrence) != "active":
            return next_due, None  # paused over that occurrence: nothing owed
        prompt = choose_prompt(self.content, plan.level, plan.target, split_focus(plan.focus), history)
        if prompt is None:
            logger.warning("no prompt fits plan %s (%s -> %s, %s)", plan.id, plan.level, plan.target, plan.focus)
            return next_due, None
        late = now - occurrence > LATE_LIMIT
        return next_due, {
            "person_id": plan.person_id,
            "week_key": week_key(occurrence, plan.tz),
            "prompt_id": prompt.id,
            "due_at": occurrence,
            "status": "missed" if late else "pending",
            "attempts": 0,
        }

    def _claim(self, now: datetime) -> list[_Claimed]:
        token = uuid.uuid4().hex
        with self.session_factory.begin() as session:
            claim(session, Delivery, now, self.batch_size, token)
            return [_Claimed(*row, token) for row in session.execute(self._claimed_rows(token))]

    @staticmethod
    def _claimed_rows(token: str):
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
            )
            .join(Person, Person.id == Delivery.person_id)
            .where(Delivery.claim_token == token)
            .order_by(Delivery.id)
        )

    def _schedule_and_send(self, now: datetime, report: PassReport) -> None:
        """Schedule due plans and send pending deliveries, overlapped: the send pool is kept fed by claiming
        the next batch while the last is still being sent, the time it spends waiting on Slack is used to
        schedule the next batch of plans, and outcomes are recorded as they come in (a crash then leaves
        only the few in flight as stale claims)."""
        low_water = self.send_workers * 4
        outbox = _Outbox(record_every=RECORD_EVERY, low_water=low_water)
        scheduling = self._schedule_batch(now, report)
        exhausted = False
        with ThreadPoolExecutor(max_workers=self.send_workers, thread_name_prefix="nudge-send") as pool:
            while True:
                if not exhausted and outbox.in_flight <= low_water:
                    claimed = self._claim(now)
                    outbox.started(len(claimed))
                    for item in claimed:
                        pool.submit(self._send_into, outbox, item, now)
                    if not claimed:
                        if scheduling:
                            scheduling = self._schedule_batch(now, report)
                            continue
                        exhausted = True
                elif scheduling:
                    scheduling = self._schedule_batch(now, report)
                    self._record(outbox.take(wait=False), now, report)
                    continue
                if exhausted and outbox.in_flight == 0:
                    break
                self._record(outbox.take(want_room=not exhausted), now, report)
        self._record(outbox.take(wait=False), now, report)

    def _send_into(self, outbox: _Outbox, item: _Claimed, now: datetime) -> None:
        try:
            result = self._send_one(item, now)
        except Exception as exc:  # a bug must not strand the row as 'sending' or hang the pass
            logger.exception("sending delivery %s failed", item.delivery_id)
            result = self._retry_result(item, type(exc).__name__)
        outbox.put(result)

    def _send_one(self, item: _Claimed, now: datetime) -> _Result:
        """Slack I/O for one claimed delivery; no database work here (it runs in the send pool)."""
        prompt = self.content.prompt(item.prompt_id)
        if prompt is None:
            return _Result(item, "failed", error="prompt_removed")
        if now - item.due_at > LATE_LIMIT:
            return _Result(item, "missed", error="too_late")
        channel = item.dm_channel_id
        try:
            new_channel = None
            if channel is None:
                channel = new_channel = self.client.conversations_open(users=item.user_id)["channel"]["id"]
            if item.attempts > 1 and item.message_ts is None:  # claimed before: did the last try get through?
                ts = self._find_sent(channel, item.delivery_id)
                if ts:
                    return _Result(item, "recovered", channel=channel, ts=ts, new_channel=new_channel)
            message = build_nudge(self.content, prompt, item.delivery_id)
            response = self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=list(message.blocks),
                metadata={"event_type": METADATA_EVENT, "event_payload": {"delivery_id": item.delivery_id}},
            )
            return _Result(item, "sent", channel=response["channel"], ts=response["ts"], new_channel=new_channel)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if error in PERMANENT_ERRORS:
                return _Result(item, "failed", error=error, unreachable=True)
            return self._retry_result(item, error)
        except (SlackClientError, OSError) as exc:
            return self._retry_result(item, type(exc).__name__)

    @staticmethod
    def _retry_result(item: _Claimed, error: str) -> _Result:
        if item.attempts >= MAX_ATTEMPTS:
            return _Result(item, "failed", error=f"gave_up:{error}"[:100])
        return _Result(item, "retrying", error=error[:100])

    def _find_sent(self, channel: str, delivery_id: int) -> str | None:
        """After a crash mid-send: did Slack already get this nudge? Look for its metadata in the DM."""
        return find_in_history(self.client, channel, lambda msg: has_metadata(msg, METADATA_EVENT, delivery_id))

    def _record(self, results: list[_Result], now: datetime, report: PassReport) -> None:
        """Write a batch of outcomes in one transaction (one executemany per kind of outcome), each row only
        if this pass still owns it."""
        if not results:
            return
        sent_at = utcnow()
        owned = and_(Delivery.id == bindparam("b_id"), Delivery.claim_token == bindparam("b_token"))

        def key(r: _Result) -> dict:
            return {"b_id": r.item.delivery_id, "b_token": r.item.claim_token}

        sent = [{**key(r), "b_channel": r.channel, "b_ts": r.ts} for r in results if r.outcome in ("sent", "recovered")]
        retry = [
            {**key(r), "b_error": r.error, "b_next": now + _backoff(r.item.attempts)}
            for r in results
            if r.outcome == "retrying"
        ]
        ended = [
            {**key(r), "b_status": r.outcome, "b_error": r.error} for r in results if r.outcome in ("failed", "missed")
        ]
        with self.session_factory.begin() as session:
            connection = session.connection()
            if sent:
                connection.execute(
                    update(Delivery)
                    .where(owned)
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
                    .where(owned)
                    .values(
                        status="pending",
                        claim_token=None,
                        error=bindparam("b_error"),
                        next_attempt_at=bindparam("b_next"),
                    ),
                    retry,
                )
            if ended:
                connection.execute(
                    update(Delivery)
                    .where(owned)
                    .values(status=bindparam("b_status"), error=bindparam("b_error"), next_attempt_at=None),
                    ended,
                )
            channels = [{"b_pid": r.item.person_id, "b_channel": r.new_channel} for r in results if r.new_channel]
            if channels:
                connection.execute(
                    update(Person).where(Person.id == bindparam("b_pid")).values(dm_channel_id=bindparam("b_channel")),
                    channels,
                )
            for r in results:
                if r.unreachable:
                    connection.execute(
                        update(Plan)
                        .where(Plan.person_id == r.item.person_id)
                        .values(unreachable_reason=r.error, next_due_at=None, updated_at=sent_at)
                    )
                    logger.warning(
                        "person %s is unreachable (%s); nudges stop until /growth resume", r.item.person_id, r.error
                    )
                setattr(report, r.outcome, getattr(report, r.outcome) + 1)

    def send_now(self, team_id: str, user_id: str, now: datetime | None = None) -> str:
        """/growth now: one extra prompt right away, recorded like a weekly one (so it counts in history)."""
        from bot.storage import people as repo

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
            session.add(
                Delivery(
                    person_id=person.id,
                    week_key=f"now-{now:%y%m%d%H%M%S}",
                    prompt_id=prompt.id,
                    due_at=now,
                    status="sending",
                    attempts=1,
                    claimed_at=now,
                    claim_token=token,
                )
            )
            session.flush()
            [item] = [_Claimed(*row, token) for row in session.execute(self._claimed_rows(token))]
        result = self._send_one(item, now)
        self._record([result], now, PassReport())
        return "sent" if result.outcome in ("sent", "recovered") else result.outcome

    # reminders ("Remind me tomorrow") ---------------------------------------------------------

    def _send_reminders(self, now: datetime, report: PassReport) -> None:
        token = uuid.uuid4().hex
        eligible = (
            select(Delivery.id).where(Delivery.remind_at <= now, Delivery.reminded_at.is_(None)).limit(self.batch_size)
        )
        with self.session_factory.begin() as session:
            # claiming marks the reminder as sent: a reminder is at most once, never twice
            stamp(session, Delivery, eligible, reminded_at=now, claim_token=token)
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
