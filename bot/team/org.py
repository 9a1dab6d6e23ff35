"""/growth org: workspace aggregates for admins, counts only, with small groups folded so nobody can be
singled out."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.blocks.team import OrgSummary
from bot.storage.models import Delivery as D
from bot.storage.models import Follow, Person, Plan, Reflection, Workspace, split_focus, utcnow
from bot.team.summary import TREND_WEEKS

MIN_GROUP = 5  # smaller groups are folded into "other"


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
