"""`ladderbot doctor` against the fake Slack and real databases: all OK, then each thing an operator gets wrong
(a bad token, missing scopes, the database down or behind head, no clock running, a missing setting) gives
its FAIL line saying what to do, and exit 1."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import update

from bot.install import new_key
from bot.storage import engine as db
from bot.storage.models import Plan, utcnow
from tests import factories
from tests.cli_run import run_cli
from tests.install_world import fake_oauth, install, oauth_env, start_oauth_server
from tests.pg import free_port
from tests.slack_requests import SIGNING_SECRET

CHECKS = ["configuration", "content", "mode", "database", "migrations", "slack auth", "scopes", "clock"]


def env_for(fake_slack, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-doctor",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "DATABASE_URL": database_url,
    }
    env.update(extra)
    return env


def doctor(monkeypatch, capsys, env: dict[str, str]) -> tuple[int, dict[str, str]]:
    """The exit code, and each check's line by its name."""
    for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    ran = run_cli(monkeypatch, capsys, "doctor", env=env)
    lines = {}
    for line in ran.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        lines[name] = f"{status} {detail}"
    return ran.code, lines


def test_a_good_setup_is_all_ok(monkeypatch, capsys, fake_slack, database_url):
    code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, database_url))
    assert list(lines) == CHECKS
    assert all(line.startswith("OK ") for line in lines.values()), lines
    assert code == 0
    assert "HTTP" in lines["mode"] and "one workspace" in lines["mode"]
    assert "at head" in lines["migrations"]
    assert "all 7 scopes" in lines["scopes"]
    assert lines["clock"].startswith("OK lag 0 s")


def test_a_bad_token_fails_auth(monkeypatch, capsys, fake_slack, database_url):
    code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, database_url, SLACK_BOT_TOKEN="xoxb-invalid"))
    assert code == 1
    assert lines["slack auth"].startswith("FAIL auth.test answered 'invalid_auth': set SLACK_BOT_TOKEN")
    assert lines["scopes"].startswith("SKIP")
    assert lines["database"].startswith("OK")


def test_missing_scopes_are_named(monkeypatch, capsys, fake_slack, database_url):
    granted = list(fake_slack.state.granted_scopes)
    fake_slack.state.granted_scopes = [s for s in granted if s not in ("files:write", "im:history")]
    try:
        code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, database_url))
    finally:
        fake_slack.state.granted_scopes = granted
    assert code == 1
    assert lines["scopes"].startswith("FAIL the token lacks im:history, files:write: add them")
    assert "reinstall" in lines["scopes"]


def test_a_database_that_is_down(monkeypatch, capsys, fake_slack):
    down = f"postgresql://ladderbot:secret@127.0.0.1:{free_port()}/ladderbot"
    code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, down))
    assert code == 1
    assert lines["database"].startswith("FAIL cannot connect to the postgresql database")
    assert "check DATABASE_URL" in lines["database"]
    assert "secret" not in lines["database"]  # the password is not printed
    assert lines["migrations"].startswith("SKIP") and lines["clock"].startswith("SKIP")
    assert lines["slack auth"].startswith("OK")  # the other checks still run


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_behind_head(monkeypatch, capsys, fake_slack, backend, request):
    from tests.conftest import new_database_url

    url = new_database_url(backend, request, migrated=False)
    script = ScriptDirectory.from_config(db.alembic_config(url))
    head = script.get_revision(script.get_current_head())
    previous = head.down_revision
    assert isinstance(previous, str)
    db.migrate(url, previous)
    code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, url))
    assert code == 1
    expected = f"FAIL the database is at {previous}, this version needs {head.revision}: run `ladderbot migrate`"
    assert lines["migrations"] == expected
    assert lines["clock"].startswith("SKIP")

    empty = new_database_url(backend, request, migrated=False)
    code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, empty))
    assert lines["migrations"].startswith("FAIL the database has no schema yet: run `ladderbot migrate`")


def test_a_clock_that_is_not_running(monkeypatch, capsys, fake_slack, database_url, content):
    factories.due_plan_in(database_url, content, "U" + uuid.uuid4().hex[:8].upper())
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(Plan).values(next_due_at=utcnow() - timedelta(hours=2)))
    finally:
        engine.dispose()
    code, lines = doctor(monkeypatch, capsys, env_for(fake_slack, database_url))
    assert code == 1
    assert lines["clock"].startswith("FAIL the oldest due nudge or digest is 120 minutes late")
    assert "Start `ladderbot clock`" in lines["clock"]


def test_a_missing_setting_stops_the_rest(monkeypatch, capsys, fake_slack, database_url):
    env = env_for(fake_slack, database_url)
    del env["SLACK_BOT_TOKEN"]
    code, lines = doctor(monkeypatch, capsys, env)
    assert code == 1
    assert lines["configuration"].startswith("FAIL SLACK_BOT_TOKEN is not set")
    assert all(lines[name].startswith("SKIP") for name in ("database", "slack auth", "clock"))


@pytest.fixture
def installed(fake_slack, database_url):
    """Two workspaces installed through the OAuth flow on a real server; the server is stopped afterwards."""
    oauth = fake_oauth(fake_slack)
    oauth.add_workspace("T0AAA", "Alpha Corp")
    oauth.add_workspace("T0BBB", "Beta Ltd")
    server = start_oauth_server(fake_slack, database_url)
    try:
        install(server, "T0AAA")
        install(server, "T0BBB")
    finally:
        server.stop()
    yield oauth
    oauth.reset()


def oauth_doctor_env(fake_slack, database_url: str) -> dict[str, str]:
    env = env_for(fake_slack, database_url, **oauth_env(fake_slack))
    del env["SLACK_BOT_TOKEN"]
    return env


def test_several_workspaces_check_each_installation_with_its_own_token(
    monkeypatch, capsys, fake_slack, database_url, installed
):
    fake_slack.reset()
    code, lines = doctor(monkeypatch, capsys, oauth_doctor_env(fake_slack, database_url))
    assert code == 0, lines
    assert "several workspaces over OAuth" in lines["mode"]
    assert lines["slack auth"] == "OK 2 installation(s), each checked with its own token below"
    assert lines["workspace T0AAA"].startswith("OK bot 'ladderbot' in 'Alpha Corp'; all 7 scopes")
    assert lines["workspace T0BBB"].startswith("OK bot 'ladderbot' in 'Beta Ltd'; all 7 scopes")
    tokens = {c.token for c in fake_slack.calls_to("auth.test")}
    assert tokens == {*installed.tokens_of("T0AAA"), *installed.tokens_of("T0BBB")}  # each its own
    assert not any(t in capsys.readouterr().out for t in tokens)  # never printed

    installed.revoke("T0AAA")  # e.g. an uninstall whose event never reached the bot
    code, lines = doctor(monkeypatch, capsys, oauth_doctor_env(fake_slack, database_url))
    assert code == 1
    assert lines["workspace T0AAA"].startswith("FAIL auth.test answered 'token_revoked' for Alpha Corp")
    assert "reinstall" in lines["workspace T0AAA"]
    assert lines["workspace T0BBB"].startswith("OK")

    granted = list(fake_slack.state.granted_scopes)
    fake_slack.state.granted_scopes = [s for s in granted if s != "files:write"]
    try:
        code, lines = doctor(monkeypatch, capsys, oauth_doctor_env(fake_slack, database_url))
    finally:
        fake_slack.state.granted_scopes = granted
    assert lines["workspace T0BBB"].startswith("FAIL bot 'ladderbot' in 'Beta Ltd', but the token lacks files:write")

    wrong_key = {**oauth_doctor_env(fake_slack, database_url), "SLACK_TOKEN_ENCRYPTION_KEYS": new_key()}
    code, lines = doctor(monkeypatch, capsys, wrong_key)
    assert code == 1 and lines["workspace T0BBB"].startswith("FAIL its token cannot be decrypted")


def test_several_workspaces_with_none_installed_yet(monkeypatch, capsys, fake_slack, database_url):
    fake_oauth(fake_slack)
    code, lines = doctor(monkeypatch, capsys, oauth_doctor_env(fake_slack, database_url))
    assert code == 1
    assert lines["slack auth"].startswith("FAIL no workspace has installed ladderbot yet")
    assert "/slack/install" in lines["slack auth"]
    assert not [name for name in lines if name.startswith("workspace ")]
