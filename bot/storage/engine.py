"""Engine, sessions and migrations. SQLite is the embedded default; PostgreSQL is production."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from bot.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
# SQLSTATEs of a transaction PostgreSQL aborted to let another go on: deadlock_detected, serialization_failure
RETRYABLE_STATES = frozenset({"40P01", "40001"})
RETRY_PAUSE = 0.05  # seconds before the second try, doubled for each one after

logger = logging.getLogger(__name__)
T = TypeVar("T")


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """An engine with sane defaults for each backend (pooled=False: one connection per use)."""
    pool_args: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool_args)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            # With WAL, NORMAL never corrupts and a process crash loses nothing committed; only a power
            # loss can drop the last commits. It makes each commit several times cheaper.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    if not pooled:
        return create_engine(url, **pool_args)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (a unit of work ends; its results are still used)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """Alembic's configuration for `url`, built in code: alembic.ini never holds a URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic upgrade)."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration's revision id (what a migrated database reports)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return str(head)


def migrate_if_embedded(url: str) -> None:
    """The embedded SQLite default migrates itself at start; PostgreSQL is migrated by `ladderbot migrate`."""
    if url.startswith("sqlite"):
        migrate(url)


def downgrade(url: str, revision: str) -> None:
    """Take the schema back to `revision` (Alembic downgrade)."""
    command.downgrade(alembic_config(url), revision)


def database_ok(engine: Engine) -> tuple[bool, str]:
    """A cheap liveness check for /healthz."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return True, str(version or "")
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; the reason is reported
        return False, type(exc).__name__


def retrying_conflicts(work: Callable[[], T], *, attempts: int = 3) -> T:
    """`work` (one whole transaction) run again when PostgreSQL aborted it as a deadlock's victim or a
    serialization failure: nothing of it was committed, and trying again is PostgreSQL's documented remedy.
    Any other error, or the last try's, is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state not in RETRYABLE_STATES or attempt == attempts:
                raise
            logger.warning("a transaction was aborted (%s: %s); trying it again", state, type(exc.orig).__name__)
            time.sleep(RETRY_PAUSE * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
