"""Sorting an organisation's people after workspaces were taken out of its org-wide install.

`team_access_revoked` (bot.install `Installs.teams_revoked`) records, in the event's own transaction, each
workspace's removal and an `OrgSort` for the organisation. The organisation's people are kept under the
organisation (one person across its workspaces), so each must be looked up: whoever Slack lists only in
workspaces taken out (users.info's enterprise_user.teams, asked with the organisation's token) moves to the
row of the first of those, where the clock sends nothing (its removal) and the grace period runs. People
still in another workspace of the organisation stay as they are.

Every clock pass sorts first, before it sends, for up to SORT_SECONDS at the organisation's users.info pace
(the process's Pacer, Tier 4: about 100 a minute); a crash, a 429 or a pause only leaves the rest for the
next pass. Each person is settled in one transaction that moves them if need be and advances the sort's
cursor, so a person is looked up once and two clocks sorting at once change nothing twice (at worst both
ask Slack about the same person).

The rule for what the clock sends meanwhile: a person the sort has not reached is held
(bot.storage.people.unsorted_people: their rows are not claimed and use no attempt), since a post to someone
out of reach would fail and could mark them unreachable. Everyone else of the organisation is sent as usual,
and an organisation of up to about a pass's worth of people (SORT_SECONDS at Tier 4: some 100) is sorted
before the first pass after the event sends anything; in a larger one the hold lasts the few passes it takes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock.outbox import TOKEN_ERRORS, is_postgres
from bot.clock.pacing import MAX_HOLD, SlackSenders, retry_after
from bot.storage.models import OrgSort, Person, Workspace, WorkspaceRemoval
from bot.storage.people import ensure_workspace

logger = logging.getLogger(__name__)

# The longest a pass sorts before it sends: as long as it may wait on any one workspace (pacing.MAX_HOLD)
SORT_SECONDS = MAX_HOLD
# The longest one users.info waits its turn (or a 429's Retry-After): beyond it, the rest wait for a later pass
SORT_WAIT = 10.0
# users.info's answers for someone the organisation's token cannot see any more: nowhere left to serve them
# (account_inactive is not one: for users.info it says our token's user or workspace is gone)
OUT_OF_REACH = frozenset({"user_not_found", "team_access_not_granted"})


class NotNow(Exception):
    """Slack cannot tell us now (a 429 beyond the pass's wait, a 5xx, no connection, a dead token): the person
    stays unsorted, for the next pass."""


@dataclass
class Sorted:
    """One organisation's sorting in one pass."""

    enterprise_id: str
    checked: int = 0
    moved: int = 0
    finished: bool = False


def teams_of(client: WebClient, user_id: str) -> list[str] | None:
    """The workspaces of the organisation Slack lists `user_id` in; [] when the organisation's token cannot see
    them any more; None when Slack's answer says nothing either way (the person is then kept). Raises NotNow
    when Slack did not answer for the person."""
    try:
        answer = client.users_info(user=user_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if retry_after(exc) is not None or exc.response.status_code >= 500 or error in TOKEN_ERRORS:
            raise NotNow(error) from exc
        return [] if error in OUT_OF_REACH else None
    except (SlackClientError, OSError) as exc:  # Paced (nothing sent), a timeout, a dropped connection
        raise NotNow(type(exc).__name__) from exc
    teams = ((answer.get("user") or {}).get("enterprise_user") or {}).get("teams")
    return [str(t) for t in teams] if teams else None


def parking(teams: list[str] | None, revoked: list[str]) -> str | None:
    """Where a person goes, given the workspaces Slack lists them in and those taken out (oldest first): the
    first of their workspaces when all are taken out; the first taken out when Slack no longer shows them;
    None (they stay) when one of theirs is still in the install, or Slack said nothing clear."""
    if teams is None or not revoked:
        return None
    if not teams:
        return revoked[0]
    return teams[0] if set(teams) <= set(revoked) else None


class PeopleSorter:
    """The clock's sorting step: every unfinished `OrgSort`, a person at a time, at Slack's pace."""

    def __init__(self, session_factory: sessionmaker[Session], senders: SlackSenders, *, seconds: float = SORT_SECONDS):
        self.session_factory = session_factory
        self.senders = senders
        self.seconds = seconds
        self._postgres = is_postgres(session_factory)

    def run(self, now: datetime) -> list[Sorted]:
        """Sort what is left of every unfinished sort, oldest first, for up to `seconds` in all."""
        with self.session_factory() as session:
            pending = list(
                session.execute(
                    select(OrgSort.enterprise_id).where(OrgSort.sorted_at.is_(None)).order_by(OrgSort.requested_at)
                ).scalars()
            )
        deadline = time.monotonic() + self.seconds
        results = [self.sort(enterprise_id, now, deadline) for enterprise_id in pending]
        for result in results:
            logger.info(
                "team_access_revoked: %s: %d people checked, %d moved out of reach; %s",
                result.enterprise_id,
                result.checked,
                result.moved,
                "sorted" if result.finished else "the rest on a later pass",
            )
        return results

    def sort(self, enterprise_id: str, now: datetime, deadline: float) -> Sorted:
        """Check the organisation's people one by one until none is left (the sort is then finished), the
        deadline passes or Slack cannot answer (the rest wait for a later pass)."""
        result = Sorted(enterprise_id)
        client = self.senders.waiting(enterprise_id, max_wait=SORT_WAIT)
        if not client.token:
            # the organisation's own install is gone: everyone waits out its removal, nothing left to sort
            if self._organisation_removed(enterprise_id):
                result.finished = self._finish(enterprise_id, None, now)
            return result
        while True:
            with self.session_factory() as session:
                sort = session.get(OrgSort, enterprise_id)
                if sort is None or sort.sorted_at is not None:
                    result.finished = True
                    return result
                generation, after = sort.generation, sort.after_person_id
                following = session.execute(
                    select(Person.id, Person.user_id)
                    .join(Workspace, Workspace.id == Person.workspace_id)
                    .where(Workspace.team_id == enterprise_id, Person.id > after)
                    .order_by(Person.id)
                    .limit(1)
                ).first()
            if following is None:
                result.finished = self._finish(enterprise_id, generation, now)
                if not result.finished:
                    continue  # another workspace was taken out meanwhile: from the first person again
                return result
            if time.monotonic() > deadline:
                return result
            person_id, user_id = following
            try:
                teams = teams_of(client, user_id)
            except NotNow as exc:
                logger.info("team_access_revoked: %s: users.info %s (%s); on a later pass", enterprise_id, user_id, exc)
                return result
            settled = self._settle(enterprise_id, generation, person_id, user_id, teams)
            if settled is not None:
                result.checked += 1
                result.moved += settled

    def _settle(
        self, enterprise_id: str, generation: int, person_id: int, user_id: str, teams: list[str] | None
    ) -> bool | None:
        """One transaction: move the person if Slack lists them only in workspaces taken out (as recorded
        now: a workspace given back meanwhile is not one), and mark them checked. None when the sort moved on
        without this look (another clock checked them, or a newer removal restarted the sort)."""
        with self.session_factory.begin() as session:
            # The cursor first, as one compare-and-set: it takes the sort's row lock (PostgreSQL) or the writer
            # lock (SQLite, whose reads before a transaction's first write run outside it), so a newer removal
            # or a team_access_granted waits for this settle rather than have its sort or removal overwritten
            checked = session.execute(
                update(OrgSort)
                .where(
                    OrgSort.enterprise_id == enterprise_id,
                    OrgSort.sorted_at.is_(None),
                    OrgSort.generation == generation,
                    OrgSort.after_person_id < person_id,
                )
                .values(after_person_id=person_id)
            )
            assert isinstance(checked, CursorResult)  # an UPDATE's result: it carries the row count
            if checked.rowcount != 1:
                return None
            # locked too, so a team_access_granted ending one of these waits for this move, then moves them back
            revoked = list(
                session.execute(
                    self._locked(
                        select(WorkspaceRemoval.install_key)
                        .where(WorkspaceRemoval.enterprise_id == enterprise_id)
                        .order_by(WorkspaceRemoval.removed_at, WorkspaceRemoval.install_key)
                    )
                ).scalars()
            )
            park = parking(teams, revoked)
            return park is not None and _move(session, enterprise_id, person_id, user_id, park)

    def _finish(self, enterprise_id: str, generation: int | None, now: datetime) -> bool:
        """Mark the sort done, unless a newer removal restarted it (`generation` is not the sort's any more)."""
        with self.session_factory.begin() as session:
            done = update(OrgSort).where(OrgSort.enterprise_id == enterprise_id, OrgSort.sorted_at.is_(None))
            if generation is not None:
                done = done.where(OrgSort.generation == generation)
            session.execute(done.values(sorted_at=now))
            sort = session.get(OrgSort, enterprise_id)
            return sort is None or sort.sorted_at is not None

    def _organisation_removed(self, enterprise_id: str) -> bool:
        with self.session_factory() as session:
            return session.get(WorkspaceRemoval, enterprise_id) is not None

    def _locked(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update() if self._postgres else query


def _move(session: Session, enterprise_id: str, person_id: int, user_id: str, team_id: str) -> bool:
    """Move the person from the organisation's row to `team_id`'s, if still under the organisation's and
    nobody of that id is there already."""
    workspace_id = ensure_workspace(session, team_id)
    clash = session.execute(select(Person.id).where(Person.workspace_id == workspace_id, Person.user_id == user_id))
    if clash.first() is not None:
        logger.warning("team_access_revoked: %s already has a row under %s; left in place", user_id, team_id)
        return False
    org = select(Workspace.id).where(Workspace.team_id == enterprise_id).scalar_subquery()
    moved = session.execute(
        update(Person).where(Person.id == person_id, Person.workspace_id == org).values(workspace_id=workspace_id)
    )
    return bool(getattr(moved, "rowcount", 0))
