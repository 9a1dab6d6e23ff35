"""Queries for workspaces and people. Functions take a Session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, CursorResult, Select, select, update
from sqlalchemy.orm import Session, aliased

from bot.storage.models import OrgSort, Person, Workspace, WorkspaceRemoval, utcnow
from bot.storage.upsert import insert_ignoring_conflict


def still_installed() -> ColumnElement[bool]:
    """Workspaces the clock sends for: every one but those that left (several workspaces over OAuth: an
    `app_uninstalled` or `tokens_revoked` removed the installation, and the data waits out its grace period,
    bot.install). Their rows are not claimed, so none fails and nobody is paused for want of a token; a
    reinstall within the grace period ends the removal, and the next pass sends what is still due (a row more
    than LATE_LIMIT late is recorded missed, as after any stop). With one static token nothing is ever removed.

    Keyed by the removal rather than by "has an installation row", so the clock needs no word of the mode: a
    workspace is stored under its installation's key (bot.install.install_key), which is the removal's too."""
    return ~select(WorkspaceRemoval.install_key).where(WorkspaceRemoval.install_key == Workspace.team_id).exists()


def unsorted_people(*, whole_organisation: bool = False) -> ColumnElement[bool]:
    """People of an organisation whose sort (after `team_access_revoked`, bot.clock.sorting) has not reached
    them yet: Slack has not said whether they are still in a workspace the org-wide install serves. The clock
    holds their sends (unclaimed, no attempt used) until the sort, first in each pass, has looked them up: a
    post to someone out of reach would fail and could mark them unreachable. Sorting goes at Slack's Tier 4
    pace, so the hold lasts minutes, for the people not yet checked only. With `whole_organisation`, everyone
    of an organisation whose sort is unfinished: a digest speaks of reports the sort may yet take out.

    Correlated on `people` alone, the organisation's workspace row joined inside: auto-correlation reaches
    only the next query out, so a bare `workspaces` two levels down (claimable_workspaces) would be a second,
    unrelated table, and any organisation's sort would hold every workspace's people."""
    organisation = aliased(Workspace, name="sorting_workspaces")
    reached = [] if whole_organisation else [Person.id > OrgSort.after_person_id]
    return (
        select(OrgSort.enterprise_id)
        .join(organisation, organisation.team_id == OrgSort.enterprise_id)
        .where(organisation.id == Person.workspace_id, OrgSort.sorted_at.is_(None), *reached)
        .correlate(Person)
        .exists()
    )


def installed_people() -> Select[int]:
    """Ids of the people of every workspace `still_installed`: what the clock owes, the backlog the metrics
    and `ladderbot doctor` count (a workspace in its grace period owes nothing yet; people held for their
    organisation's sort do count, so a sort that never ends shows as lag)."""
    return select(Person.id).join(Workspace, Workspace.id == Person.workspace_id).where(still_installed())


def sendable_people(*, whole_organisation: bool = False) -> Select[int]:
    """Ids of the people the clock sends for now: `installed_people` but those held for their organisation's
    sort (`unsorted_people`, with `whole_organisation` for digests)."""
    return installed_people().where(~unsorted_people(whole_organisation=whole_organisation))


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
    """The person; `lock` takes their row first, so writers that touch a person and their plans always lock
    in the same order (no deadlock between /growth forget and a background update). On PostgreSQL it is FOR NO
    KEY UPDATE, which the foreign-key checks of other inserts (FOR KEY SHARE) pass: the clock locks a plan, then
    inserts its delivery, whose check on the person must not wait for a writer that holds the person and waits
    for that plan (FOR UPDATE made the two a deadlock)."""
    query = select(Person).join(Workspace).where(Workspace.team_id == team_id, Person.user_id == user_id)
    if lock:
        query = query.with_for_update(of=Person, key_share=True)
    return session.execute(query).scalar_one_or_none()
