"""A database with growth plans, a fake Slack and clocks, for the clock tests."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import Clock
from bot.config import Settings
from bot.growth import plans as growth
from bot.services import make_web_client
from bot.storage import engine as db
from bot.storage.models import Delivery, Person

MONDAY_10_UTC = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday


class World:
    def __init__(self, database_url: str, fake, content):
        db.migrate(database_url)
        self.url = database_url
        self.fake = fake
        self.content = content
        self.engine = db.make_engine(database_url)
        self.engines = [self.engine]
        self.sessions = db.make_session_factory(self.engine)
        self.clock = self.new_clock()

    def new_clock(self, **kwargs) -> Clock:
        """A clock as a fresh process would build it: its own engine and client."""
        engine = db.make_engine(self.url)
        self.engines.append(engine)
        settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="x", slack_api_url=self.fake.url)
        return Clock(db.make_session_factory(engine), make_web_client(settings), self.content, **kwargs)

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
        tz: str = "UTC",
        weekday: int = 0,
        at: str = "10:00",
        level: str = "mid",
        focus: tuple[str, ...] = ("security",),
        now: datetime = MONDAY_10_UTC - timedelta(days=2),
    ) -> None:
        with self.sessions.begin() as session:
            person = growth.ensure_person(session, "T0001", user)
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

    def dms(self) -> Counter:
        """chat.postMessage calls that Slack accepted, per DM channel."""
        return Counter(
            c.params.get("channel")
            for c in self.fake.calls_to("chat.postMessage")
            if c.status == 200 and c.response.get("ok")
        )

    def delivery(self, user: str) -> list[Delivery]:
        with self.sessions() as session:
            return list(
                session.execute(
                    select(Delivery).join(Person).where(Person.user_id == user).order_by(Delivery.due_at)
                ).scalars()
            )
