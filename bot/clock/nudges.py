"""The weekly nudge job: one step of every clock pass, in short transactions, overlapped so that scheduling
the next batch uses the time the send pool spends waiting on Slack.

1. Schedule. Plans whose `next_due_at` has passed (one indexed query per batch) become a `deliveries`
   row keyed by (person, ISO week of the local due date), inserted with ON CONFLICT DO NOTHING, and the
   plan's due time moves to the next week. A missed stretch produces one row for the latest week only;
   one more than LATE_LIMIT late is recorded as missed and not sent. On PostgreSQL plans are claimed
   with FOR UPDATE SKIP LOCKED so several clocks share the work.
2. Send. Pending rows are claimed and sent by the NudgeSender (bot.clock.nudge_sender) in a thread pool,
   their outcomes recorded as they come in.

Nothing is sent before its row is committed, and every row ends sent, failed or missed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue
from typing import Any, TypeAlias, cast

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock.dispatch import Dispatcher, post_channel
from bot.clock.nudge_sender import ClaimedNudge, NudgeSender, SendResult, load_claimed, retry_or_give_up
from bot.clock.outbox import LEASE, Lease, is_postgres, new_claim_token, owed_row
from bot.clock.pacing import MAX_HOLD, POST_MESSAGE
from bot.clock.report import PassReport
from bot.clock.shares import SendShares
from bot.content.records import Content
from bot.growth.plans import plan_state
from bot.growth.prompts import choose_prompt
from bot.schedule import occurrences_around
from bot.storage import engine as db
from bot.storage import people
from bot.storage.models import Delivery, Person, Plan, split_focus
from bot.storage.upsert import insert_for

logger = logging.getLogger(__name__)

RECORD_EVERY = 100  # outcomes written per transaction while a batch is being sent (or each second)
LOOK_EVERY = 1.0  # seconds between looks for workspaces whose lines need topping up
LINE_SECONDS = 10.0  # a workspace's line holds about this many seconds of sends at its pace
# A Retry-After longer than MAX_HOLD (bot.clock.pacing) gives the send back for a later pass instead of holding
# the pass, and its workspace's whole line with it (bot.clock.dispatch); so does this many 429s for one send
MAX_PUT_BACKS = 20  # in one pass (waits for our own pace don't count)
DUE_PLAN_COLUMNS = (
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
DuePlan: TypeAlias = Row[*tuple[Any, ...]]  # a plan as scheduling reads it: the DUE_PLAN_COLUMNS, by name


def histories(session: Session, person_ids: list[int]) -> dict[int, list[str]]:
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


class NudgeJob:
    """Schedules due plans and sends their nudges, against one database and one sender."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        sender: NudgeSender,
        content: Content,
        *,
        send_workers: int,
        shares: SendShares,
        lease: timedelta = LEASE,
    ):
        self.session_factory = session_factory
        self.shares = shares
        self.pacer = sender.senders.pacer
        self.lease = lease
        self.sender = sender
        self.content = content
        self.batch_size = sender.batch_size
        self.send_workers = send_workers
        self._postgres = is_postgres(session_factory)
        self._put_backs: dict[int, int] = {}  # delivery id -> times paced in this pass

    def run(self, now: datetime, report: PassReport) -> None:
        """Schedule due plans and send pending deliveries, overlapped: the send pool is kept fed by claiming
        the next batch while the last is still being sent, the time it spends waiting on Slack is used to
        schedule the next batch of plans, and outcomes are recorded as they come in (a crash then leaves
        only the few in flight as stale claims). Every claim is held under one lease, renewed until the pass
        ends, so no other clock takes a row this pass may still send."""
        with Lease(self.session_factory, now, self.lease) as lease:
            self._run(now, report, lease)

    def _run(self, now: datetime, report: PassReport, lease: Lease) -> None:
        self._put_backs = {}
        results: SimpleQueue[SendResult] = SimpleQueue()
        dispatch = Dispatcher(self.pacer, self.sender.senders.budget, slots=self.send_workers)
        outcomes: list[SendResult] = []
        scheduling = self.schedule_batch(now, report)
        claiming = True  # rows may be left to claim
        last_look = -1.0  # when the workspaces with claimable rows were last looked up
        last_record = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=self.send_workers, thread_name_prefix="nudge-send") as pool:
                while True:
                    if claiming and (dispatch.empty or time.monotonic() - last_look >= LOOK_EVERY):
                        last_look = time.monotonic()
                        claimed = self._claim_fairly(now, lease, dispatch)
                        if not claimed and dispatch.empty:
                            if scheduling:
                                scheduling = self.schedule_batch(now, report)
                                continue
                            claiming = False
                    self.shares.sending(dispatch.budgets())
                    for item in dispatch.ready():
                        pool.submit(self._send_into, results, item, now, lease)
                    self._give_back_paused(dispatch, report, lease)
                    if scheduling:  # Slack's pace leaves time: schedule the next batch of plans
                        scheduling = self.schedule_batch(now, report)
                        claiming = True
                    if dispatch.empty and not claiming and not scheduling:
                        break
                    self._collect(results, dispatch, outcomes, report, lease, timeout=min(dispatch.next_wake(), 0.5))
                    if outcomes and (
                        len(outcomes) >= RECORD_EVERY or time.monotonic() - last_record >= 1.0 or dispatch.empty
                    ):
                        self.sender.record(outcomes, now, report)
                        outcomes = []
                        last_record = time.monotonic()
        finally:
            # the pool has finished what it was given; on the way out (normally with nothing left, or after an
            # error) record every outcome and give back what was never sent, so no row waits for a lease to lapse
            self.shares.leave()
            self._collect(results, dispatch, outcomes, report, lease, timeout=0)
            try:
                self.sender.record(outcomes, now, report)
            finally:
                self.sender.release(dispatch.take_unsent(), lease.clock())

    def _claim_fairly(self, now: datetime, lease: Lease, dispatch: Dispatcher) -> int:
        """Claim for every workspace with claimable rows whose line runs short: each line is topped up to
        about LINE_SECONDS of sends at its pace (at least two per send thread, at most a batch), so every
        workspace due is being sent for at once, whatever the others' sizes."""
        wanted: dict[int, int] = {}
        planned: dict[str, int] = {}  # budget -> rows in line or asked for in this call (workspaces may share one)
        for workspace_id, team_id in self.sender.workspaces_due(now, lease).items():
            budget = self.sender.senders.budget(team_id)
            if self.pacer.pause(budget) > MAX_HOLD:
                continue  # paused long by Slack: its rows stay unclaimed for a pass after the pause
            depth = min(self.batch_size, max(2 * self.send_workers, int(self.pacer.rate(budget) * LINE_SECONDS)))
            have = planned.setdefault(budget, dispatch.queued(budget))
            if have < depth // 2 + 1:
                wanted[workspace_id] = depth - have
                planned[budget] = depth
        if not wanted:
            return 0
        claimed = self.sender.claim(now, lease, wanted)
        dispatch.add(claimed)
        return len(claimed)

    def _give_back_paused(self, dispatch: Dispatcher, report: PassReport, lease: Lease) -> None:
        """Release the lines the dispatcher gave back (their workspace paused longer than MAX_HOLD)."""
        for items, pause in dispatch.given_back():
            self._give_back(items, pause, report, lease)

    def _give_back(self, items: list[ClaimedNudge], seconds: float, report: PassReport, lease: Lease) -> None:
        """Release sends unsent for a later pass: pending again once Slack's `seconds` are over, no attempt
        used, so the pass does not wait them out."""
        logger.info(
            "%d deliveries (first %s) given back for a later pass (Slack asks for %.0fs)",
            len(items),
            items[0].delivery_id,
            seconds,
        )
        report.given_back += len(items)
        self.sender.release(items, lease.clock() + timedelta(seconds=seconds))

    def _collect(
        self,
        results: SimpleQueue[SendResult],
        dispatch: Dispatcher,
        outcomes: list[SendResult],
        report: PassReport,
        lease: Lease,
        *,
        timeout: float,
    ) -> None:
        """Wait up to `timeout` for outcomes (0: don't wait); take all there are. A paced send goes back in line,
        unless Slack asked for a long wait or answered it 429 many times: then it is given back for a later pass,
        pending with no attempt used, so one send never holds the pass (and the clock) for long."""
        taken: list[SendResult] = []
        try:
            taken.append(results.get(timeout=timeout) if timeout > 0 else results.get_nowait())
        except Empty:
            return
        while True:
            try:
                taken.append(results.get_nowait())
            except Empty:
                break
        for result in taken:
            dispatch.done(result.item)
            if result.outcome != "paced":
                outcomes.append(result)
                continue
            report.paced += 1
            report.rate_limited += result.rate_limited
            item = result.item
            if result.new_channel:  # learned from conversations.open before it was held back
                item = replace(item, dm_channel_id=result.new_channel)
            times = self._put_backs[item.delivery_id] = self._put_backs.get(item.delivery_id, 0) + result.rate_limited
            if result.retry_in > MAX_HOLD or times > MAX_PUT_BACKS:
                self._give_back([item], result.retry_in, report, lease)
            else:
                dispatch.put_back(item, result.retry_in)

    def send_now(self, team_id: str, user_id: str, now: datetime) -> str:
        """/growth now: one extra prompt right away, recorded like a weekly one (so it counts in history).
        The row is inserted already claimed, so no pass takes it while it is being sent."""
        token = new_claim_token()
        with self.session_factory.begin() as session:
            person = people.get_person(session, team_id, user_id)
            plan = (
                session.execute(select(Plan).where(Plan.person_id == person.id)).scalar_one_or_none()
                if person
                else None
            )
            if person is None or plan is None:
                return "failed"
            prompt = choose_prompt(
                self.content, plan.level, plan.target, plan.focus_areas, histories(session, [person.id])[person.id]
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
            [item] = load_claimed(session, token)
        with Lease(self.session_factory, now, self.lease) as lease:
            lease.hold(Delivery, token)
            result = self.sender.send(item, now, lease, wait=True)
            if result.outcome == "paced":  # waited as long as a person may: the next pass sends it
                self.sender.release([item], lease.clock() + timedelta(seconds=result.retry_in))
                return "retrying"
            self.sender.record([result], now, PassReport())
        return "sent" if result.outcome in ("sent", "recovered") else result.outcome

    def _send_into(self, results: SimpleQueue[SendResult], item: ClaimedNudge, now: datetime, lease: Lease) -> None:
        """One send in the pool, its post paid for by the dispatcher's token."""
        try:
            with self.pacer.prepaid(self.sender.senders.budget(item.team_id), POST_MESSAGE, post_channel(item)):
                result = self.sender.send(item, now, lease)
        except Exception as exc:  # a bug must not strand the row as 'sending' or hang the pass
            logger.exception("sending delivery %s failed", item.delivery_id)
            result = retry_or_give_up(item, type(exc).__name__)
        results.put(result)

    def due_plans(self, session: Session, now: datetime, *, limit: int | None) -> Sequence[DuePlan]:
        """Due plans as plain rows (what scheduling reads), oldest due first; claimed on PostgreSQL."""
        query = (
            select(*DUE_PLAN_COLUMNS).where(Plan.next_due_at <= now).order_by(Plan.next_due_at, Plan.id).limit(limit)
        )
        if self._postgres and limit is not None:
            query = query.with_for_update(skip_locked=True)
        return session.execute(query).all()

    def dry_run(self, now: datetime, report: PassReport) -> None:
        """What a pass would schedule, by the same rules as a real pass; nothing is written."""
        with self.session_factory() as session:
            plans = self.due_plans(session, now, limit=None)
            person_ids = [p.person_id for p in plans]
            given = histories(session, person_ids) if plans else {}
            users = dict(session.execute(select(Person.id, Person.user_id).where(Person.id.in_(person_ids))).all())
            for plan in plans:
                _, row = self.schedule_plan(plan, now, given[plan.person_id])
                if row is not None:
                    what = "missed (too late)" if row["status"] == "missed" else row["prompt_id"]
                    report.would_send.append((users[plan.person_id], row["week_key"], what))

    def schedule_batch(self, now: datetime, report: PassReport) -> bool:
        """Schedule up to one batch of due plans in one transaction; True if more may be due. The batch locks
        its plans, then its deliveries' foreign-key checks lock their people: a writer holding a person and
        waiting for their plan can make PostgreSQL abort the batch as a deadlock's victim; it is run again."""
        more, scheduled, missed = db.retrying_conflicts(lambda: self._schedule_batch(now))
        report.scheduled += scheduled
        report.missed += missed
        return more

    def _schedule_batch(self, now: datetime) -> tuple[bool, int, int]:
        """(more may be due, deliveries scheduled, deliveries recorded as missed), in one transaction."""
        scheduled = missed = 0
        with self.session_factory.begin() as session:
            connection = session.connection()
            plans = self.due_plans(session, now, limit=self.batch_size)
            if not plans:
                return False, 0, 0
            given = histories(session, [p.person_id for p in plans])
            moves: dict[datetime, list[int]] = {}  # next due time -> plans; people share a few zones and times
            rows = []
            for plan in plans:
                next_due, row = self.schedule_plan(plan, now, given[plan.person_id])
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
                        insert_for(connection, Delivery)
                        .on_conflict_do_nothing(index_elements=["person_id", "week_key"])
                        .returning(Delivery.id),
                        batch,  # executemany: compiled once, sent in multi-row chunks
                    ).all()
                    if status == "pending":
                        scheduled += len(inserted)
                    else:
                        missed += len(inserted)
        return len(plans) == self.batch_size, scheduled, missed

    def schedule_plan(self, plan: DuePlan, now: datetime, history: list[str]) -> tuple[datetime, dict[str, Any] | None]:
        """The plan's next due time (next week) and the delivery row it owes now (None: nothing owed)."""
        occurrence, next_due = occurrences_around(plan.weekday, plan.local_time, plan.tz, now)
        # plan_state reads only the pause, stop and unreachable columns, which the row carries by name
        if plan_state(cast(Plan, plan), occurrence) != "active":
            return next_due, None  # paused over that occurrence: nothing owed
        prompt = choose_prompt(self.content, plan.level, plan.target, split_focus(plan.focus), history)
        if prompt is None:
            logger.warning("no prompt fits plan %s (%s -> %s, %s)", plan.id, plan.level, plan.target, plan.focus)
            return next_due, None
        return next_due, {**owed_row(plan.person_id, occurrence, plan.tz, now), "prompt_id": prompt.id}
