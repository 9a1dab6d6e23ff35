"""Several workspaces over OAuth, end to end: the real `ladderbot serve` installs through Bolt's OAuth flow
against the fake Slack's authorize page and oauth.v2.access, keeps each token encrypted, and authorizes each
request with its own workspace's installation. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from bot.storage import engine as db
from bot.storage.models import Installation, Person, Workspace, WorkspaceRemoval
from tests.install_world import KEY, Browser, fake_oauth, install, oauth_env, raw_rows, start_oauth_server
from tests.server import ROOT, server_env
from tests.slack_requests import event_body


@pytest.fixture
def oauth(fake_slack):
    oauth = fake_oauth(fake_slack)
    oauth.add_workspace("T0AAA", "Alpha Corp")
    oauth.add_workspace("T0BBB", "Beta Ltd")
    yield oauth
    oauth.reset()


@pytest.fixture
def running(fake_slack, database_url, oauth):
    server = start_oauth_server(fake_slack, database_url)
    yield server
    server.stop()


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
        text: answer_text(send("/growth", text, team_id="T0AAA", user_id="U1"))
        for text in ("", "export", "evidence", "team")
    }
    beta = {
        text: answer_text(send("/growth", text, team_id="T0BBB", user_id="U1"))
        for text in ("", "export", "evidence", "team")
    }
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
