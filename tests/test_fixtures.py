"""The test machinery itself: the db_session fixture's savepoints, copies of the migrated template, the
factories and wait_until. If these lie, every test built on them proves less than it claims."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.content.records import Content
from bot.growth import plans as growth
from bot.storage import engine as db
from bot.storage.models import Delivery, Person, Plan
from tests import factories
from tests.waiting import stays, wait_until


def people_seen_by_another_connection(session: Session) -> int:
    with session.get_bind().engine.connect() as other:
        return int(other.execute(select(func.count()).select_from(Person)).scalar_one())


def test_a_commit_in_db_session_only_releases_a_savepoint(db_session: Session) -> None:
    assert db_session.execute(select(func.count()).select_from(Person)).scalar_one() == 0  # earlier tests left nothing
    factories.person(db_session, "USAVE")
    db_session.commit()
    assert db_session.execute(select(Person.user_id)).scalars().all() == ["USAVE"]
    assert people_seen_by_another_connection(db_session) == 0  # the outer transaction never committed


def test_a_rollback_in_db_session_goes_back_to_the_last_commit(db_session: Session) -> None:
    factories.person(db_session, "UKEPT")
    db_session.commit()
    factories.person(db_session, "UGONE")
    db_session.rollback()
    assert db_session.execute(select(Person.user_id)).scalars().all() == ["UKEPT"]


def test_db_session_runs_on_both_backends(db_session: Session, request: pytest.FixtureRequest) -> None:
    dialect = db_session.get_bind().dialect.name
    assert dialect == request.node.callspec.params["db_session"]
    assert db_session.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == db.head_revision()


def test_database_url_is_a_fresh_migrated_copy(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        assert db.database_ok(engine) == (True, db.head_revision())
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Person)).scalar_one() == 0
    finally:
        engine.dispose()


def test_factories_build_what_the_features_would(db_session: Session, content: Content) -> None:
    manager = factories.person(db_session, "UMGR", tz="Europe/Berlin")
    report = factories.person(db_session, "UREP")
    plan = factories.plan(db_session, content, report, level="senior", focus=("api", "security"), weekday=2)
    sent = factories.deliveries(db_session, report, content.prompts[0].id, ["done", None, "skipped"])
    accepted = factories.follow(db_session, "UMGR", "UREP")
    pending = factories.follow(db_session, "UREP", "UMGR", accept=None)
    db_session.commit()

    assert manager.tz == "Europe/Berlin"
    assert growth.get_plan(db_session, report) == plan
    assert (plan.level, plan.focus_areas, plan.weekday, plan.stopped) == ("senior", ["api", "security"], 2, False)
    assert plan.next_due_at is not None and plan.next_due_at.weekday() == 2
    assert [d.answer for d in growth.deliveries_of(db_session, report)] == ["done", None, "skipped"]
    assert [d.due_at for d in sent] == sorted((d.due_at for d in sent), reverse=True)
    assert db_session.execute(select(func.count()).select_from(Delivery)).scalar_one() == 3
    assert (accepted.follower_id, accepted.report_id, accepted.status) == (manager.id, report.id, "accepted")
    assert pending.status == "pending"
    assert db_session.execute(select(func.count()).select_from(Plan)).scalar_one() == 1


def test_wait_until_returns_the_first_truthy_value_and_fails_clearly() -> None:
    started = time.monotonic()
    calls = iter([0, [], "ready"])
    assert wait_until(lambda: next(calls), timeout=5) == "ready"
    assert time.monotonic() - started < 1
    with pytest.raises(AssertionError, match="timed out after 0.05s waiting for the moon"):
        wait_until(lambda: False, timeout=0.05, what="the moon")
    assert stays(lambda: True, 0.05)
    assert not stays(lambda: False, 5)
