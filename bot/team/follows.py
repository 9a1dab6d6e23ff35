"""Follows and consent: invitations, answers, leaving and removing, and who follows whom.

The one rule: a follower sees a person's data only through a follow that person accepted, in the same
workspace (bot.team.summary reads through it). A follow is changed only by its own report (answer,
leave) or its own follower (remove); anyone else gets NotYours or NotFound.
Functions take a session and never commit; the caller owns the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, aliased

from bot.errors import NotFound, NotYours, RefusedError
from bot.growth import plans as growth
from bot.storage import people as repo
from bot.storage.models import Follow, Person, utcnow
from bot.team.digest_plans import digest_of

REINVITE_AFTER = timedelta(days=7)  # a declined invitation can be asked again after this
NOT_YOUR_INVITATION = "That invitation is not for you."
NOT_YOURS_TO_CHANGE = "That is not yours to change."


@dataclass(frozen=True)
class InviteOutcome:
    user_id: str
    outcome: str  # asked, already_following, already_asked, declined_recently
    follow_id: int | None = None


def invite(
    session: Session, team_id: str, follower_user_id: str, report_user_ids: list[str], now: datetime | None = None
) -> list[InviteOutcome]:
    """Record a pending follow for each person (the DM goes out after this commits)."""
    now = now or utcnow()
    follower = growth.ensure_person(session, team_id, follower_user_id)
    out: list[InviteOutcome] = []
    for user_id in report_user_ids:
        report = growth.ensure_person(session, team_id, user_id)
        follow = session.execute(
            select(Follow).where(Follow.follower_id == follower.id, Follow.report_id == report.id)
        ).scalar_one_or_none()
        if follow is not None and follow.status == "accepted":
            out.append(InviteOutcome(user_id, "already_following"))
            continue
        if follow is not None and follow.status == "pending":
            out.append(InviteOutcome(user_id, "already_asked"))
            continue
        if follow is not None and follow.status == "declined" and now - (follow.answered_at or now) < REINVITE_AFTER:
            out.append(InviteOutcome(user_id, "declined_recently"))
            continue
        if follow is None:
            follow = Follow(workspace_id=follower.workspace_id, follower_id=follower.id, report_id=report.id)
            session.add(follow)
        follow.status, follow.invited_at, follow.answered_at = "pending", now, None
        follow.invite_channel_id = follow.invite_ts = None
        session.flush()
        out.append(InviteOutcome(user_id, "asked", follow.id))
    return out


def record_invite_message(session: Session, follow_id: int, channel: str, ts: str) -> None:
    follow = session.get(Follow, follow_id)
    if follow is not None:
        follow.invite_channel_id, follow.invite_ts = channel, ts


@dataclass(frozen=True)
class FollowView:
    follow_id: int
    follower: str  # user ids
    report: str
    status: str
    channel: str | None
    ts: str | None


def _view(session: Session, follow: Follow) -> FollowView:
    users = dict(
        session.execute(
            select(Person.id, Person.user_id).where(Person.id.in_([follow.follower_id, follow.report_id]))
        ).all()
    )
    return FollowView(
        follow.id,
        users[follow.follower_id],
        users[follow.report_id],
        follow.status,
        follow.invite_channel_id,
        follow.invite_ts,
    )


def _own_follow_as_report(
    session: Session, team_id: str, user_id: str, follow_id: int, refusal: str = NOT_YOUR_INVITATION
) -> Follow:
    """The follow, only if `user_id` of `team_id` is the person it asks about; `refusal` for anyone else."""
    follow = session.get(Follow, follow_id)
    if follow is None:
        raise NotFound(refusal)
    person = repo.get_person(session, team_id, user_id)
    if person is None or follow.report_id != person.id or follow.workspace_id != person.workspace_id:
        raise NotYours(refusal)
    return follow


def answer_invite(
    session: Session, team_id: str, user_id: str, follow_id: int, accept: bool, now: datetime | None = None
) -> FollowView:
    """Accept or decline one's own pending invitation; NotYours or NotFound for anyone else's, and a
    refusal once it was answered or withdrawn."""
    follow = _own_follow_as_report(session, team_id, user_id, follow_id)
    if follow.status in ("accepted", "declined"):
        raise RefusedError("You already answered that invitation.")
    if follow.status != "pending":
        raise NotFound("That invitation was withdrawn or has ended.")
    follow.status = "accepted" if accept else "declined"
    follow.answered_at = now or utcnow()
    session.flush()
    return _view(session, follow)


def leave(session: Session, team_id: str, user_id: str, follow_id: int, now: datetime | None = None) -> FollowView:
    """The report stops sharing with one follower (or turns down a pending invitation); NotYours or
    NotFound for anyone else's follow."""
    follow = _own_follow_as_report(session, team_id, user_id, follow_id, NOT_YOURS_TO_CHANGE)
    if follow.status in ("accepted", "pending"):
        follow.status = "left" if follow.status == "accepted" else "declined"
        follow.answered_at = now or utcnow()
    session.flush()
    return _view(session, follow)


def remove(session: Session, team_id: str, follower_user_id: str, report_user_ids: list[str]) -> list[str]:
    """The follower stops following; returns the user ids that were followed or asked."""
    follower = repo.get_person(session, team_id, follower_user_id)
    if follower is None:
        return []
    report = aliased(Person)
    rows = session.execute(
        select(Follow, report.user_id)
        .join(report, report.id == Follow.report_id)
        .where(
            Follow.follower_id == follower.id,
            report.user_id.in_(report_user_ids),
            Follow.status.in_(("accepted", "pending")),
        )
    ).all()
    for follow, _ in rows:
        follow.status = "removed"
        follow.answered_at = utcnow()
    return [user_id for _, user_id in rows]


def followers_of(session: Session, team_id: str, user_id: str) -> list[FollowView]:
    """Who follows me or asked to (for /growth managers)."""
    person = repo.get_person(session, team_id, user_id)
    if person is None:
        return []
    follower = aliased(Person)
    rows = session.execute(
        select(Follow, follower.user_id)
        .join(follower, follower.id == Follow.follower_id)
        .where(Follow.report_id == person.id, Follow.status.in_(("accepted", "pending")))
        .order_by(Follow.invited_at)
    ).all()
    return [FollowView(f.id, uid, user_id, f.status, f.invite_channel_id, f.invite_ts) for f, uid in rows]


def relations_for_export(session: Session, person: Person) -> dict[str, Any]:
    """A person's own side of their follows: who they follow or asked, and who follows them. Never any
    data of the other person."""
    other = aliased(Person)
    following = session.execute(
        select(other.user_id, Follow.status, Follow.invited_at)
        .join(other, other.id == Follow.report_id)
        .where(Follow.follower_id == person.id)
    ).all()
    followers = session.execute(
        select(other.user_id, Follow.status, Follow.invited_at)
        .join(other, other.id == Follow.follower_id)
        .where(Follow.report_id == person.id)
    ).all()
    digest = digest_of(session, person)
    return {
        "following": [{"user_id": u, "status": s, "invited_at": t.isoformat()} for u, s, t in following],
        "followers": [{"user_id": u, "status": s, "invited_at": t.isoformat()} for u, s, t in followers],
        "team_digest": None
        if digest is None
        else {
            "enabled": digest.enabled,
            "weekday": digest.weekday,
            "local_time": digest.local_time,
            "time_zone": digest.tz,
        },
    }


def withdraw_unsent(session: Session, follow_id: int) -> None:
    """The invitation DM could not be sent: nobody was asked, so nothing stays pending."""
    follow = session.get(Follow, follow_id)
    if follow is not None and follow.status == "pending":
        follow.status = "removed"


def claim_follower_notice(session: Session, follow_id: int, now: datetime | None = None) -> bool:
    """True for the one caller that should tell the follower about an acceptance."""
    result = session.execute(
        update(Follow)
        .where(Follow.id == follow_id, Follow.status == "accepted", Follow.follower_told_at.is_(None))
        .values(follower_told_at=now or utcnow())
    )
    assert isinstance(result, CursorResult)  # an UPDATE's result: it carries the row count
    return bool(result.rowcount)


def follow_for_report(
    session: Session, team_id: str, user_id: str, follow_id: int, refusal: str = NOT_YOUR_INVITATION
) -> FollowView:
    """The follow as its report sees it; NotYours (or NotFound) with `refusal` for anyone else."""
    return _view(session, _own_follow_as_report(session, team_id, user_id, follow_id, refusal))


def home_counts(session: Session, person: Person) -> tuple[int, int]:
    """(people following me, accepted people I follow) for the App Home."""
    followers = session.execute(
        select(func.count(Follow.id)).where(Follow.report_id == person.id, Follow.status == "accepted")
    ).scalar_one()
    following = session.execute(
        select(func.count(Follow.id)).where(Follow.follower_id == person.id, Follow.status == "accepted")
    ).scalar_one()
    return int(followers), int(following)
