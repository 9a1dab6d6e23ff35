"""Several workspaces over OAuth and the clock, on SQLite and PostgreSQL: each workspace's nudges and digests go
out with that workspace's own token; an uninstalled workspace gets nothing more at once and loses its data
after the grace period; two clocks refresh an expiring token once; tokens are re-encrypted under a new key."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update

from bot.install import Installs, new_key
from bot.services import build_clock, make_web_client
from bot.storage import engine as db
from bot.storage.models import Delivery, DigestDelivery, Installation, Person, Plan, Workspace, WorkspaceRemoval
from bot.team import digest_plans
from bot.team import follows as team
from bot.testing.fakeslack import FakeSlack
from bot.web.metrics import read_backlog
from tests.cli_run import run_cli
from tests.clockworld import MONDAY_10_UTC, World
from tests.install_world import KEY, install, oauth_settings, raw_rows
from tests.slack_requests import event_body, slash_command_body

MANAGER, REPORT = "U0MANAGER", "U0ALICE"
DIGEST_AT = MONDAY_10_UTC - timedelta(hours=1)


def build_team(world: World, team_id: str) -> None:
    """A manager with one accepted report, both with weekly plans, and the manager's digest on."""
    world.add(MANAGER, team=team_id)
    world.add(REPORT, team=team_id)
    with world.sessions.begin() as session:
        (outcome,) = team.invite(session, team_id, MANAGER, [REPORT], now=DIGEST_AT - timedelta(days=7))
        assert outcome.follow_id is not None
        team.answer_invite(session, team_id, REPORT, outcome.follow_id, True)
        digest_plans.set_digest(session, team_id, MANAGER, True, now=DIGEST_AT - timedelta(days=2))


def workspace_of_calls(fake: FakeSlack, oauth, method: str) -> Counter[str | None]:
    """Successful calls of `method`, per workspace of the token each was made with (None: not one we issued)."""
    counted: Counter[str | None] = Counter()
    for call in fake.calls_to(method):
        if call.response.get("ok"):
            workspace = oauth.workspace_of(call.token)
            counted[workspace.key if workspace else None] += 1
    return counted


def test_the_clock_sends_each_workspace_its_nudges_and_digests_with_its_own_token(
    running, world, oauth, fake_slack, content
):
    install(running, "T0AAA")
    install(running, "T0BBB")
    build_team(world, "T0AAA")
    build_team(world, "T0BBB")
    world.add("U0ONLYBETA", team="T0BBB")
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, world.sessions)
    fake_slack.reset()

    clock.run_pass(DIGEST_AT)  # the managers' digests
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"T0AAA": 1, "T0BBB": 1}
    fake_slack.reset()
    clock.run_pass(MONDAY_10_UTC)  # everyone's weekly nudge
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"T0AAA": 2, "T0BBB": 3}
    assert all(oauth.workspace_of(call.token) is not None for call in fake_slack.calls)  # no other token used


def test_an_uninstalled_workspace_gets_nothing_more_and_is_forgotten_after_the_grace_period(
    running, world, oauth, fake_slack, content
):
    install(running, "T0AAA")
    install(running, "T0BBB")
    world.add("U1", team="T0AAA")
    world.add("U1", team="T0BBB")
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, world.sessions)
    clock.run_pass(MONDAY_10_UTC)
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"T0AAA": 1, "T0BBB": 1}

    oauth.revoke("T0AAA")
    gone = event_body({"type": "app_uninstalled"}, team_id="T0AAA", event_id="EvGone2")
    assert running.sender.post(gone, content_type="application/json").status == 200
    fake_slack.reset()
    next_week = MONDAY_10_UTC + timedelta(days=7)
    clock.run_pass(next_week)  # the same clock, still running: its next pass sends nothing to Alpha
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"T0BBB": 1}
    assert not [c for c in fake_slack.calls if c.token in oauth.tokens_of("T0AAA")]
    with world.sessions() as session:
        owed_to_alpha = session.scalars(
            select(Delivery.status)
            .join(Person)
            .join(Workspace)
            .where(Workspace.team_id == "T0AAA", Delivery.status == "pending")
        ).all()
        backlog = read_backlog(session, now=next_week + timedelta(hours=2))
    assert owed_to_alpha == ["pending"]  # Alpha's nudge waits for a reinstall...
    assert (backlog.nudges_pending, backlog.lag_seconds) == (0, 0.0)  # ...and is no backlog for metrics or doctor

    with world.sessions() as session:
        forget_after = session.execute(select(WorkspaceRemoval.forget_after)).scalar_one()
    clock.run_pass(forget_after - timedelta(minutes=1))  # still within the grace period
    with world.sessions() as session:
        assert session.execute(select(Workspace.team_id).order_by(Workspace.team_id)).scalars().all() == [
            "T0AAA",
            "T0BBB",
        ]
    clock.run_pass(forget_after)  # the pass's chore forgets Alpha's data
    with world.sessions() as session:
        assert session.execute(select(Workspace.team_id)).scalars().all() == ["T0BBB"]
        assert session.execute(select(WorkspaceRemoval)).all() == []
    assert "junior" not in running.sender.command("/growth", "", team_id="T0BBB", user_id="U1").body.decode()


def plans_and_deliveries(world: World, team_id: str) -> list[tuple]:
    """Each person's plan state and each of their deliveries, in a workspace: what a pass may change."""
    with world.sessions() as session:
        plans = session.execute(
            select(Person.user_id, Plan.unreachable_reason, Plan.stopped, Plan.paused_until)
            .join(Plan, Plan.person_id == Person.id)
            .join(Workspace, Workspace.id == Person.workspace_id)
            .where(Workspace.team_id == team_id)
            .order_by(Person.user_id)
        ).all()
        rows = session.execute(
            select(Person.user_id, Delivery.status, Delivery.attempts, Delivery.claim_token, Delivery.error)
            .join(Person, Person.id == Delivery.person_id)
            .join(Workspace, Workspace.id == Person.workspace_id)
            .where(Workspace.team_id == team_id)
            .order_by(Person.user_id, Delivery.id)
        ).all()
        digests = session.execute(
            select(DigestDelivery.status, DigestDelivery.attempts, DigestDelivery.claim_token)
            .join(Person, Person.id == DigestDelivery.person_id)
            .join(Workspace, Workspace.id == Person.workspace_id)
            .where(Workspace.team_id == team_id)
        ).all()
    return [tuple(r) for r in (*plans, *rows, *digests)]


def test_a_workspace_reinstalled_within_the_grace_period_gets_its_sends_again(
    running, world, oauth, fake_slack, content
):
    """After an uninstall the clock leaves the workspace alone (nothing claimed, failed or paused), so a
    reinstall in the grace period needs nobody to /growth resume: the next pass sends its nudges and digest."""
    install(running, "T0AAA")
    install(running, "T0BBB")
    build_team(world, "T0AAA")
    world.add("U1", team="T0BBB")
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, world.sessions)

    oauth.revoke("T0AAA")
    gone = event_body({"type": "app_uninstalled"}, team_id="T0AAA", event_id="EvGone3")
    assert running.sender.post(gone, content_type="application/json").status == 200
    fake_slack.reset()
    clock.run_pass(DIGEST_AT)  # the manager's digest falls due
    clock.run_pass(MONDAY_10_UTC)  # and everyone's nudge
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"T0BBB": 1}
    assert [c.method for c in fake_slack.calls if oauth.workspace_of(c.token) is None] == []  # no empty token
    waiting = plans_and_deliveries(world, "T0AAA")
    assert waiting == [
        (REPORT, None, False, None),
        (MANAGER, None, False, None),
        (REPORT, "pending", 0, None, None),  # scheduled, never claimed
        (MANAGER, "pending", 0, None, None),
        ("pending", 0, None),  # the digest, too
    ]
    clock.run_pass(MONDAY_10_UTC + timedelta(minutes=1))
    assert plans_and_deliveries(world, "T0AAA") == waiting  # a second pass changes nothing either
    alpha_people = select(Person.id).join(Workspace, Workspace.id == Person.workspace_id)
    alpha_rows = Delivery.person_id.in_(alpha_people.where(Workspace.team_id == "T0AAA"))
    with world.sessions.begin() as session:  # a "remind me tomorrow" falls due meanwhile: not sent either
        session.execute(update(Delivery).where(alpha_rows).values(remind_at=MONDAY_10_UTC))
    clock.run_pass(MONDAY_10_UTC + timedelta(minutes=1, seconds=30))
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"T0BBB": 1}
    with world.sessions.begin() as session:
        assert set(session.execute(select(Delivery.reminded_at).where(alpha_rows)).scalars()) == {None}
        session.execute(update(Delivery).where(alpha_rows).values(remind_at=None))

    page = install(running, "T0AAA")  # back within the grace period
    assert "ladderbot is installed" in page.html
    with world.sessions() as session:
        assert session.execute(select(WorkspaceRemoval)).all() == []
    fake_slack.reset()
    clock.run_pass(MONDAY_10_UTC + timedelta(minutes=2))
    new_token = oauth.tokens_of("T0AAA")[-1]
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.response.get("ok")]
    assert len(posts) == 3 and {c.token for c in posts} == {new_token}  # two nudges and the digest
    *_, alice, manager, digest = plans_and_deliveries(world, "T0AAA")
    assert (alice[1], manager[1], digest[0]) == ("sent", "sent", "sent")


def test_a_dead_token_fails_the_send_but_pauses_nobody(running, world, oauth, fake_slack, content):
    """If Slack refuses the workspace's token itself (revoked, and the event not yet arrived), the nudge fails
    but the person stays active: it was not their doing."""
    install(running, "T0AAA")
    world.add("U1", team="T0AAA")
    oauth.revoke("T0AAA")  # no app_uninstalled event follows
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, world.sessions)
    report = clock.run_pass(MONDAY_10_UTC)
    assert report.failed == 1 and report.sent == 0
    ((user, reason, stopped, paused), (_, status, _, _, error)) = plans_and_deliveries(world, "T0AAA")
    assert (user, reason, stopped, paused) == ("U1", None, False, None)
    assert (status, error) == ("failed", "token_revoked")


def test_two_clocks_refresh_an_expiring_token_once(running, world, oauth, fake_slack, content):
    oauth.token_lifetime = 60  # Slack's tokens last 12 hours; this one is about to expire
    install(running, "T0AAA")
    (first,) = oauth.tokens_of("T0AAA")
    oauth.token_lifetime = 43_200
    world.add("U1", team="T0AAA")
    world.add("U2", team="T0AAA")
    settings = oauth_settings(fake_slack, running.database_url)
    clocks = []
    for _ in range(2):
        engine = db.make_engine(running.database_url)
        world.engines.append(engine)
        clocks.append(build_clock(settings, content, db.make_session_factory(engine)))
    fake_slack.reset()

    world.run_together(clocks, MONDAY_10_UTC)

    assert oauth.refreshes == 1  # one refresh; a second would have used a revoked refresh token
    refreshes = [c for c in fake_slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1 and refreshes[0].response["ok"]
    new_token = refreshes[0].response["access_token"]
    posts = [c for c in fake_slack.calls_to("chat.postMessage") if c.response.get("ok")]
    assert len(posts) == 2 and {c.token for c in posts} == {new_token} and first != new_token
    (row,) = raw_rows(world.engine, "installations")
    assert new_token not in json.dumps(row, default=str) and row["refreshed_at"] is not None


def test_concurrent_requests_for_an_expiring_token_refresh_it_once(running, oauth, fake_slack, database_url):
    oauth.token_lifetime = 60
    install(running, "T0AAA")
    oauth.token_lifetime = 43_200
    settings = oauth_settings(fake_slack, running.database_url)
    processes = []
    for _ in range(4):
        engine = db.make_engine(running.database_url)
        processes.append((engine, Installs(settings, db.make_session_factory(engine), make_web_client(settings))))
    barrier = threading.Barrier(len(processes))
    tokens: list[str] = []

    def ask(installs: Installs) -> None:
        barrier.wait()
        tokens.append(installs.token_for("T0AAA"))

    threads = [threading.Thread(target=ask, args=(installs,)) for _, installs in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine, _ in processes:
        engine.dispose()
    assert oauth.refreshes == 1 and len(set(tokens)) == 1 and tokens[0] in oauth.tokens_of("T0AAA")


def test_tokens_are_reencrypted_under_the_newest_key(running, oauth, fake_slack, monkeypatch, capsys):
    install(running, "T0AAA")
    install(running, "T0BBB")
    (token,) = oauth.tokens_of("T0AAA")
    newer = new_key()
    env = {"DATABASE_URL": running.database_url, "SLACK_TOKEN_ENCRYPTION_KEYS": f"{newer},{KEY}"}
    ran = run_cli(monkeypatch, capsys, "tokens", "reencrypt", env=env)
    assert ran.code == 0 and "re-encrypted 2 token(s) in 2 installation(s)" in ran.stdout
    assert run_cli(monkeypatch, capsys, "tokens", "reencrypt", env=env).stdout.startswith("re-encrypted 0 token(s)")

    only_newer = oauth_settings(fake_slack, running.database_url, keys=(newer,))
    engine = db.make_engine(running.database_url)
    try:
        installs = Installs(only_newer, db.make_session_factory(engine), make_web_client(only_newer))
        assert installs.token_for("T0AAA") == token  # the old key is no longer needed
        assert all(token not in json.dumps(r, default=str) for r in raw_rows(engine, "installations"))
    finally:
        engine.dispose()

    wrong = {**env, "SLACK_TOKEN_ENCRYPTION_KEYS": new_key()}
    ran = run_cli(monkeypatch, capsys, "tokens", "reencrypt", env=wrong)
    assert ran.code == 1 and "cannot be decrypted" in ran.stderr and "nothing was changed" in ran.stderr


def test_workspace_forget_deletes_a_workspace_at_once(running, world, oauth, monkeypatch, capsys):
    install(running, "T0AAA")
    install(running, "T0BBB")
    world.add("U1", team="T0AAA")
    world.add("U1", team="T0BBB")
    env = {"DATABASE_URL": running.database_url, "SLACK_TOKEN_ENCRYPTION_KEYS": KEY}
    ran = run_cli(monkeypatch, capsys, "workspace", "forget", "T0AAA", env=env)
    assert ran.code == 0 and "forgot T0AAA" in ran.stdout and "1 workspace(s)" in ran.stdout
    with world.sessions() as session:
        assert session.execute(select(Workspace.team_id)).scalars().all() == ["T0BBB"]
        assert session.execute(select(Installation.install_key)).scalars().all() == ["T0BBB"]
    refused = run_cli(monkeypatch, capsys, "workspace", "forget", "alpha; drop", env=env)
    assert refused.code == 2 and "is not a team id" in refused.stderr
    no_key = run_cli(
        monkeypatch, capsys, "workspace", "forget", "T0BBB", env={**env, "SLACK_TOKEN_ENCRYPTION_KEYS": ""}
    )
    assert no_key.code == 2 and "SLACK_TOKEN_ENCRYPTION_KEYS is not set" in no_key.stderr


def org_command(running, text: str, *, team_id: str, user_id: str, enterprise_id: str = "E0ORG"):
    """A slash command from a workspace of an Enterprise Grid organisation where the app is installed org-wide."""
    body = slash_command_body("/growth", text, team_id=team_id, user_id=user_id)
    body = body.replace(b"is_enterprise_install=false", b"is_enterprise_install=true")
    return running.sender.post(body + b"&enterprise_id=" + enterprise_id.encode())


def test_an_org_wide_install_keeps_one_person_across_its_workspaces(running, world, oauth, fake_slack, content):
    oauth.add_workspace(None, "Big Org", enterprise_id="E0ORG", enterprise_name="Big Org", org_wide=True)
    page = install(running, "E0ORG")
    assert "installed in Big Org" in page.html
    install(running, "T0AAA")  # a separate workspace, outside the organisation
    with world.sessions() as session:
        (org,) = session.execute(select(Installation).where(Installation.is_enterprise_install)).scalars()
    assert (org.install_key, org.enterprise_id, org.team_id) == ("E0ORG", "E0ORG", None)

    assert org_command(running, "level staff", team_id="T0W1", user_id="W0USER").status == 200
    seen_from_w2 = json.dumps(org_command(running, "", team_id="T0W2", user_id="W0USER").json())
    assert "staff" in seen_from_w2.lower()  # the same person, seen from another workspace of the organisation
    alone = json.dumps(running.sender.command("/growth", "", team_id="T0AAA", user_id="W0USER").json())
    assert "You have no growth plan yet" in alone  # a separate workspace never shares the row
    with world.sessions() as session:
        keys = session.execute(
            select(Workspace.team_id)
            .join(Person, Person.workspace_id == Workspace.id)
            .where(Person.user_id == "W0USER")
        ).scalars()
        assert sorted(keys) == ["E0ORG", "T0AAA"]

    welcomes = fake_slack.wait_for_calls("chat.postMessage", 2)  # first uses, in the org and in Alpha: each welcomed
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"E0ORG": 1, "T0AAA": 1}, welcomes
    world.add("W0USER", team="E0ORG")
    clock = build_clock(oauth_settings(fake_slack, running.database_url), content, world.sessions)
    fake_slack.reset()
    clock.run_pass(MONDAY_10_UTC)
    assert workspace_of_calls(fake_slack, oauth, "chat.postMessage") == {"E0ORG": 1}  # the organisation's token
