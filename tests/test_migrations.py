"""Migrations run up and down on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from bot.storage import engine as db
from bot.storage import people as repo
from bot.storage.models import Base


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    db.migrate(empty_database_url)
    engine = db.make_engine(empty_database_url)
    try:
        assert {"workspaces", "people", "alembic_version"} <= set(inspect(engine).get_table_names())
        db.downgrade(empty_database_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        db.migrate(empty_database_url)
        assert db.database_ok(engine) == (True, db.head_revision())
    finally:
        engine.dispose()


def test_models_match_migrations(database_url: str) -> None:
    """database_url is a copy of the run's template, which the migrations built."""
    engine = db.make_engine(database_url)
    try:
        assert db.database_ok(engine) == (True, db.head_revision())
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_person_upsert_is_idempotent(db_session: Session) -> None:
    created = []
    for _ in range(3):
        created.append(repo.record_person_seen(db_session, "T1", "U1"))
        db_session.commit()
    assert created == [True, False, False]  # only the first call made the row (the row count lied on psycopg 3)
    person = repo.get_person(db_session, "T1", "U1")
    assert person is not None and person.first_seen_at.tzinfo is not None
    assert person.last_seen_at >= person.first_seen_at
    assert repo.get_person(db_session, "T2", "U1") is None  # nothing crosses workspaces
