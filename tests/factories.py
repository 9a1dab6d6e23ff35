"""Small builders for test data, through the features' own functions where one exists (so a person, a plan
or a follow is what the bot itself would have stored). Each takes a Session, flushes, and never commits;
due_plan_in, for tests of a server's own clock, commits to a database by URL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bot.content.records import Content
from bot.growth import plans as growth
from bot.storage import engine as db
from bot.storage.models import Delivery, Follow, Person, Plan, utcnow
from bot.team import follows as team

TEAM = "T0001"
MONDAY_10_UTC = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday


def person(session: Session, user_id: str = "U0001", *, team_id: str = TEAM, tz: str | None = None) -> Person:
    """A person (and their workspace), as a first use of the bot records them."""
    found = growth.ensure_person(session, team_id, user_id)
    if tz is not None:
        found.tz = tz
        session.flush()
    return found


def plan(
    session: Session,
    content: Content,
    owner: Person,
    *,
    level: str = "mid",
    focus: Sequence[str] = ("security",),
    weekday: int = 0,
    at: str = "10:00",
    now: datetime = MONDAY_10_UTC - timedelta(days=2),
) -> Plan:
    """A growth plan saved as /growth setup saves it: the next nudge is due at `weekday` `at` after `now`."""
    return growth.save_plan(
        session, content, owner, level=level, target=None, focus=list(focus), weekday=weekday, local_time=at, now=now
    )


def deliveries(
    session: Session,
    owner: Person,
    prompt_id: str,
    answers: Sequence[str | None],
    *,
    now: datetime = MONDAY_10_UTC,
) -> list[Delivery]:
    """Sent weekly nudges, one per entry of `answers` (done, skipped, snoozed or None), the first due an hour
    before `now` and each next one a week earlier."""
    made = [
        Delivery(
            person_id=owner.id,
            week_key=f"test-{weeks_ago}",
            prompt_id=prompt_id,
            due_at=now - timedelta(weeks=weeks_ago, hours=1),
            sent_at=now - timedelta(weeks=weeks_ago, hours=1),
            status="sent",
            attempts=1,
            answer=answer,
            answered_at=now - timedelta(weeks=weeks_ago) if answer else None,
        )
        for weeks_ago, answer in enumerate(answers)
    ]
    session.add_all(made)
    session.flush()
    return made


def follow(
    session: Session,
    follower: str,
    report: str,
    *,
    accept: bool | None = True,
    team_id: str = TEAM,
    now: datetime = MONDAY_10_UTC,
) -> Follow:
    """`follower` asks to follow `report` (user ids); `report` accepts (True), declines (False) or has not yet
    answered (None)."""
    (outcome,) = team.invite(session, team_id, follower, [report], now)
    assert outcome.follow_id is not None, outcome
    if accept is not None:
        team.answer_invite(session, team_id, report, outcome.follow_id, accept, now)
    found = session.get(Follow, outcome.follow_id)
    assert found is not None
    return found


def due_plan_in(url: str, content: Content, user_id: str) -> str:
    """In the database at `url` (migrated here if it is not yet), a person whose weekly nudge fell due a
    minute ago, for tests where a real server's clock must find it; returns the user id."""
    db.migrate(url)  # a no-op on a migrated copy
    engine = db.make_engine(url)
    now = utcnow()
    try:
        with db.make_session_factory(engine).begin() as session:
            growth.save_plan(
                session,
                content,
                growth.ensure_person(session, TEAM, user_id),
                level="mid",
                target=None,
                focus=["api"],
                weekday=now.weekday(),
                local_time=f"{now - timedelta(minutes=1):%H:%M}",
                now=now - timedelta(days=1),
            )
    finally:
        engine.dispose()
    return user_id
