"""Queries for workspaces and people. Functions take a Session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from bot.storage.models import Person, Workspace, utcnow
from bot.storage.upsert import insert_ignoring_conflict


def ensure_workspace(session: Session, team_id: str, domain: str | None = None) -> int:
    """The workspace's row id, creating the row on first use."""
    insert_ignoring_conflict(
        session, Workspace, {"team_id": team_id, "domain": domain, "created_at": utcnow()}, ["team_id"]
    )
    return session.execute(select(Workspace.id).where(Workspace.team_id == team_id)).scalar_one()


def record_person_seen(
    session: Session, team_id: str, user_id: str, *, domain: str | None = None, now: datetime | None = None
) -> bool:
    """Remember that a person used the bot (creating their workspace and person rows if new).
    True when this call created the person."""
    now = now or utcnow()
    workspace_id = ensure_workspace(session, team_id, domain)
    created = insert_ignoring_conflict(
        session,
        Person,
        {"workspace_id": workspace_id, "user_id": user_id, "first_seen_at": now, "last_seen_at": now},
        ["workspace_id", "user_id"],
    )
    session.execute(
        update(Person).where(Person.workspace_id == workspace_id, Person.user_id == user_id).values(last_seen_at=now)
    )
    return created


def claim_welcome(session: Session, person_id: int, now: datetime | None = None) -> bool:
    """Mark a person welcomed; True only for the one caller that did it (so the welcome DM goes once)."""
    result = session.execute(
        update(Person).where(Person.id == person_id, Person.welcomed_at.is_(None)).values(welcomed_at=now or utcnow())
    )
    assert isinstance(result, CursorResult)  # an UPDATE's result: it carries the row count
    return bool(result.rowcount)


def get_person(session: Session, team_id: str, user_id: str, *, lock: bool = False) -> Person | None:
    """The person; `lock` takes their row first (FOR UPDATE on PostgreSQL), so writers that touch a person and
    their plans always lock in the same order (no deadlock between /growth forget and a background update)."""
    query = select(Person).join(Workspace).where(Workspace.team_id == team_id, Person.user_id == user_id)
    if lock:
        query = query.with_for_update(of=Person)
    return session.execute(query).scalar_one_or_none()
