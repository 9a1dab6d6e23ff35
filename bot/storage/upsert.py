"""INSERT ... ON CONFLICT DO NOTHING on either backend: how concurrent first uses and repeated passes
stay exactly once without catching IntegrityError (which would end the transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.storage.models import Base


def insert_for(bind: Session | Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """The backend's own INSERT for `model`, the one that has on_conflict_do_nothing."""
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)


def insert_ignoring_conflict(
    session: Session, model: type[Base], values: dict[str, Any], index_elements: list[str]
) -> bool:
    """Insert one row unless one with the same `index_elements` exists; True when this call inserted it."""
    statement = insert_for(session, model).values(**values).on_conflict_do_nothing(index_elements=index_elements)
    # RETURNING, not the row count: psycopg 3 under SQLAlchemy 2.1 reports -1 for an INSERT's rowcount
    inserted = session.execute(statement.returning(*(getattr(model, name) for name in index_elements)))
    return inserted.first() is not None
