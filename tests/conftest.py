"""Fixtures: the shipped content, the fake Slack server, databases (SQLite and a real PostgreSQL
cluster started for the run), and the real `ladderbot serve` process for each backend."""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

import pytest

from bot.content.loader import Content, load_content
from bot.ladder.answers import Answers
from bot.testing.fakeslack import FakeSlack
from tests.clockworld import World
from tests.pg import PgCluster, find_bindir
from tests.server import RunningServer, start_server

ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = ROOT / "content"
BACKENDS = ("sqlite", "postgresql")
_names = itertools.count(1)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(CONTENT_DIR)


@pytest.fixture(scope="session")
def answers(content: Content) -> Answers:
    return Answers(content)


@pytest.fixture(scope="session")
def fake_slack_session():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack(fake_slack_session: FakeSlack) -> FakeSlack:
    """The session's fake Slack, emptied for each test."""
    fake_slack_session.reset()
    return fake_slack_session


@pytest.fixture(scope="session")
def pg_cluster():
    if os.environ.get("LADDERBOT_SKIP_POSTGRES") == "1":
        pytest.skip("LADDERBOT_SKIP_POSTGRES=1")
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL binaries not found; install postgresql-15 or set LADDERBOT_PG_BINDIR "
            "(or LADDERBOT_SKIP_POSTGRES=1 to run SQLite only)"
        )
    cluster = PgCluster(bindir).start()
    yield cluster
    cluster.stop()


def new_database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the given backend."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="ladderbot-sqlite-")
        return f"sqlite:///{directory}/ladderbot.sqlite3"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"ladderbot_test_{os.getpid()}_{next(_names)}")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    return new_database_url(request.param, request)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, fake_slack_session: FakeSlack) -> RunningServer:
    """`ladderbot serve` on a migrated database, once per backend, talking to the fake Slack."""
    url = new_database_url(request.param, request)
    if request.param == "postgresql":
        from bot.storage.engine import migrate

        migrate(url)  # production runs `ladderbot migrate` as the release step
    running = start_server(fake_slack_session.url, url, command=[sys.executable, "-m", "bot", "serve", "--no-clock"])
    yield running
    running.stop()


@pytest.fixture
def world(database_url, fake_slack, content):
    """A migrated database (SQLite or PostgreSQL) with helpers to add plans and run clocks."""
    w = World(database_url, fake_slack, content)
    yield w
    for engine in w.engines:
        engine.dispose()
