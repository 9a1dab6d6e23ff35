"""Databases for tests, migrated once per backend per test run.

The first request for a backend migrates a template with Alembic; every later database is a copy of it:
a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL. A copy takes milliseconds where a
migration takes a tenth of a second or more, and about a hundred tests ask for a database.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from bot.storage import engine as db
from tests.pg import PgCluster

PG_TEMPLATE = "ladderbot_template"


class Databases:
    """Hands out databases for one test run (one xdist worker): empty, or migrated to head."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._names = itertools.count(1)
        self._sqlite_template: Path | None = None
        self._pg_template_in: PgCluster | None = None

    def sqlite(self, *, migrated: bool = True) -> str:
        path = self.directory / f"db{next(self._names)}.sqlite3"
        if migrated:
            shutil.copyfile(self._sqlite_template_path(), path)
        return f"sqlite:///{path}"

    def postgresql(self, cluster: PgCluster, *, migrated: bool = True) -> str:
        name = f"ladderbot_test_{next(self._names)}"
        if not migrated:
            return cluster.create_database(name)
        if self._pg_template_in is not cluster:
            db.migrate(cluster.create_database(PG_TEMPLATE))  # the migration disposes its engine: no connection left
            self._pg_template_in = cluster
        return cluster.create_database(name, template=PG_TEMPLATE)

    def _sqlite_template_path(self) -> Path:
        if self._sqlite_template is None:
            path = self.directory / "template.sqlite3"
            db.migrate(f"sqlite:///{path}")  # the last connection closing checkpoints the WAL into the file
            self._sqlite_template = path
        return self._sqlite_template


def savepoint_engine(url: str) -> Engine:
    """An engine whose connections can hold one outer transaction with savepoints inside, on both backends.

    Python's sqlite3 driver begins transactions lazily and by its own rules, so a SAVEPOINT would open (and its
    RELEASE commit) the outermost transaction. As SQLAlchemy documents for pysqlite, the driver's handling is
    turned off and BEGIN is emitted by SQLAlchemy itself."""
    engine = db.make_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _driver_transactions_off(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
            dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

    return engine
