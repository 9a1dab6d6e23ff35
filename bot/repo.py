"""Data access for workspaces and people. Functions take a session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.models import Person, Workspace, utcnow


def _insert_ignoring_conflict(session: Session, model, values: dict, index_elements: list[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on either backend, so concurrent first uses never fail."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(model).values(**values).on_conflict_do_nothing(index_elements=index_elements))


def ensure_workspace(session: Session, team_id: str, domain: str | None = None) -> int:
    _insert_ignoring_conflict(
        session, Workspace, {"team_id": team_id, "domain": domain, "created_at": utcnow()}, ["team_id"]
    )
    return session.execute(select(Workspace.id).where(Workspace.team_id == team_id)).scalar_one()


def record_person_seen(
    session: Session, team_id: str, user_id: str, *, domain: str | None = None, now: datetime | None = None
) -> None:
    """Remember that a person used the bot (creating their workspace and person rows if new)."""
    now = now or utcnow()
    workspace_id = ensure_workspace(session, team_id, domain)
    _insert_ignoring_conflict(
        session,
        Person,
        {"workspace_id": workspace_id, "user_id": user_id, "first_seen_at": now, "last_seen_at": now},
        ["workspace_id", "user_id"],
    )
    session.execute(
        update(Person).where(Person.workspace_id == workspace_id, Person.user_id == user_id).values(last_seen_at=now)
    )


def get_person(session: Session, team_id: str, user_id: str) -> Person | None:
    return session.execute(
        select(Person).join(Workspace).where(Workspace.team_id == team_id, Person.user_id == user_id)
    ).scalar_one_or_none()
