"""Followers and their teams: consent, the team summary, the org aggregates and digest settings.

The one rule: a follower sees a person's data only through a follow that person accepted, in the same
workspace. Every read here starts from the asker's own Person row and joins through `follows` with
status "accepted"; nothing takes a report's id from the request and reads their data directly.
Functions take a session and never commit; the caller owns the unit of work.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.blocks.team import Gap, OrgSummary, ReportSummary, SharedReflection, TeamSummary
from bot.content.records import Content
from bot.growth import plans as growth
from bot.schedule import next_occurrence
from bot.storage import people as repo
from bot.storage.models import Delivery as D
from bot.storage.models import DigestPlan, Follow, Person, Plan, Reflection, Workspace, split_focus, utcnow

TREND_WEEKS = 12
HISTORY = timedelta(weeks=104)  # how far back a streak is counted
REINVITE_AFTER = timedelta(days=7)  # a declined invitation can be asked again after this
MIN_GROUP = 5  # org aggregates: smaller groups are folded into "other"
SHARED_SHOWN = 5
DEFAULT_DIGEST_WEEKDAY = 0
DEFAULT_DIGEST_TIME = "09:00"


# --- consent ----------------------------------------------------------------------------------------


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


def _own_follow_as_report(session: Session, team_id: str, user_id: str, follow_id: int) -> Follow:
    """The follow, only if `user_id` of `team_id` is the person it asks about."""
    person = repo.get_person(session, team_id, user_id)
    follow = session.get(Follow, follow_id)
    if person is None or follow is None or follow.report_id != person.id or follow.workspace_id != person.workspace_id:
        raise growth.GrowthError("That invitation is not for you.")
    return follow


def answer_invite(
    session: Session, team_id: str, user_id: str, follow_id: int, accept: bool, now: datetime | None = None
) -> FollowView:
    follow = _own_follow_as_report(session, team_id, user_id, follow_id)
    if follow.status != "pending":
        raise growth.GrowthError(
            "You already answered that invitation."
            if follow.status in ("accepted", "declined")
            else "That invitation was withdrawn or has ended."
        )
    follow.status = "accepted" if accept else "declined"
    follow.answered_at = now or utcnow()
    session.flush()
    return _view(session, follow)


def leave(session: Session, team_id: str, user_id: str, follow_id: int, now: datetime | None = None) -> FollowView:
    """The report stops sharing with one follower (or turns down a pending invitation)."""
    follow = _own_follow_as_report(session, team_id, user_id, follow_id)
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


# --- the team summary -------------------------------------------------------------------------------


def _week_index(now: datetime, due_at: datetime) -> int:
    """0 for the oldest of the TREND_WEEKS weeks ending now, TREND_WEEKS-1 for the latest; -1 outside."""
    back = int((now - due_at) // timedelta(weeks=1))
    return TREND_WEEKS - 1 - back if 0 <= back < TREND_WEEKS else -1


def team_summary(
    session: Session,
    content: Content,
    team_id: str,
    follower_user_id: str,
    now: datetime | None = None,
    only: str | None = None,
) -> TeamSummary:
    """What a follower may see: accepted reports in full (no reflections unless shared), pending
    invitations by name only. A fixed number of queries, whatever the team's size."""
    now = now or utcnow()
    report = aliased(Person)
    rows = session.execute(
        select(Follow.status, report.id, report.user_id, Plan)
        .select_from(Follow)
        .join(Workspace, Workspace.id == Follow.workspace_id)
        .join(Person, and_(Person.id == Follow.follower_id, Person.workspace_id == Workspace.id))
        .join(report, and_(report.id == Follow.report_id, report.workspace_id == Workspace.id))
        .outerjoin(Plan, Plan.person_id == report.id)
        .where(
            Workspace.team_id == team_id,
            Person.user_id == follower_user_id,
            Follow.status.in_(("accepted", "pending")),
            *([report.user_id == only] if only else []),
        )
        .order_by(report.user_id)
    ).all()
    accepted = [(pid, uid, plan) for status, pid, uid, plan in rows if status == "accepted"]
    pending = tuple(uid for status, _, uid, _ in rows if status == "pending")
    ids = [pid for pid, _, _ in accepted]
    by_person: dict[int, list] = {pid: [] for pid in ids}
    reflected: dict[int, datetime] = {}
    shared: list[SharedReflection] = []
    if ids:
        for row in session.execute(
            select(D.id, D.person_id, D.week_key, D.status, D.answer, D.answered_at, D.due_at, D.prompt_id)
            .where(D.person_id.in_(ids), D.due_at >= now - HISTORY, D.status.in_(("sent", "missed")))
            .order_by(D.person_id, D.due_at.desc())
        ):
            by_person[row.person_id].append(row)
        for delivery_id, created_at in session.execute(
            select(Reflection.delivery_id, Reflection.created_at).where(Reflection.person_id.in_(ids))
        ):
            key = delivery_id if delivery_id is not None else -1
            reflected[key] = max(reflected.get(key, created_at), created_at)
        user_of = {pid: uid for pid, uid, _ in accepted}
        shared = [
            SharedReflection(user_of[pid], text, created_at)
            for pid, text, created_at in session.execute(
                select(Reflection.person_id, Reflection.text, Reflection.created_at)
                .where(Reflection.person_id.in_(ids), Reflection.shared.is_(True))
                .order_by(Reflection.created_at.desc(), Reflection.id.desc())
                .limit(SHARED_SHOWN)
            )
        ]
        last_reflection = dict(
            session.execute(
                select(Reflection.person_id, func.max(Reflection.created_at))
                .where(Reflection.person_id.in_(ids))
                .group_by(Reflection.person_id)
            ).all()
        )
    else:
        last_reflection = {}

    reports: list[ReportSummary] = []
    trend = [[0, 0] for _ in range(TREND_WEEKS)]
    for pid, uid, plan in accepted:
        history = by_person[pid]
        weekly = [0] * TREND_WEEKS
        counts = {4: [0, 0], 12: [0, 0]}
        checkins = [r.answered_at for r in history if r.answered_at] + (
            [last_reflection[pid]] if pid in last_reflection else []
        )
        done_ids = set()
        for r in history:
            if r.status != "sent" or r.week_key.startswith("now-"):
                continue
            answered = r.answer == "done" or r.id in reflected
            if answered:
                done_ids.add(r.id)
            index = _week_index(now, r.due_at)
            if index >= 0:
                weekly[index] = max(weekly[index], 2 if answered else 1)
                trend[index][1] += 1
                trend[index][0] += int(answered)
            for weeks, pair in counts.items():
                if now - r.due_at < timedelta(weeks=weeks):
                    pair[1] += 1
                    pair[0] += int(answered)
        reports.append(
            ReportSummary(
                user_id=uid,
                level=plan.level if plan else "",
                target=plan.target if plan else "",
                focus=tuple(plan.focus_areas) if plan else (),
                state=growth.plan_state(plan, now) if plan else "no_plan",
                answered_4=counts[4][0],
                sent_4=counts[4][1],
                answered_12=counts[12][0],
                sent_12=counts[12][1],
                last_checkin=max(checkins) if checkins else None,
                streak=growth.streak(history, set(reflected), now),
                weekly=tuple(weekly),
            )
        )
    planned = [r for r in reports if r.level]
    order = {lv.id: i for i, lv in enumerate(content.levels)}
    toward = Counter(r.target for r in planned)
    focus = Counter(a for r in planned for a in r.focus)
    return TeamSummary(
        follower=follower_user_id,
        reports=tuple(reports),
        pending=pending,
        toward=tuple(sorted(toward.items(), key=lambda kv: order.get(kv[0], 99))),
        focus=tuple(sorted(focus.items(), key=lambda kv: (-kv[1], kv[0]))),
        trend=tuple((a, s) for a, s in trend),
        gap=biggest_gap(content, accepted, by_person, reflected),
        shared=tuple(shared),
        week_starts=tuple(now - timedelta(weeks=TREND_WEEKS - i) for i in range(TREND_WEEKS)),
    )


def biggest_gap(content: Content, accepted: list, by_person: dict[int, list], reflected: dict) -> Gap | None:
    """The growth area that the most reports working toward the same level have not focused on yet: not
    in their focus now and no prompt of that area done or reflected on. Only areas the ladder describes
    at that target level count. Ties go to the level with more reports, then to the ladder's order."""
    best: Gap | None = None
    toward: dict[str, list[tuple[int, Plan]]] = {}
    for pid, _, plan in accepted:
        if plan is not None:
            toward.setdefault(plan.target, []).append((pid, plan))
    worked = {pid: _areas_worked(content, by_person.get(pid, []), reflected) for pid, _, _ in accepted}
    for target, members in toward.items():
        for area in content.growth_areas:
            if not area.at(target):
                continue
            missing = sum(1 for pid, plan in members if area.id not in plan.focus_areas and area.id not in worked[pid])
            if missing and (best is None or (missing, len(members)) > (best.missing, best.toward)):
                best = Gap(area.id, target, missing, len(members))
    return best


def _areas_worked(content: Content, history: list, reflected: dict) -> set[str]:
    """Growth areas of the prompts a person did or reflected on."""
    areas = set()
    for row in history:
        if row.answer == "done" or row.id in reflected:
            prompt = content.prompt(row.prompt_id)
            if prompt is not None and prompt.area:
                areas.add(prompt.area)
    return areas


# --- workspace aggregates ---------------------------------------------------------------------------


def fold_small(counts: dict[str, int], minimum: int = MIN_GROUP) -> tuple[tuple[str, int], ...]:
    """Counts with every group under `minimum` folded into "other". If "other" itself ends up under the
    minimum, the next smallest groups join it, so no group can be worked out by subtraction."""
    kept = sorted(((k, v) for k, v in counts.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    other = 0
    while kept and (kept[-1][1] < minimum or 0 < other < minimum):
        other += kept.pop()[1]
    return tuple(kept) + ((("other", other),) if other else ())


def org_summary(session: Session, team_id: str, now: datetime | None = None) -> OrgSummary:
    """Counts only, for admins. Three queries, whatever the workspace's size."""
    now = now or utcnow()
    plans = session.execute(
        select(Plan.level, Plan.target, Plan.focus)
        .join(Person, Person.id == Plan.person_id)
        .join(Workspace, Workspace.id == Person.workspace_id)
        .where(Workspace.team_id == team_id)
    ).all()
    reflected = select(Reflection.delivery_id).where(Reflection.delivery_id.is_not(None))
    sent, answered = session.execute(
        select(func.count(D.id), func.count(D.id).filter(or_(D.answer == "done", D.id.in_(reflected))))
        .join(Person, Person.id == D.person_id)
        .join(Workspace, Workspace.id == Person.workspace_id)
        .where(
            Workspace.team_id == team_id,
            D.status == "sent",
            D.due_at >= now - timedelta(weeks=TREND_WEEKS),
            ~D.week_key.startswith("now-"),
        )
    ).one()
    followers = session.execute(
        select(func.count(func.distinct(Follow.follower_id)))
        .join(Workspace, Workspace.id == Follow.workspace_id)
        .where(Workspace.team_id == team_id, Follow.status == "accepted")
    ).scalar_one()
    return OrgSummary(
        people=len(plans),
        levels=fold_small(Counter(level for level, _, _ in plans)),
        targets=fold_small(Counter(target for _, target, _ in plans)),
        focus=fold_small(Counter(a for _, _, focus in plans for a in split_focus(focus))),
        answered_12=int(answered or 0),
        sent_12=int(sent or 0),
        followers=int(followers or 0),
    )


# --- the weekly digest ------------------------------------------------------------------------------


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


def relations_for_export(session: Session, person: Person) -> dict:
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
    return bool(result.rowcount)


def follow_for_report(session: Session, team_id: str, user_id: str, follow_id: int) -> FollowView | None:
    """The follow as its report sees it; None when `user_id` is not the person it asks about."""
    try:
        return _view(session, _own_follow_as_report(session, team_id, user_id, follow_id))
    except growth.GrowthError:
        return None


def home_counts(session: Session, person: Person) -> tuple[int, int]:
    """(people following me, accepted people I follow) for the App Home."""
    followers = session.execute(
        select(func.count(Follow.id)).where(Follow.report_id == person.id, Follow.status == "accepted")
    ).scalar_one()
    following = session.execute(
        select(func.count(Follow.id)).where(Follow.follower_id == person.id, Follow.status == "accepted")
    ).scalar_one()
    return int(followers), int(following)
