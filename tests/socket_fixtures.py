"""Fixtures for the tests of the Socket Mode envelope record (a pytest plugin, named in conftest.py): the test's
database and `HandledEnvelopes` on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.storage import engine as db
from bot.web.socket_mode import HandledEnvelopes


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def record_of(sessions: sessionmaker[Session]) -> Iterator[Callable[..., HandledEnvelopes]]:
    """HandledEnvelopes on the test's database, each as a server of its own; they stop renewing their leases at
    the end."""
    made: list[HandledEnvelopes] = []

    def make(**options: Any) -> HandledEnvelopes:
        made.append(HandledEnvelopes(sessions, **options))
        return made[-1]

    yield make
    for record in made:
        record.close()
