"""An org admin takes one workspace out of an Enterprise Grid org-wide install (`team_access_revoked`), through the
real server, signed events and the fake Slack, on SQLite and PostgreSQL: the organisation's installation stays and
its other workspace is served as before; whoever Slack lists only in the workspace taken out gets nothing more from
the clock and their data goes after the grace period; someone in both workspaces keeps theirs; requests from the
workspace taken out get Bolt's reinstall message, never a 500; `team_access_granted` within the grace period brings
everyone back. Every check of what is visible is made from the side that must see nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.services import build_clock
from bot.storage.models import (
    Delivery,
    DigestDelivery,
    Follow,
    Installation,
    OrgSort,
    Person,
    Plan,
    Workspace,
    WorkspaceRemoval,
)
from bot.team import digest_plans
from bot.team import follows as team
from bot.testing.fakeslack import FakeSlack
from bot.web.metrics import read_backlog
from tests.clockworld import MONDAY_10_UTC, World
from tests.install_world import install, oauth_env, oauth_settings
from tests.server import ROOT, server_env
from tests.slack_requests import slash_command_body
from tests.waiting import stays, wait_until

ORG, GONE, STAYS = "E0ORG", "T0W1", "T0W2"  # the organisation, the workspace taken out, the one that stays
ONLY_GONE, BOTH, ONLY_STAYS, MANAGER = "W0GONE", "W0BOTH", "W0STAYS", "W0MANAGER"
TEAMS = {ONLY_GONE: (GONE,), BOTH: (GONE, STAYS), ONLY_STAYS: (STAYS,), MANAGER: (STAYS,)}
DIGEST_AT = MONDAY_10_UTC - timedelta(hours=1)
QUIET = MONDAY_10_UTC - timedelta(days=3)  # a pass with nothing due
SLOW_LOOK = 1.0  # seconds the fake Slack takes over each users.info in the SIGKILL test
NEXT_WEEK = timedelta(days=7)


@pytest.fixture
def org(running, world, oauth, fake_slack: FakeSlack):
    """The app installed org-wide in Big Org, whose people are in two of its workspaces: W0GONE only in the one
    to be taken out, W0BOTH in both, W0STAYS and W0MANAGER only in the other. Everyone has a weekly plan; the
    manager follows W0GONE and W0STAYS (both accepted) and gets a weekly digest."""
    oauth.add_workspace(None, "Big Org", enterprise_id=ORG, enterprise_name="Big Org", org_wide=True)
    assert "installed in Big Org" in install(running, ORG).html
    add_people(fake_slack)
    for user in TEAMS:
        world.add(user, team=ORG)
    with world.sessions.begin() as session:
        for outcome in team.invite(session, ORG, MANAGER, [ONLY_GONE, ONLY_STAYS], now=DIGEST_AT - timedelta(days=7)):
            assert outcome.follow_id is not None
            team.answer_invite(session, ORG, outcome.user_id, outcome.follow_id, True)
        digest_plans.set_digest(session, ORG, MANAGER, True, now=DIGEST_AT - timedelta(days=2))
    return world


def org_event(
    event: dict[str, Any],
    *,
    event_id: str,
    team_id: str | None = None,
    org_wide: bool = True,
    enterprise_id: str = ORG,
) -> bytes:
    """An event_callback for the organisation's app, shaped as Slack documents these events (its outer team_id
    may name a workspace; org_wide=False is the example's authorizations, which say not org-wide)."""
    return json.dumps(
        {
            "token": "verification-token-unused",
            "team_id": team_id,
            "enterprise_id": enterprise_id,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1_700_000_000,
            "authorizations": [
                {
                    "enterprise_id": enterprise_id,
                    "team_id": team_id,
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": org_wide,
                }
            ],
        }
    ).encode()


def access(running, kind: str, *teams: str, event_id: str, **shape: Any) -> None:
    body = org_event(
        {"type": kind, "team_ids": list(teams), "event_ts": "1700000000.000100"}, event_id=event_id, **shape
    )
    reply = running.sender.post(body, content_type="application/json")
    assert reply.status == 200, reply.body


def command(running, fake: FakeSlack, text: str, *, team_id: str, user_id: str) -> tuple[int, str]:
    """/growth from a workspace of the organisation: (status, what the person saw: the ack, else the first post
    to the response URL)."""
    before = len(fake.responses)
    body = slash_command_body("/growth", text, team_id=team_id, user_id=user_id, response_url=fake.response_url())
    body = (
        body.replace(b"is_enterprise_install=false", b"is_enterprise_install=true") + f"&enterprise_id={ORG}".encode()
    )
    reply = running.sender.post(body)
    if reply.body.strip():
        return reply.status, reply.body.decode()
    return reply.status, json.dumps(fake.wait_for_responses(before + 1)[before], ensure_ascii=False)


def home_of(world: World, user: str) -> str | None:
    """The workspace key the person's row is kept under, looked at in a fresh session; None once deleted."""
    with world.sessions() as session:
        return session.execute(
            select(Workspace.team_id).join(Person, Person.workspace_id == Workspace.id).where(Person.user_id == user)
        ).scalar_one_or_none()


def add_people(fake: FakeSlack) -> None:
    for user, in_teams in TEAMS.items():
        fake.add_user(user, name=user.lower(), team_id=in_teams[0], enterprise_id=ORG, teams=in_teams)


def sort_of(world: World) -> tuple[int, int, datetime | None]:
    """The organisation's sort, looked at in a fresh session: (generation, last person checked, when done)."""
    with world.sessions() as session:
        sort = session.get(OrgSort, ORG)
        assert sort is not None
        return sort.generation, sort.after_person_id, sort.sorted_at


def dm_users(fake: FakeSlack) -> set[str]:
    """Who a chat.postMessage was addressed to, answered or not (a post by user id, or to their DM)."""
    return {str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake.calls_to("chat.postMessage")}


def test_a_workspace_taken_out_of_an_org_install_is_not_served_and_forgotten_after_the_grace_period(
    running, org, fake_slack, content
):
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions)
    clock.run_pass(MONDAY_10_UTC)
    assert dm_users(fake_slack) >= {ONLY_GONE, BOTH, ONLY_STAYS, MANAGER}  # everyone is served before

    access(running, "team_access_revoked", GONE, event_id="EvRevoked1", team_id=GONE)
    with org.sessions() as session:
        assert session.execute(select(Installation.install_key)).scalars().all() == [ORG]  # the install stays
        removal = session.get(WorkspaceRemoval, GONE)
        assert removal is not None and removal.reason == "team_access_revoked" and removal.enterprise_id == ORG
        assert removal.forget_after - removal.removed_at == timedelta(days=30)
    assert sort_of(org) == (1, 0, None)  # recorded with the removal, for the clock to do
    assert home_of(org, ONLY_GONE) == ORG

    # the clock sorts before it sends: nothing more for whoever is only in the workspace taken out (moved out of
    # the organisation's reach); the others, reachable through the other workspace, kept and served as before
    fake_slack.reset()
    add_people(fake_slack)
    clock.run_pass(DIGEST_AT + NEXT_WEEK)  # the manager's digest
    assert home_of(org, ONLY_GONE) == GONE
    assert {home_of(org, u) for u in (BOTH, ONLY_STAYS, MANAGER)} == {ORG}
    assert sort_of(org)[2] is not None and len(fake_slack.calls_to("users.info")) == 4
    clock.run_pass(MONDAY_10_UTC + NEXT_WEEK)  # the weekly nudges
    sent_to = dm_users(fake_slack)
    assert ONLY_GONE not in sent_to and {BOTH, ONLY_STAYS, MANAGER} <= sent_to
    digests = [c for c in fake_slack.calls_to("chat.postMessage") if "W0GONE" in json.dumps(c.params)]
    assert digests == []  # the manager's digest says nothing of the report out of reach

    # requests: from the workspace taken out, Bolt's reinstall message (no 500), whoever sends them
    for user in (ONLY_GONE, BOTH):
        status, seen = command(running, fake_slack, "", team_id=GONE, user_id=user)
        assert status == 200 and "no longer available" in seen and "growth plan" not in seen.lower(), seen
    # from the other workspace, the same person is served with their plan; the manager sees nothing of W0GONE
    status, seen = command(running, fake_slack, "", team_id=STAYS, user_id=BOTH)
    assert status == 200 and "mid" in seen.lower() and "no longer available" not in seen, seen
    status, seen = command(running, fake_slack, "team", team_id=STAYS, user_id=MANAGER)
    assert status == 200 and ONLY_STAYS in seen and ONLY_GONE not in seen, seen

    # the grace period, on the clock's chore as for an uninstall
    clock.run_pass(removal.forget_after - timedelta(minutes=1))
    assert home_of(org, ONLY_GONE) == GONE  # kept until the grace period is over
    clock.run_pass(removal.forget_after)
    assert home_of(org, ONLY_GONE) is None
    assert {home_of(org, u) for u in (BOTH, ONLY_STAYS, MANAGER)} == {ORG}
    with org.sessions() as session:
        assert session.execute(select(Workspace.team_id)).scalars().all() == [ORG]
        assert session.execute(select(WorkspaceRemoval)).all() == []
        assert session.execute(select(Installation.install_key)).scalars().all() == [ORG]
        plans = session.execute(select(Person.user_id).join(Plan, Plan.person_id == Person.id)).scalars().all()
        assert sorted(plans) == sorted([BOTH, ONLY_STAYS, MANAGER])
        follows = session.execute(select(Follow.status)).scalars().all()
        assert follows == ["accepted"]  # the manager's follow of W0STAYS; the one of W0GONE went with them
    status, seen = command(running, fake_slack, "", team_id=STAYS, user_id=BOTH)
    assert status == 200 and "mid" in seen.lower(), seen


def test_access_granted_again_within_the_grace_period_brings_everyone_back(running, org, fake_slack, content):
    access(running, "team_access_revoked", GONE, event_id="EvRevoked2", team_id=GONE)
    build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions).run_pass(QUIET)
    assert home_of(org, ONLY_GONE) == GONE

    # the shape of Slack's own example: a workspace as the outer team, authorizations not org-wide
    access(running, "team_access_granted", GONE, event_id="EvGranted2", team_id=GONE, org_wide=False)
    assert home_of(org, ONLY_GONE) == ORG
    with org.sessions() as session:
        assert session.execute(select(WorkspaceRemoval)).all() == []
        assert session.execute(select(Workspace.team_id)).scalars().all() == [ORG]  # the parking row went too

    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions)
    fake_slack.reset()
    for user in (ONLY_GONE, BOTH, ONLY_STAYS, MANAGER):
        fake_slack.add_user(user, name=user.lower(), enterprise_id=ORG, teams=(GONE, STAYS))
    clock.run_pass(MONDAY_10_UTC)
    assert ONLY_GONE in dm_users(fake_slack)
    status, seen = command(running, fake_slack, "", team_id=GONE, user_id=ONLY_GONE)
    assert status == 200 and "mid" in seen.lower() and "no longer available" not in seen, seen
    # the manager's follow is whole again
    status, seen = command(running, fake_slack, "team", team_id=STAYS, user_id=MANAGER)
    assert status == 200 and ONLY_GONE in seen, seen


def looks_stay(fake: FakeSlack, seconds: float) -> bool:
    looks = len(fake.calls_to("users.info"))
    return stays(lambda: len(fake.calls_to("users.info")) == looks, seconds)


def clock_env(fake: FakeSlack, database_url: str) -> dict[str, str]:
    return server_env(fake.url, database_url, 3000, **oauth_env(fake))  # PORT is unused by the clock


def test_a_clock_killed_while_sorting_loses_nothing_and_the_next_passes_finish_once(running, org, fake_slack, content):
    """The sort is recorded with the removal; a clock process killed (SIGKILL) in the middle of it leaves the
    rest for the next pass, which sorts before it sends and looks nobody up twice. Two clocks at once, and a
    pass after them, change nothing more."""
    access(running, "team_access_revoked", GONE, event_id="EvRevoked3", team_id=GONE)
    fake_slack.slow("users.info", SLOW_LOOK)
    dead = subprocess.Popen(
        [sys.executable, "-m", "bot", "nudges", "run-due", "--at", QUIET.isoformat()],
        env=clock_env(fake_slack, running.database_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: sort_of(org)[1] > 0, 60, what="the dead clock's first person sorted")
    finally:
        os.kill(dead.pid, signal.SIGKILL)  # its next look at Slack in flight
        dead.wait()
    # the look in flight when it died lands within SLOW_LOOK: wait for a quiet stretch
    wait_until(lambda: looks_stay(fake_slack, 3 * SLOW_LOOK), 30, what="the dead clock's last look to land")
    fake_slack.slow("users.info", 0)
    generation, checked_before, done = sort_of(org)
    assert generation == 1 and done is None  # unfinished, and kept so
    assert home_of(org, ONLY_GONE) == GONE  # settled before the kill: moved, in the same transaction
    looks_before = len(fake_slack.calls_to("users.info"))
    with org.sessions() as session:
        checked = set(session.execute(select(Person.user_id).where(Person.id <= checked_before)).scalars())

    settings = oauth_settings(fake_slack, running.database_url)
    clocks = [build_clock(settings, content, org.sessions) for _ in range(2)]
    org.run_together(clocks, MONDAY_10_UTC)  # the weekly nudges, after sorting
    sent_to = [str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake_slack.calls_to("chat.postMessage")]
    assert ONLY_GONE not in sent_to
    # each once: the weekly nudges, and the manager's digest (due an hour before), which says nothing of W0GONE
    assert Counter(u for u in sent_to if u in TEAMS) == {BOTH: 1, ONLY_STAYS: 1, MANAGER: 2}
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if ONLY_GONE in json.dumps(c.params)]
    assert home_of(org, ONLY_GONE) == GONE
    assert {home_of(org, u) for u in (BOTH, ONLY_STAYS, MANAGER)} == {ORG}  # in the other workspace too: kept
    generation, last, done = sort_of(org)
    assert generation == 1 and last > checked_before and done is not None

    looked_up = {c.params.get("user") for c in fake_slack.calls_to("users.info")[looks_before:]}
    assert looked_up and not looked_up & checked  # those the dead clock checked are not looked up again

    looks, posts = len(fake_slack.calls_to("users.info")), len(fake_slack.calls_to("chat.postMessage"))
    build_clock(settings, content, org.sessions).run_pass(MONDAY_10_UTC + timedelta(minutes=5))
    assert len(fake_slack.calls_to("users.info")) == looks  # finished: nobody is looked up again
    assert len(fake_slack.calls_to("chat.postMessage")) == posts
    assert home_of(org, ONLY_GONE) == GONE and sort_of(org) == (generation, last, done)


def test_a_429_while_sorting_leaves_the_rest_for_a_later_pass(running, org, fake_slack, content):
    access(running, "team_access_revoked", GONE, event_id="EvRevoked4", team_id=GONE)
    settings = oauth_settings(fake_slack, running.database_url)
    first = build_clock(settings, content, org.sessions)
    fake_slack.fail("users.info", status=429, retry_after=30, times=1)  # longer than a look may wait
    first.run_pass(QUIET)
    assert len(fake_slack.calls_to("users.info")) == 1
    assert sort_of(org) == (1, 0, None) and home_of(org, ONLY_GONE) == ORG  # left as it was, nobody failed
    first.run_pass(QUIET + timedelta(minutes=1))  # Slack's 30 s are not over for this clock: still waiting
    assert len(fake_slack.calls_to("users.info")) == 1 and sort_of(org)[2] is None

    later = build_clock(settings, content, org.sessions)  # a clock after the pause (a fresh one: no real wait)
    later.run_pass(MONDAY_10_UTC)
    assert ONLY_GONE not in dm_users(fake_slack) and {BOTH, ONLY_STAYS, MANAGER} <= dm_users(fake_slack)
    assert home_of(org, ONLY_GONE) == GONE and {home_of(org, u) for u in (BOTH, ONLY_STAYS, MANAGER)} == {ORG}
    assert sort_of(org)[2] is not None
    assert len(fake_slack.calls_to("users.info")) == 1 + len(TEAMS)  # each person looked up once after the 429


def test_a_second_workspace_taken_out_sorts_everyone_again(running, org, fake_slack, content):
    """People kept because they were still in the other workspace are looked at again when it goes too."""
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions)
    access(running, "team_access_revoked", GONE, event_id="EvRevoked5", team_id=GONE)
    clock.run_pass(QUIET)
    assert home_of(org, ONLY_GONE) == GONE and home_of(org, BOTH) == ORG
    access(running, "team_access_revoked", STAYS, event_id="EvRevoked6", team_id=STAYS)
    assert sort_of(org)[:2] == (2, 0)
    clock.run_pass(QUIET + timedelta(minutes=1))
    assert home_of(org, ONLY_GONE) == GONE
    assert {u: home_of(org, u) for u in (BOTH, ONLY_STAYS, MANAGER)} == {BOTH: GONE, ONLY_STAYS: STAYS, MANAGER: STAYS}
    assert sort_of(org)[2] is not None


def test_people_the_sort_has_not_reached_are_held_then_sent_once(running, org, fake_slack, content):
    """At nudge time with the sort stopped by a 429: nobody of the organisation is sent anything (Slack has not
    said who is still reachable), no row is claimed or uses an attempt, and the backlog still counts them. A
    pass once the sort can go sorts first, then sends each person still served once, and W0GONE nothing."""
    access(running, "team_access_revoked", GONE, event_id="EvRevoked7", team_id=GONE)
    settings = oauth_settings(fake_slack, running.database_url)
    fake_slack.fail("users.info", status=429, retry_after=30, times=1)
    build_clock(settings, content, org.sessions).run_pass(MONDAY_10_UTC)
    assert sort_of(org)[1:] == (0, None)  # the sort has reached nobody
    assert dm_users(fake_slack) & set(TEAMS) == set()
    with org.sessions() as session:
        rows = session.execute(select(Delivery.status, Delivery.attempts, Delivery.claim_token)).all()
        backlog = read_backlog(session, now=MONDAY_10_UTC + timedelta(minutes=1))
    assert rows and {tuple(row) for row in rows} == {("pending", 0, None)}  # held: unclaimed, nothing used
    assert backlog.nudges_pending == len(rows) and backlog.lag_seconds > 0  # still owed: a stuck sort shows as lag

    build_clock(settings, content, org.sessions).run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    sent_to = [str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake_slack.calls_to("chat.postMessage")]
    assert Counter(u for u in sent_to if u in TEAMS) == {BOTH: 1, ONLY_STAYS: 1, MANAGER: 2}  # nudges and digest
    assert home_of(org, ONLY_GONE) == GONE and sort_of(org)[2] is not None


def test_an_organisation_s_sort_holds_nobody_of_another_workspace(running, org, fake_slack, content):
    """The hold is the organisation's own: with its sort stopped by a 429 at nudge time, a workspace installed
    on its own (Alpha Corp) is claimed and sent as usual, once."""
    assert "installed in Alpha Corp" in install(running, "T0AAA").html
    fake_slack.add_user("U0ALPHA", name="alpha", team_id="T0AAA")
    org.add("U0ALPHA", team="T0AAA")
    access(running, "team_access_revoked", GONE, event_id="EvRevoked8", team_id=GONE)
    fake_slack.fail("users.info", status=429, retry_after=30, times=1)
    build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions).run_pass(MONDAY_10_UTC)
    assert sort_of(org)[1:] == (0, None)  # the organisation's sort has reached nobody
    sent_to = [str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake_slack.calls_to("chat.postMessage")]
    assert Counter(u for u in sent_to if u in {*TEAMS, "U0ALPHA"}) == {"U0ALPHA": 1}
    assert [(d.status, d.attempts) for d in org.delivery("U0ALPHA")] == [("sent", 1)]


def test_a_workspace_taken_out_while_a_person_is_being_settled_sorts_everyone_again(running, org, fake_slack, content):
    """A second workspace taken out while the clock settles someone (after the sort read its cursor, before it
    wrote it) restarts the sort from the first person: the settle must not write the older generation's
    cursor over the new one, or W0BOTH, checked before against the first workspace only, is never checked
    against both and stays under the organisation. The event is sent from the settle's own statement, and
    waits for it if the settle holds the sort (as it must)."""
    access(running, "team_access_revoked", GONE, event_id="EvRevoked9", team_id=GONE)
    sorter = build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions).sorting
    removals_read = 0
    errors: list[BaseException] = []

    def take_out_the_other() -> None:
        try:
            access(running, "team_access_revoked", STAYS, event_id="EvRevoked10", team_id=STAYS)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    event_sent = threading.Thread(target=take_out_the_other)

    def during_settle(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal removals_read
        if "FROM workspace_removals" in statement and "workspace_removals.enterprise_id" in statement:
            removals_read += 1
            if removals_read == 3:  # W0STAYS's settle: W0GONE and W0BOTH are checked already
                event_sent.start()
                event_sent.join(2)  # done at once if nothing holds the sort; else it waits for this settle

    event.listen(org.engine, "before_cursor_execute", during_settle)
    try:
        sorter.run(QUIET)
    finally:
        event.remove(org.engine, "before_cursor_execute", during_settle)
    event_sent.join(60)
    assert not event_sent.is_alive() and errors == []
    sorter.run(QUIET + timedelta(minutes=1))
    assert sort_of(org)[0] == 2 and sort_of(org)[2] is not None
    assert {u: home_of(org, u) for u in TEAMS} == {ONLY_GONE: GONE, BOTH: GONE, ONLY_STAYS: STAYS, MANAGER: STAYS}


def posted_to(fake: FakeSlack, users: tuple[str, ...]) -> dict[str, int]:
    """How many chat.postMessage calls each of `users` was sent (by user id, or to their DM)."""
    sent = Counter(str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake.calls_to("chat.postMessage"))
    return {user: count for user, count in sent.items() if user in users}


def test_a_digest_waits_for_its_organisations_whole_sort(running, org, fake_slack, content):
    """The sort has looked up everyone but the newest person (W0LATE) when a 429 stops it at nudge time:
    those looked up get their nudges, W0LATE is held, and the manager's digest, which speaks of reports the sort
    may yet take out, waits for the whole sort. The next pass sorts W0LATE, then sends both once."""
    late = "W0LATE"
    access(running, "team_access_revoked", GONE, event_id="EvRevoked8", team_id=GONE)
    settings = oauth_settings(fake_slack, running.database_url)
    build_clock(settings, content, org.sessions).run_pass(QUIET)  # sorts the four
    fake_slack.reset()
    fake_slack.add_user(late, name="late", team_id=STAYS, enterprise_id=ORG, teams=(STAYS,))
    org.add(late, team=ORG)
    with org.sessions.begin() as session:  # as if W0LATE had been there, and the sort stopped before them
        session.execute(update(OrgSort).where(OrgSort.enterprise_id == ORG).values(sorted_at=None))

    fake_slack.fail("users.info", status=429, retry_after=30, times=1)
    build_clock(settings, content, org.sessions).run_pass(MONDAY_10_UTC)
    sent_to = Counter(
        str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake_slack.calls_to("chat.postMessage")
    )
    assert {u: n for u, n in sent_to.items() if u in (*TEAMS, late)} == {BOTH: 1, ONLY_STAYS: 1, MANAGER: 1}
    with org.sessions() as session:
        digest = session.execute(select(DigestDelivery.status, DigestDelivery.attempts)).one()
    assert tuple(digest) == ("pending", 0)  # held, nothing used

    build_clock(settings, content, org.sessions).run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    sent_to = Counter(
        str(c.params.get("channel", "")).replace("D", "W", 1) for c in fake_slack.calls_to("chat.postMessage")
    )
    assert {u: n for u, n in sent_to.items() if u in (*TEAMS, late)} == {BOTH: 1, ONLY_STAYS: 1, MANAGER: 2, late: 1}
    assert sort_of(org)[2] is not None and home_of(org, late) == ORG


def test_another_organisations_grant_ends_no_removal_of_ours(running, org, oauth, fake_slack, content):
    """team_access_granted from another organisation's install, naming our workspace taken out: our removal
    stays and its people stay parked (only the organisation that took it out can bring it back)."""
    access(running, "team_access_revoked", GONE, event_id="EvRevoked9", team_id=GONE)
    build_clock(oauth_settings(fake_slack, running.database_url), content, org.sessions).run_pass(QUIET)
    assert home_of(org, ONLY_GONE) == GONE
    oauth.add_workspace(None, "Other Org", enterprise_id="E0OTHER", enterprise_name="Other Org", org_wide=True)
    assert "installed in Other Org" in install(running, "E0OTHER").html

    access(running, "team_access_granted", GONE, event_id="EvOther1", team_id=GONE, enterprise_id="E0OTHER")
    with org.sessions() as session:
        assert session.get(WorkspaceRemoval, GONE) is not None
    assert home_of(org, ONLY_GONE) == GONE
