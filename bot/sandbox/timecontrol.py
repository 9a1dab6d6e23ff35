"""The sandbox's time control: a moment ahead of the wall clock at which the bot's real clock runs its pass.

The sandbox's time is the wall clock plus an offset that only grows. "Next nudge" jumps to the next moment
something is due for the person (their weekly nudge, a reminder or their team digest; else anyone's),
"next Monday 10:00" to that local time in the person's zone, "+1 week" a week on; then `Clock.run_pass` runs
at that moment, exactly as the minute tick of `ladderbot serve` runs it. A ticker runs a pass every minute at
the sandbox's time, as the production clock does.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def describe(report: object) -> str:
    """What a pass sent, in words: "sent 1 nudge, 1 digest" (a PassReport's counters, read by name)."""
    counts = [
        (int(getattr(report, "sent", 0)) + int(getattr(report, "recovered", 0)), "nudge"),
        (int(getattr(report, "reminders", 0)), "reminder"),
        (int(getattr(report, "digests_sent", 0)), "digest"),
    ]
    sent = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n]
    failed = int(getattr(report, "failed", 0)) + int(getattr(report, "digests_failed", 0))
    text = "sent " + ", ".join(sent) if sent else "nothing was due"
    return text + (f"; {failed} failed or to be retried" if failed else "")


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
            return self._first(
                session,
                select(func.min(Plan.next_due_at)),
                select(func.min(DigestPlan.next_due_at)).where(DigestPlan.enabled.is_(True)),
                select(func.min(Delivery.remind_at)).where(Delivery.reminded_at.is_(None)),
                select(func.min(DigestDelivery.next_attempt_at)).where(DigestDelivery.status == "pending"),
            )

    @staticmethod
    def _first(session: Session, *queries: Select[datetime | None]) -> datetime | None:
        found = [moment for query in queries if (moment := session.execute(query).scalar_one_or_none())]
        return min(found) if found else None

    def jump(self, jump: str, user_id: str, tz: str) -> Jump:
        """Move the sandbox's time to the jump's target and run the clock's pass there."""
        with self._lock:
            before = self.now()
            after = self.target(jump, user_id, tz)
            self.offset += after - before
            report = self.clock.run_pass(after)
        logger.info("sandbox time %s -> %s: %s", before.isoformat(), after.isoformat(), report)
        return Jump(before, after, describe(report))

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
