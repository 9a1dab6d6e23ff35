"""The clock: one idempotent pass that runs each job in turn (sorting the people of an org-wide install that
lost workspaces, then weekly nudges, reminders, team digests), and APScheduler running that pass once a minute.

`Clock` is what the rest of the bot sees: `run_pass` (also as a dry run), `send_now` for `/growth now`,
and `start_scheduler`. Every step of a pass is idempotent, so a failed tick is simply tried again by the
next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.clock.digests import DigestJob
from bot.clock.nudge_sender import NudgeSender
from bot.clock.nudges import NudgeJob
from bot.clock.outbox import LEASE, Backoff, backoff
from bot.clock.pacing import Pacer, SlackRates, SlackSenders
from bot.clock.reminders import ReminderJob
from bot.clock.report import PassReport
from bot.clock.shares import SendShares
from bot.clock.sorting import PeopleSorter
from bot.content.records import Content
from bot.storage.models import utcnow

logger = logging.getLogger(__name__)


class Clock:
    """Runs passes against one database and one Slack client, one pass at a time in this process."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        slack: WebClient | SlackSenders,
        content: Content,
        *,
        batch_size: int = 500,
        send_workers: int = 8,
        retry_backoff: Backoff = backoff,
        lease: timedelta = LEASE,
        rates: SlackRates | None = None,
    ):
        """`slack`: the paced clients to send with (the process's, from bot.services), or a plain WebClient
        whose token, URL and retry handlers this clock's own Pacer (at `rates`) copies."""
        self.session_factory = session_factory
        self.senders = slack if isinstance(slack, SlackSenders) else SlackSenders(Pacer(rates), slack)
        self.pacer = self.senders.pacer
        self.shares = SendShares(session_factory, self.pacer)
        sender = NudgeSender(session_factory, self.senders, content, batch_size=batch_size, backoff=retry_backoff)
        self.nudges = NudgeJob(
            session_factory, sender, content, send_workers=send_workers, shares=self.shares, lease=lease
        )
        self.reminders = ReminderJob(session_factory, self.senders, content, batch_size=batch_size)
        self.digests = DigestJob(session_factory, self.senders, content, backoff=retry_backoff, lease=lease)
        self.sorting = PeopleSorter(session_factory, self.senders)
        self._lock = threading.Lock()
        # other idempotent work done once a pass (e.g. forgetting workspaces whose grace period is over, bot.install)
        self.chores: list[Callable[[datetime], object]] = []

    def run_pass(self, now: datetime | None = None, *, dry_run: bool = False) -> PassReport:
        """One pass at `now` (default: the current time): what is due is scheduled and sent. A dry run only
        lists the nudges it would schedule, and writes and sends nothing."""
        now = now or utcnow()
        report = PassReport()
        with self._lock:
            if dry_run:
                self.nudges.dry_run(now, report)
                return report
            started = time.monotonic()
            # first, so that whoever it moves out of an organisation's reach is sent nothing by this pass
            self._sort(now)
            self.nudges.run(now, report)
            self.reminders.run(now, report)
            self.digests.run(now, report)
            for chore in self.chores:
                chore(now)
        outcomes = ("sent", "recovered", "retrying", "failed", "missed", "lost")
        metrics.clock_pass_done(
            time.monotonic() - started,
            nudges={outcome: getattr(report, outcome) for outcome in outcomes},
            digests={"sent": report.digests_sent, "failed": report.digests_failed, "missed": report.digests_missed},
            reminders=report.reminders,
            paced=report.paced,
            lateness=report.lateness,
        )
        if report.busy:
            logger.info("nudge pass: %s; %s", report, report.lateness_text())
        return report

    def _sort(self, now: datetime) -> None:
        try:
            self.sorting.run(now)
        except Exception:  # sends must not stop for it; what is left is sorted on the next pass
            logger.exception("sorting people after team_access_revoked failed")

    def send_now(self, team_id: str, user_id: str, now: datetime | None = None) -> str:
        """/growth now: one extra prompt right away; "sent", or what came of it (failed, retrying...)."""
        return self.nudges.send_now(team_id, user_id, now or utcnow())


def start_scheduler(clock: Clock, *, blocking: bool) -> BaseScheduler:
    """APScheduler: one pass a minute; a late tick is still run (misfire grace), ticks never overlap.
    Blocking runs in this thread until the process is stopped; otherwise in a daemon thread."""
    scheduler = BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        run_pass_safely,
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


def run_pass_safely(clock: Clock) -> None:
    try:
        clock.run_pass()
    except Exception:  # the next tick tries again; every step is idempotent
        metrics.clock_pass_failed()
        logger.exception("nudge pass failed")
