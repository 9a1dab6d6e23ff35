"""Growth plans: the service behind /growth, the modal, the App Home and the clock.

Functions take a session and never commit; the caller owns the unit of work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.blocks.growth import PlanView
from bot.content.records import Content
from bot.errors import InvalidPlan, NotFound, NotYours
from bot.schedule import describe, next_occurrence
from bot.storage import people as repo
from bot.storage.models import Delivery, DigestPlan, Person, Plan, Reflection, utcnow

DEFAULT_WEEKDAY = 0
DEFAULT_TIME = "10:00"
MAX_FOCUS = 3
ANSWERED = ("done",)


def delivery(session: Session, delivery_id: int) -> Delivery | None:
    return session.get(Delivery, delivery_id)


def own_delivery(session: Session, person: Person, delivery_id: int) -> Delivery:
    """The person's own nudge; NotFound for one that no longer exists, NotYours for anyone else's."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound("That nudge no longer exists.")
    if delivery.person_id != person.id:
        raise NotYours("That nudge is not yours.")
    return delivery


def ensure_person(session: Session, team_id: str, user_id: str) -> Person:
    repo.record_person_seen(session, team_id, user_id)
    person = repo.get_person(session, team_id, user_id)
    assert person is not None
    return person


def get_plan(session: Session, person: Person) -> Plan | None:
    return session.execute(select(Plan).where(Plan.person_id == person.id)).scalar_one_or_none()


def plan_state(plan: Plan, now: datetime) -> str:
    if plan.unreachable_reason:
        return "unreachable"
    if plan.stopped:
        return "stopped"
    if plan.paused_until and plan.paused_until > now:
        return "paused"
    return "active"


def view_of(plan: Plan, now: datetime) -> PlanView:
    state = plan_state(plan, now)
    return PlanView(
        level=plan.level,
        target=plan.target,
        focus=tuple(plan.focus_areas),
        weekday=plan.weekday,
        local_time=plan.local_time,
        tz=plan.tz,
        state=state,
        next_due=describe(plan.next_due_at, plan.tz) if plan.next_due_at and state in ("active", "paused") else "",
        paused_until=describe(plan.paused_until, plan.tz) if state == "paused" and plan.paused_until else "",
        unreachable_reason=plan.unreachable_reason or "",
    )


def reschedule(plan: Plan, now: datetime) -> None:
    """Recompute the next due time from the local weekday and time; None takes the plan out of the index."""
    plan.updated_at = now
    if plan.stopped or plan.unreachable_reason:
        plan.next_due_at = None
        return
    after = max(now, plan.paused_until) if plan.paused_until else now
    plan.next_due_at = next_occurrence(plan.weekday, plan.local_time, plan.tz, after)


def default_target(content: Content, level: str) -> str:
    found = content.level(level)
    higher = content.next_level(found)
    return higher.id if higher else found.id


def check_plan_values(content: Content, level: str, target: str, focus: list[str]) -> None:
    order = [lv.id for lv in content.levels]
    if order.index(target) < order.index(level):
        raise InvalidPlan(
            f"Your target ({content.level(target).name}) is below your level "
            f"({content.level(level).name}). Pick a target at or above your level.",
            field="target",
        )
    if not 1 <= len(focus) <= MAX_FOCUS:
        raise InvalidPlan(f"Pick one to {MAX_FOCUS} focus areas.", field="focus")
    if len(set(focus)) != len(focus):
        raise InvalidPlan("Each focus area only once, please.", field="focus")


def save_plan(
    session: Session,
    content: Content,
    person: Person,
    *,
    level: str,
    target: str | None,
    focus: list[str],
    weekday: int | None = None,
    local_time: str | None = None,
    now: datetime | None = None,
) -> Plan:
    """Create or replace a plan (the setup modal and /growth setup)."""
    now = now or utcnow()
    target = target or default_target(content, level)
    check_plan_values(content, level, target, focus)
    plan = get_plan(session, person)
    if plan is None:
        plan = Plan(
            person_id=person.id,
            created_at=now,
            weekday=DEFAULT_WEEKDAY,
            local_time=DEFAULT_TIME,
            tz=person.tz or "UTC",
            stopped=False,
        )
        session.add(plan)
    plan.level, plan.target, plan.focus = level, target, ",".join(focus)
    if weekday is not None:
        plan.weekday = weekday
    if local_time is not None:
        plan.local_time = local_time
    plan.stopped = False
    plan.unreachable_reason = None
    reschedule(plan, now)
    session.flush()
    return plan


def require_plan(session: Session, person: Person) -> Plan:
    plan = get_plan(session, person)
    if plan is None:
        raise NotFound("You have no growth plan yet. Start one with `/growth setup` or `/growth level <level>`.")
    return plan


def update_plan(
    session: Session,
    content: Content,
    person: Person,
    now: datetime | None = None,
    *,
    level: str | None = None,
    target: str | None = None,
    focus: list[str] | None = None,
    weekday: int | None = None,
    local_time: str | None = None,
) -> Plan:
    """Change the parts of a plan that are given (None leaves a part as it is), creating one if needed."""
    now = now or utcnow()
    plan = get_plan(session, person)
    if plan is None:
        return save_plan(
            session,
            content,
            person,
            level=level or content.levels[0].id,
            target=target,
            focus=focus or [content.growth_areas[0].id],
            weekday=weekday,
            local_time=local_time,
            now=now,
        )
    new_level = level or plan.level
    new_target = target or plan.target
    if level is not None and target is None:
        order = [lv.id for lv in content.levels]
        if order.index(new_target) <= order.index(new_level):
            new_target = default_target(content, new_level)
    new_focus = focus if focus is not None else plan.focus_areas
    check_plan_values(content, new_level, new_target, new_focus)
    plan.level, plan.target, plan.focus = new_level, new_target, ",".join(new_focus)
    plan.weekday = weekday if weekday is not None else plan.weekday
    plan.local_time = local_time or plan.local_time
    reschedule(plan, now)
    return plan


def pause(session: Session, person: Person, weeks: int, now: datetime | None = None) -> Plan:
    now = now or utcnow()
    plan = require_plan(session, person)
    plan.paused_until = now + timedelta(weeks=weeks)
    reschedule(plan, now)
    return plan


def resume(session: Session, person: Person, now: datetime | None = None) -> Plan:
    now = now or utcnow()
    plan = require_plan(session, person)
    plan.paused_until = None
    plan.stopped = False
    plan.unreachable_reason = None
    reschedule(plan, now)
    return plan


def stop(session: Session, person: Person, now: datetime | None = None) -> Plan:
    plan = require_plan(session, person)
    plan.stopped = True
    reschedule(plan, now or utcnow())
    return plan


def set_timezone(session: Session, person: Person, tz: str, now: datetime | None = None) -> None:
    """A changed Slack time zone moves the next nudge (and team digest) to the same local time in the new zone."""
    if not tz or person.tz == tz:
        return
    person.tz = tz
    plan = get_plan(session, person)
    if plan is not None and plan.tz != tz:
        plan.tz = tz
        reschedule(plan, now or utcnow())
    digest = session.execute(select(DigestPlan).where(DigestPlan.person_id == person.id)).scalar_one_or_none()
    if digest is not None and digest.tz != tz:  # the team digest follows the same zone
        digest.tz = tz
        digest.updated_at = now or utcnow()
        if digest.enabled:
            digest.next_due_at = next_occurrence(digest.weekday, digest.local_time, tz, now or utcnow())


def deliveries_of(session: Session, person: Person, limit: int = 200) -> list[Delivery]:
    return list(
        session.execute(
            select(Delivery).where(Delivery.person_id == person.id).order_by(Delivery.due_at.desc()).limit(limit)
        ).scalars()
    )


def reflections_of(session: Session, person: Person, limit: int = 5) -> list[Reflection]:
    return list(
        session.execute(
            select(Reflection)
            .where(Reflection.person_id == person.id)
            .order_by(Reflection.created_at.desc(), Reflection.id.desc())
            .limit(limit)
        ).scalars()
    )


def streak(deliveries: list[Delivery], reflected: set[int], now: datetime) -> int:
    """Consecutive weekly nudges answered (done or reflected), newest first. The newest nudge, still open
    this week, and weeks that were skipped on purpose or missed while the bot was down do not break it."""
    count = 0
    weekly = [d for d in deliveries if not d.week_key.startswith("now-") and d.status in ("sent", "missed")]
    for index, delivery in enumerate(weekly):
        answered = delivery.answer in ANSWERED or delivery.id in reflected
        if answered:
            count += 1
        elif delivery.status == "missed" or delivery.answer == "skipped":
            continue
        elif index == 0 and now - delivery.due_at < timedelta(days=7):
            continue
        else:
            break
    return count


def reflected_delivery_ids(session: Session, person: Person) -> set[int]:
    rows = session.execute(
        select(Reflection.delivery_id).where(Reflection.person_id == person.id, Reflection.delivery_id.is_not(None))
    )
    return {r for (r,) in rows if r is not None}


def has_reflection(session: Session, delivery_id: int) -> bool:
    return (
        session.execute(select(Reflection.id).where(Reflection.delivery_id == delivery_id).limit(1)).first() is not None
    )


def add_reflection(session: Session, person: Person, delivery_id: int | None, text: str, shared: bool) -> Reflection:
    if delivery_id is not None:
        own_delivery(session, person, delivery_id)
    reflection = Reflection(
        person_id=person.id, delivery_id=delivery_id, text=text.strip()[:3000], shared=shared, created_at=utcnow()
    )
    session.add(reflection)
    session.flush()
    return reflection


def answer_delivery(
    session: Session, person: Person, delivery_id: int, answer: str, now: datetime | None = None
) -> Delivery:
    """Record Done / Skip / Remind me tomorrow on a person's own nudge."""
    now = now or utcnow()
    delivery = own_delivery(session, person, delivery_id)
    delivery.answer = answer
    delivery.answered_at = now
    if answer == "snoozed":
        delivery.remind_at = now + timedelta(days=1)
        delivery.reminded_at = None
    else:
        delivery.remind_at = None
    return delivery
