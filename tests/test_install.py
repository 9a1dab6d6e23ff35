"""Several workspaces over OAuth, end to end: the real `ladderbot serve` installs through Bolt's OAuth flow
against the fake Slack's authorize page and oauth.v2.access, keeps each token encrypted, and authorizes each
request with its own workspace's installation. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select

from bot.storage import engine as db
from bot.storage.models import Installation, Person, Workspace, WorkspaceRemoval
from tests.install_world import KEY, Browser, install, oauth_env, raw_rows, start_oauth_server
from tests.server import ROOT, server_env
from tests.slack_requests import event_body
from tests.test_export_file import exported


@pytest.fixture
def engine(running):
    engine = db.make_engine(running.database_url)
    yield engine
    engine.dispose()


def answer_text(reply) -> str:
    assert reply.status == 200, reply.body
    body = reply.json()
    return body.get("text", "") + json.dumps(body.get("blocks", []))


def test_an_install_stores_the_token_encrypted_and_each_request_uses_its_own_workspace(
    running, oauth, fake_slack, engine
):
    page = install(running, "T0AAA")
    assert page.status == 200 and "ladderbot is installed" in page.html and "Alpha Corp" in page.html
    install(running, "T0BBB")

    (alpha_token,) = oauth.tokens_of("T0AAA")
    (beta_token,) = oauth.tokens_of("T0BBB")
    rows = raw_rows(engine, "installations")
    assert sorted(r["install_key"] for r in rows) == ["T0AAA", "T0BBB"]
    every_value = json.dumps(rows, default=str)
    assert alpha_token not in every_value and beta_token not in every_value  # never in clear at rest
    assert all(r["bot_token_encrypted"].startswith("gAAAA") for r in rows)  # Fernet's version byte

    fake_slack.reset()
    reply = running.sender.command("/ladder", "senior", team_id="T0AAA", user_id="U1")
    assert "Senior" in answer_text(reply)
    tested = fake_slack.calls_to("auth.test")
    assert [c.token for c in tested] == [alpha_token]  # Bolt authorized the request with Alpha's installation

    fake_slack.reset()
    running.sender.command("/ladder", "senior", team_id="T0BBB", user_id="U1")
    assert [c.token for c in fake_slack.calls_to("auth.test")] == [beta_token]


def test_a_workspace_without_an_installation_is_told_to_install(running, fake_slack):
    reply = running.sender.command(
        "/ladder", "senior", team_id="T0NOTYET", user_id="U1", response_url=fake_slack.response_url()
    )
    assert reply.status == 200 and "Senior" not in reply.body.decode()
    (told,) = fake_slack.wait_for_responses(1)
    assert "no longer available" in told["text"] and "reinstall" in told["text"]
    assert fake_slack.calls_to("auth.test") == []


def test_nothing_of_one_workspace_is_readable_from_the_other(running, oauth, fake_slack, engine):
    """The same user id in two workspaces: two people, and every command, the Home tab and the export from
    each side shows only its own."""
    install(running, "T0AAA")
    install(running, "T0BBB")
    send = running.sender.command
    send("/growth", "level staff", team_id="T0AAA", user_id="U1")
    send("/growth", "focus security", team_id="T0AAA", user_id="U1")
    send("/growth", "evidence add Shipped the alpha-secret migration", team_id="T0AAA", user_id="U1")
    send("/growth", "level junior", team_id="T0BBB", user_id="U1")

    alpha = {
        text: answer_text(send("/growth", text, team_id="T0AAA", user_id="U1")) for text in ("", "evidence", "team")
    }
    beta = {
        text: answer_text(send("/growth", text, team_id="T0BBB", user_id="U1")) for text in ("", "evidence", "team")
    }
    for side, team_id in ((alpha, "T0AAA"), (beta, "T0BBB")):  # the export is a file in the DM
        side["export"] = json.dumps(exported(running, fake_slack, "U1", team_id)[2], ensure_ascii=False)
    assert "staff" in alpha[""].lower() and "alpha-secret" in alpha["export"] and "alpha-secret" in alpha["evidence"]
    for text, answer in beta.items():
        assert "alpha-secret" not in answer, text
        assert "staff" not in answer.lower(), text
    assert "junior" in beta[""].lower()
    for text, answer in alpha.items():
        assert "junior" not in answer.lower(), text

    with engine.connect() as connection:
        people = connection.execute(
            select(Workspace.team_id, Person.user_id).join(Person, Person.workspace_id == Workspace.id)
        ).all()
    assert sorted(people) == [("T0AAA", "U1"), ("T0BBB", "U1")]  # two rows, never one shared

    # the Home tab, opened in Beta, is published with Beta's token and shows nothing of Alpha
    fake_slack.reset()
    opened = {"type": "app_home_opened", "user": "U1", "channel": "DU1", "tab": "home", "event_ts": "1.0"}
    assert (
        running.sender.post(
            event_body(opened, team_id="T0BBB", event_id="EvHome1"), content_type="application/json"
        ).status
        == 200
    )
    (published,) = fake_slack.wait_for_calls("views.publish", 1)
    assert published.token in oauth.tokens_of("T0BBB")
    view = json.dumps(published.params)
    assert "alpha-secret" not in view and "staff" not in view.lower()


def test_an_uninstall_removes_the_installation_at_once_and_the_data_after_the_grace_period(
    running, oauth, fake_slack, engine
):
    install(running, "T0AAA")
    install(running, "T0BBB")
    running.sender.command("/growth", "level staff", team_id="T0AAA", user_id="U1")
    running.sender.command("/growth", "level junior", team_id="T0BBB", user_id="U1")
    oauth.revoke("T0AAA")  # Slack revokes the tokens, then tells the app
    gone = {"type": "app_uninstalled"}
    reply = running.sender.post(event_body(gone, team_id="T0AAA", event_id="EvGone1"), content_type="application/json")
    assert reply.status == 200

    with engine.connect() as connection:
        assert connection.execute(select(Installation.install_key)).scalars().all() == ["T0BBB"]
        removal = connection.execute(select(WorkspaceRemoval)).one()
        assert removal.install_key == "T0AAA" and removal.reason == "app_uninstalled"
        assert (removal.forget_after - removal.removed_at).days == 30
        # the data is kept during the grace period
        assert connection.execute(select(Workspace.team_id).order_by(Workspace.team_id)).scalars().all() == [
            "T0AAA",
            "T0BBB",
        ]
    reply = running.sender.command("/growth", "", team_id="T0AAA", user_id="U1", response_url=fake_slack.response_url())
    assert reply.status == 200 and "staff" not in reply.body.decode()
    assert "no longer available" in fake_slack.wait_for_responses(1)[0]["text"]
    assert "junior" in answer_text(running.sender.command("/growth", "", team_id="T0BBB", user_id="U1")).lower()


def test_serve_in_oauth_mode_without_a_key_refuses_to_start(fake_slack, tmp_path):
    env = server_env(fake_slack.url, f"sqlite:///{tmp_path / 'x.sqlite3'}", 0, **oauth_env(fake_slack, keys=""))
    env["PORT"] = "3999"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "SLACK_TOKEN_ENCRYPTION_KEYS is not set" in done.stderr and "ladderbot tokens new-key" in done.stderr
    assert KEY not in done.stderr


def test_a_denied_install_stores_nothing(running, engine):
    page = install(running, "T0AAA", allow=False)
    assert page.status == 200 and "cancelled" in page.html and "was not installed" in page.html
    assert raw_rows(engine, "installations") == []


def test_a_reused_or_forged_state_stores_nothing(running, engine):
    browser = Browser()
    first = install(running, "T0AAA", browser=browser)
    assert "ladderbot is installed" in first.html
    with engine.begin() as connection:
        connection.execute(Installation.__table__.delete())
    again = browser.get(first.url)  # the same redirect URL, code and state once more
    assert again.status >= 400 and "was not installed" in again.html
    forged = Browser().get(first.url.replace("state=", "state=forged"))
    assert forged.status >= 400 and "was not installed" in forged.html
    assert raw_rows(engine, "installations") == []


def test_tokens_revoked_removes_the_installation_only_for_a_bot_token_and_only_its_own(
    running, oauth, fake_slack, engine
):
    """`tokens_revoked` through a signed event: a revoked user token leaves the bot installed; a forged event
    removes nothing; the bot token's revocation removes that workspace's installation, never the other's."""
    install(running, "T0AAA")
    install(running, "T0BBB")
    running.sender.command("/growth", "level staff", team_id="T0AAA", user_id="U1")
    users_only = {"type": "tokens_revoked", "tokens": {"oauth": ["U0INSTALLER"]}}
    reply = running.sender.post(
        event_body(users_only, team_id="T0AAA", event_id="EvRev1"), content_type="application/json"
    )
    assert reply.status == 200
    bot = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
    forged = running.sender.post(
        event_body(bot, team_id="T0BBB", event_id="EvRev2"), content_type="application/json", signature="v0=" + "0" * 64
    )
    assert forged.status == 401
    with engine.connect() as connection:
        assert sorted(connection.execute(select(Installation.install_key)).scalars()) == ["T0AAA", "T0BBB"]
        assert connection.execute(select(WorkspaceRemoval)).all() == []

    oauth.revoke("T0AAA")
    reply = running.sender.post(event_body(bot, team_id="T0AAA", event_id="EvRev3"), content_type="application/json")
    assert reply.status == 200
    with engine.connect() as connection:
        assert connection.execute(select(Installation.install_key)).scalars().all() == ["T0BBB"]
        (removal,) = connection.execute(select(WorkspaceRemoval)).all()
        assert (removal.install_key, removal.reason) == ("T0AAA", "tokens_revoked")
        assert connection.execute(select(Workspace.team_id).where(Workspace.team_id == "T0AAA")).all()  # kept
    reply = running.sender.command("/growth", "", team_id="T0AAA", user_id="U1", response_url=fake_slack.response_url())
    assert "staff" not in reply.body.decode()
    assert "no longer available" in fake_slack.wait_for_responses(1)[0]["text"]
    assert "Senior" in answer_text(running.sender.command("/ladder", "senior", team_id="T0BBB", user_id="U1"))


@pytest.fixture
def two_processes(fake_slack, database_url, oauth):
    server = start_oauth_server(fake_slack, database_url, WEB_CONCURRENCY="2")
    yield server
    server.stop()


def test_a_request_refreshes_an_expiring_token_once_through_bolts_authorize(two_processes, oauth, fake_slack):
    """Signed requests arriving at once at two server processes, for a workspace whose rotating token is about
    to expire: Bolt's authorize step asks the installation store, which refreshes the token under the row's
    lock, exactly once; every request is authorized and answered with the new token."""
    running = two_processes
    oauth.token_lifetime = 60  # inside Bolt's two-hour refresh window from the start
    install(running, "T0AAA")
    (old_token,) = oauth.tokens_of("T0AAA")
    oauth.token_lifetime = 43_200
    engine = db.make_engine(running.database_url)
    try:
        (before,) = raw_rows(engine, "installations")
        fake_slack.reset()
        barrier = threading.Barrier(6)
        replies: list = []

        def ask(n: int) -> None:
            barrier.wait()
            replies.append(running.sender.command("/ladder", "senior", team_id="T0AAA", user_id=f"U{n}"))

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(replies) == 6 and all("Senior" in answer_text(reply) for reply in replies)

        refreshes = [c for c in fake_slack.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]
        assert oauth.refreshes == 1 and len(refreshes) == 1 and refreshes[0].response["ok"]
        new_token = refreshes[0].response["access_token"]
        assert new_token != old_token
        tested = fake_slack.calls_to("auth.test")
        assert tested and {c.token for c in tested} == {new_token}  # the old token was never used again
        (after,) = raw_rows(engine, "installations")
        assert after["refreshed_at"] is not None and after["bot_token_expires_at"] > before["bot_token_expires_at"]
        assert new_token not in json.dumps(after, default=str)  # sealed at rest, as at install

        fake_slack.reset()  # the fresh token is not refreshed again
        assert "Senior" in answer_text(running.sender.command("/ladder", "senior", team_id="T0AAA", user_id="U9"))
        assert oauth.refreshes == 1 and fake_slack.calls_to("oauth.v2.access") == []
    finally:
        engine.dispose()
