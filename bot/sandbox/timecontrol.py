"""The sandbox's time control: a moment ahead of the wall clock at which the bot's real clock runs its pass.

The sandbox's time is the wall clock plus an offset that only grows. "Next nudge" jumps to the next moment
something is due for the person (their weekly nudge, a reminder or their team digest; else anyone's),
"next Monday 10:00" to that local time in the person's zone, "+1 week" a week on. `Clock.run_pass` runs at
each moment something falls due on the way and at the target, as the minute tick of `ladderbot serve` would
have run it while that time passed. A ticker runs a pass every minute at
the sandbox's time, as the production clock does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.schedule import next_occurrence
from bot.storage import people as repo
from bot.storage.models import Delivery, DigestDelivery, DigestPlan, Plan, utcnow

logger = logging.getLogger(__name__)

TICK_SECONDS = 60.0
MONDAY = 0
JUMPS = ("next_nudge", "next_monday", "week")


class PassRunner(Protocol):
    """What the time control needs of the bot's clock (bot.clock.Clock)."""

    def run_pass(self, now: datetime | None = None, *, dry_run: bool = False) -> object: ...


@dataclass(frozen=True)
class Jump:
    """What a jump did: the sandbox's time before and after, and the pass's report as text."""

    before: datetime
    after: datetime
    report: str


COUNTERS = ("sent", "recovered", "reminders", "digests_sent", "failed", "digests_failed", "missed")
MAX_PASSES = 500  # per jump: far more than a week of a demo workspace's sends; a guard against a stuck due time


def describe(*reports: object) -> str:
    """What one or more passes sent, in words: "sent 1 nudge, 1 digest" (a PassReport's counters, by name)."""
    total = {name: sum(int(getattr(r, name, 0)) for r in reports) for name in COUNTERS}
    counts = [
        (total["sent"] + total["recovered"], "nudge"),
        (total["reminders"], "reminder"),
        (total["digests_sent"], "digest"),
    ]
    sent = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n]
    failed = total["failed"] + total["digests_failed"]
    text = "sent " + ", ".join(sent) if sent else "nothing was due"
    return text + (f"; {failed} failed or to be retried" if failed else "")


class MessageTimes:
    """The sandbox's time at which each message was posted, by its ts. The fake Slack stamps messages with the
    wall clock; the sandbox's time runs ahead by an offset that grows at every jump, so a message's time is
    recorded when its ts is made (see `watch`). A ts made before that falls back to its wall time plus the
    offset now."""

    def __init__(self, sandbox_time: SandboxTime) -> None:
        self.time = sandbox_time
        self._moments: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def stamp(self, ts: str) -> None:
        with self._lock:
            self._moments.setdefault(ts, self.time.now())

    def at(self, ts: str) -> datetime | None:
        with self._lock:
            known = self._moments.get(ts)
        if known is not None:
            return known
        seconds = ts.partition(".")[0]
        if not seconds.isdigit() or not int(seconds):
            return None
        return datetime.fromtimestamp(int(seconds), UTC) + self.time.offset

    def watch(self, make_ts: Callable[[], str]) -> Callable[[], str]:
        """`make_ts` (the fake Slack's next_ts), stamping each ts it makes with the sandbox's time."""

        def next_ts() -> str:
            ts = make_ts()
            self.stamp(ts)
            return ts

        return next_ts


class SandboxTime:
    """The sandbox's clock. Thread-safe; one pass at a time."""

    def __init__(self, session_factory: sessionmaker[Session], clock: PassRunner, team_id: str) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.team_id = team_id
        self.offset = timedelta(0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def now(self) -> datetime:
        return utcnow() + self.offset

    def target(self, jump: str, user_id: str, tz: str) -> datetime:
        """The moment a jump goes to, never before the sandbox's present."""
        now = self.now()
        if jump == "week":
            return now + timedelta(weeks=1)
        if jump == "next_monday":
            return next_occurrence(MONDAY, "10:00", tz, now)
        if jump == "next_nudge":
            due = self.next_due(user_id, now)
            return max(due, now) if due else now + timedelta(weeks=1)
        raise ValueError(f"unknown jump {jump!r}; one of {', '.join(JUMPS)}")

    def next_due(self, user_id: str, now: datetime) -> datetime | None:
        """When the next thing for this person is due (their weekly nudge, a "remind me tomorrow", their team
        digest); if nothing is, the first thing due for anyone."""
        with self.session_factory() as session:
            person = repo.get_person(session, self.team_id, user_id)
            if person is not None:
                own = self._first(
                    session,
                    select(func.min(Plan.next_due_at)).where(Plan.person_id == person.id),
                    select(func.min(Delivery.remind_at)).where(
                        Delivery.person_id == person.id, Delivery.reminded_at.is_(None)
                    ),
                    select(func.min(DigestPlan.next_due_at)).where(
                        DigestPlan.person_id == person.id, DigestPlan.enabled.is_(True)
                    ),
                )
                if own is not None:
                    return own
        return self.first_due()

    @staticmethod
    def _first(session: Session, *queries: Select[datetime | None]) -> datetime | None:
        found = [moment for query in queries if (moment := session.execute(query).scalar_one_or_none())]
        return min(found) if found else None

    def jump(self, jump: str, user_id: str, tz: str) -> Jump:
        """Move the sandbox's time to the jump's target as the production clock would live through it: a pass
        at each moment something falls due on the way (so nothing due in between is late, or missed), then
        one at the target."""
        with self._lock:
            before = self.now()
            after = self.target(jump, user_id, tz)
            reports = []
            late = self.first_due()
            if late is not None and late <= before:  # already due (say a reminder set in wall-clock time)
                reports.append(self.clock.run_pass(before))
            moment = before
            for _ in range(MAX_PASSES):
                due = self.first_due(after=moment)
                if due is None or due >= after:
                    break
                moment = due
                self.offset += moment - self.now()
                reports.append(self.clock.run_pass(moment))
            self.offset += after - self.now()
            reports.append(self.clock.run_pass(after))
        text = describe(*reports)
        logger.info("sandbox time %s -> %s, %d passes: %s", before.isoformat(), after.isoformat(), len(reports), text)
        return Jump(before, after, text)

    def first_due(self, after: datetime | None = None) -> datetime | None:
        """The first moment (after `after`, if given) the clock has something to do for anyone: a weekly
        nudge, a team digest, a reminder, or a retry."""
        columns = (
            (Plan.next_due_at, Plan.next_due_at.is_not(None)),
            (DigestPlan.next_due_at, DigestPlan.enabled.is_(True)),
            (Delivery.remind_at, Delivery.reminded_at.is_(None)),
            (Delivery.next_attempt_at, Delivery.status == "pending"),
            (DigestDelivery.next_attempt_at, DigestDelivery.status == "pending"),
        )
        with self.session_factory() as session:
            return self._first(
                session,
                *(
                    select(func.min(column)).where(condition, *([column > after] if after is not None else []))
                    for column, condition in columns
                ),
            )

    def tick(self) -> None:
        with self._lock:
            self.clock.run_pass(self.now())

    def start_ticking(self, every: float = TICK_SECONDS) -> None:
        """A pass a minute at the sandbox's time, like the production clock's minute tick."""

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - one failed pass must not stop the clock; the next tick retries
                    logger.exception("sandbox clock pass failed")

        self._ticker = threading.Thread(target=loop, name="sandbox-clock", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
