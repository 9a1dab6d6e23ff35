"""Fixtures: the shipped content, the fake Slack server, databases (SQLite and a real PostgreSQL
cluster started for the run, each backend migrated once per run), sessions rolled back after each test,
and the real `ladderbot serve` process for each backend.

Everything session-scoped here is per process, so under pytest-xdist each worker has its own PostgreSQL
cluster, fake Slack, servers and temporary directory."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.content.loader import load_content
from bot.content.records import Content
from bot.ladder.answers import Answers
from bot.storage import engine as db
from bot.testing.fakeslack import FakeSlack
from bot.web.socket_mode import HandledEnvelopes
from tests.clockworld import World
from tests.databases import Databases, savepoint_engine
from tests.pg import PgCluster, find_bindir, memory_tmpdir
from tests.server import RunningServer, start_server

# the OAuth tests' `oauth` and `running` fixtures, shared by their four modules
pytest_plugins = ["tests.install_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = ROOT / "content"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(CONTENT_DIR)


@pytest.fixture(scope="session")
def answers(content: Content) -> Answers:
    return Answers(content)


@pytest.fixture(scope="session")
def fake_slack_session() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack(request: pytest.FixtureRequest) -> Iterator[FakeSlack]:
    """The fake Slack a test talks to, empty at its start. A test on the shared `server` gets the session's fake
    (that server process is pointed at it), emptied; any other test gets one of its own, so what an earlier test's
    server still sends off the ack (a welcome, an App Home refresh) never lands in its records or uses up a
    failure it set up."""
    if "server" in request.fixturenames:
        shared: FakeSlack = request.getfixturevalue("fake_slack_session")
        shared.reset()
        yield shared
        return
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if os.environ.get("LADDERBOT_SKIP_POSTGRES") == "1":
        pytest.skip("LADDERBOT_SKIP_POSTGRES=1")
    bindir = find_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL binaries not found; install postgresql-15 or set LADDERBOT_PG_BINDIR "
            "(or LADDERBOT_SKIP_POSTGRES=1 to run SQLite only)"
        )
    cluster = PgCluster(bindir, in_memory=True).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    directory = Path(tempfile.mkdtemp(prefix="ladderbot-databases-", dir=memory_tmpdir()))
    yield Databases(directory)
    shutil.rmtree(directory, ignore_errors=True)


def new_database_url(backend: str, request: pytest.FixtureRequest, *, migrated: bool = True) -> str:
    """A new database on the given backend: a copy of the run's migrated template, or empty."""
    databases: Databases = request.getfixturevalue("databases")
    if backend == "sqlite":
        return databases.sqlite(migrated=migrated)
    return databases.postgresql(request.getfixturevalue("pg_cluster"), migrated=migrated)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A new database migrated to head (a copy: no migration runs), once on SQLite and once on PostgreSQL.
    Migrating it again is a quick no-op."""
    return new_database_url(request.param, request)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """A new database with no table at all, once on SQLite and once on PostgreSQL."""
    return new_database_url(request.param, request, migrated=False)


@pytest.fixture(scope="session")
def sqlite_savepoint_engine(databases: Databases) -> Iterator[Engine]:
    engine = savepoint_engine(databases.sqlite())
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_savepoint_engine(databases: Databases, pg_cluster: PgCluster) -> Iterator[Engine]:
    engine = savepoint_engine(databases.postgresql(pg_cluster))
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A Session on a migrated database shared by the run, once per backend. The test runs inside a
    transaction that is rolled back afterwards; the session's own commits and rollbacks only release or
    roll back a SAVEPOINT, so the test may commit freely and the next test still finds the database empty."""
    engine: Engine = request.getfixturevalue(f"{request.param}_savepoint_engine")
    with engine.connect() as connection:
        transaction = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()
            transaction.rollback()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, fake_slack_session: FakeSlack) -> Iterator[RunningServer]:
    """`ladderbot serve` on a migrated database, once per backend, talking to the fake Slack. The SQLite
    server is given an empty database and migrates it itself at start, as the embedded default does in
    production; PostgreSQL is migrated beforehand, as production's release step `ladderbot migrate` does."""
    url = new_database_url(request.param, request, migrated=request.param == "postgresql")
    running = start_server(fake_slack_session.url, url, command=[sys.executable, "-m", "bot", "serve", "--no-clock"])
    yield running
    running.stop()


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a new database (`database_url`), once per backend; its engine is disposed afterwards."""
    engine = db.make_engine(database_url)
    yield db.make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def record_of(sessions: sessionmaker[Session]) -> Iterator[Callable[..., HandledEnvelopes]]:
    """Socket Mode's HandledEnvelopes on the test's database, each as a server of its own; they stop renewing
    their leases at the end."""
    made: list[HandledEnvelopes] = []

    def make(**options: Any) -> HandledEnvelopes:
        made.append(HandledEnvelopes(sessions, **options))
        return made[-1]

    yield make
    for record in made:
        record.close()


@pytest.fixture
def world(database_url: str, fake_slack: FakeSlack, content: Content) -> Iterator[World]:
    """A migrated database (SQLite or PostgreSQL) with helpers to add plans and run clocks."""
    w = World(database_url, fake_slack, content)
    yield w
    for engine in w.engines:
        engine.dispose()
