"""A database with growth plans, a fake Slack and clocks, for the clock tests."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, Pacer, SlackRates, SlackSenders
from bot.config import Settings
from bot.content.records import Content
from bot.growth import plans as growth
from bot.services import make_web_client
from bot.storage import engine as db
from bot.storage.models import Delivery, Person
from bot.testing.fakeslack import FakeSlack

MONDAY_10_UTC = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday
QUICK_RETRY = FixedValueRetryIntervalCalculator(0.001)
# a pacer that never holds a test back: Slack's own limits are for the pacing tests (tests/test_pacing.py)
FAST = SlackRates(messages_per_minute=600_000, channel_per_second=1_000)


def quick_retrying_client(settings: Settings) -> WebClient:
    """The client `make_web_client` builds, with the same kinds of retry handler and the same counts, but a
    millisecond between retries instead of slack_sdk's half-second-and-up backoff: tests see every retry a
    production clock makes without sleeping seconds for each. (A 429 still waits for its Retry-After plus
    slack_sdk's jitter of up to a second: tests that script 429s send Retry-After: 0.)"""
    client = make_web_client(settings)
    client.retry_handlers = [
        type(handler)(max_retry_count=handler.max_retry_count, interval_calculator=QUICK_RETRY)
        for handler in client.retry_handlers
    ]
    return client


class World:
    def __init__(self, database_url: str, fake: FakeSlack, content: Content):
        self.url = database_url  # migrated by the fixture
        self.fake = fake
        self.content = content
        self.engine = db.make_engine(database_url)
        self.engines: list[Engine] = [self.engine]
        self.sessions: sessionmaker[Session] = db.make_session_factory(self.engine)
        self.clock = self.new_clock()

    def new_clock(
        self, *, rates: SlackRates = FAST, token_for: Callable[[str], str] | None = None, **kwargs: Any
    ) -> Clock:
        """A clock as a fresh process would build it: its own engine, client and pacer. The pacer runs at
        FAST unless told otherwise (tests of pacing pass Slack's `rates`); `token_for` gives each workspace
        its own token, so a fake Slack with a rate model keeps a budget per workspace."""
        engine = db.make_engine(self.url)
        self.engines.append(engine)
        settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="x", slack_api_url=self.fake.url)
        senders = SlackSenders(Pacer(rates), quick_retrying_client(settings), token_for)
        return Clock(db.make_session_factory(engine), senders, self.content, **kwargs)

    def run_together(self, clocks: list[Clock], at: datetime) -> None:
        """Run one pass of each clock at the same moment, each in its own thread. On SQLite a clock that finds
        the writer lock held fails its tick (as in production, where it finishes on the next): that tick is
        run again here. On PostgreSQL every clock must succeed."""
        barrier = threading.Barrier(len(clocks))
        errors: list[Exception] = []

        def run(clock: Clock) -> None:
            barrier.wait()
            try:
                clock.run_pass(at)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(clock,)) for clock in clocks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors and self.url.startswith("sqlite"):
            assert all("locked" in str(exc) for exc in errors), errors
            for clock in clocks:
                clock.run_pass(at + timedelta(minutes=1))
        else:
            assert errors == []

    def add(
        self,
        user: str,
        *,
        team: str = "T0001",
        tz: str = "UTC",
        weekday: int = 0,
        at: str = "10:00",
        level: str = "mid",
        focus: tuple[str, ...] = ("security",),
        now: datetime = MONDAY_10_UTC - timedelta(days=2),
    ) -> None:
        with self.sessions.begin() as session:
            person = growth.ensure_person(session, team, user)
            person.tz = tz
            growth.save_plan(
                session,
                self.content,
                person,
                level=level,
                target=None,
                focus=list(focus),
                weekday=weekday,
                local_time=at,
                now=now,
            )

    def dms(self) -> Counter[str | None]:
        """chat.postMessage calls that Slack accepted, per DM channel (the channel Slack posted to: a post by
        user id names the DM in its answer)."""
        return Counter(
            c.response.get("channel")
            for c in self.fake.calls_to("chat.postMessage")
            if c.status == 200 and c.response.get("ok")
        )

    def sent(self) -> int:
        """How many DMs Slack accepted, in all."""
        return sum(self.dms().values())

    def delivery(self, user: str) -> list[Delivery]:
        with self.sessions() as session:
            return list(
                session.execute(
                    select(Delivery).join(Person).where(Person.user_id == user).order_by(Delivery.due_at)
                ).scalars()
            )
