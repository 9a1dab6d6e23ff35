"""A follower's weekly team digest setting: on or off, the weekday and local time, and the next send."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.growth import plans as growth
from bot.schedule import next_occurrence
from bot.storage.models import DigestPlan, Person, utcnow

DEFAULT_DIGEST_WEEKDAY = 0
DEFAULT_DIGEST_TIME = "09:00"


def set_digest(
    session: Session,
    team_id: str,
    user_id: str,
    enabled: bool,
    weekday: int | None = None,
    local_time: str | None = None,
    now: datetime | None = None,
) -> DigestPlan:
    now = now or utcnow()
    person = growth.ensure_person(session, team_id, user_id)
    digest = digest_of(session, person)
    if digest is None:
        digest = DigestPlan(
            person_id=person.id, weekday=DEFAULT_DIGEST_WEEKDAY, local_time=DEFAULT_DIGEST_TIME, created_at=now
        )
        session.add(digest)
    digest.tz = person.tz or digest.tz or "UTC"
    if weekday is not None:
        digest.weekday = weekday
    if local_time is not None:
        digest.local_time = local_time
    digest.enabled = enabled
    reschedule_digest(digest, now)
    session.flush()
    return digest


def reschedule_digest(digest: DigestPlan, now: datetime) -> None:
    digest.updated_at = now
    digest.next_due_at = next_occurrence(digest.weekday, digest.local_time, digest.tz, now) if digest.enabled else None


def digest_of(session: Session, person: Person) -> DigestPlan | None:
    return session.execute(select(DigestPlan).where(DigestPlan.person_id == person.id)).scalar_one_or_none()
