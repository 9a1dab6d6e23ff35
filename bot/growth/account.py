"""A person's own data: the export behind `/growth export` and the deletion behind `/growth forget`.
Export sections owned by other features (the team's follows and digest) are handed in by the caller, so
growth never imports them; forget deletes the person's rows in every table, children first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from bot.growth.plans import deliveries_of, get_plan, reflections_of
from bot.storage import people as repo
from bot.storage.models import (
    Delivery,
    DigestDelivery,
    DigestPlan,
    Evidence,
    Follow,
    Person,
    Plan,
    Reflection,
    Workspace,
)

# More sections for the export, from features built on growth (team: following, followers, digest).
ExportSections = Callable[[Session, Person], dict[str, Any]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, person: Person, more: ExportSections | None = None) -> dict[str, Any]:
    """Everything stored about one person, as JSON-ready data."""
    workspace = session.get(Workspace, person.workspace_id)
    plan = get_plan(session, person)
    return {
        "team_id": workspace.team_id if workspace else None,
        "user_id": person.user_id,
        "first_seen_at": _iso(person.first_seen_at),
        "time_zone": person.tz,
        "plan": None
        if plan is None
        else {
            "level": plan.level,
            "target": plan.target,
            "focus": plan.focus_areas,
            "weekday": plan.weekday,
            "local_time": plan.local_time,
            "time_zone": plan.tz,
            "paused_until": _iso(plan.paused_until),
            "stopped": plan.stopped,
            "unreachable_reason": plan.unreachable_reason,
            "next_due_at": _iso(plan.next_due_at),
        },
        "nudges": [
            {
                "week": d.week_key,
                "prompt": d.prompt_id,
                "due_at": _iso(d.due_at),
                "status": d.status,
                "sent_at": _iso(d.sent_at),
                "answer": d.answer,
                "answered_at": _iso(d.answered_at),
            }
            for d in deliveries_of(session, person, limit=10_000)
        ],
        "reflections": [
            {"text": r.text, "shared": r.shared, "created_at": _iso(r.created_at), "nudge_id": r.delivery_id}
            for r in reflections_of(session, person, limit=10_000)
        ],
        **(more(session, person) if more else {}),
    }


def forget(session: Session, team_id: str, user_id: str) -> bool:
    """Delete everything stored about one person. Children first, so it holds without FK cascades too."""
    person = repo.get_person(session, team_id, user_id, lock=True)
    if person is None:
        return False
    session.execute(delete(Evidence).where(Evidence.person_id == person.id))
    session.execute(delete(Reflection).where(Reflection.person_id == person.id))
    session.execute(delete(Follow).where(or_(Follow.follower_id == person.id, Follow.report_id == person.id)))
    session.execute(delete(DigestDelivery).where(DigestDelivery.person_id == person.id))
    session.execute(delete(DigestPlan).where(DigestPlan.person_id == person.id))
    session.execute(delete(Delivery).where(Delivery.person_id == person.id))
    session.execute(delete(Plan).where(Plan.person_id == person.id))
    session.execute(delete(Person).where(Person.id == person.id))
    return True
