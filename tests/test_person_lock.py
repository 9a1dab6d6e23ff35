"""A person's row lock (`get_person(lock=True)`: a welcome, a user_change, /growth forget) does not hold up the
clock scheduling that person's nudge. On PostgreSQL the clock locks a plan, then inserts its delivery, whose
foreign-key check takes FOR KEY SHARE on the person; a writer holding the person FOR UPDATE and then waiting
for the plan made the two wait on each other, and PostgreSQL killed one as a deadlock (seen in CI)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import Delivery, utcnow
from tests import factories
from tests.conftest import new_database_url


@pytest.fixture
def engine(request):
    engine = db.make_engine(new_database_url("postgresql", request))
    yield engine
    engine.dispose()


def test_a_locked_person_s_nudge_can_still_be_scheduled(engine):
    with Session(engine) as session, session.begin():
        person_id = factories.person(session, "U1").id
    with Session(engine) as writer, writer.begin():
        assert repo.get_person(writer, factories.TEAM, "U1", lock=True) is not None  # held until the end
        with engine.connect() as clock:
            clock.execute(text("SET lock_timeout = '10s'"))  # FOR UPDATE on the person: LockNotAvailable
            row = {"person_id": person_id, "week_key": "2026-W49", "prompt_id": "p", "due_at": utcnow()}
            clock.execute(insert(Delivery).values(status="pending", attempts=0, **row))
            clock.commit()


def test_two_writers_of_one_person_still_wait_for_each_other(engine):
    """The lock still does its job: a second writer of the same person waits (here: gives up at once)."""
    with Session(engine) as session, session.begin():
        factories.person(session, "U1")
    with Session(engine) as first, first.begin():
        assert repo.get_person(first, factories.TEAM, "U1", lock=True) is not None
        with Session(engine) as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '50ms'"))
            with pytest.raises(Exception, match="lock timeout"):
                repo.get_person(second, factories.TEAM, "U1", lock=True)
