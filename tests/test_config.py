"""Configuration: missing or wrong values stop start-up with a message saying what to set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from tests.cli_run import run_cli

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s3cr3t"}


def test_defaults():
    settings = Settings.from_env(GOOD)
    assert settings.port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("ladderbot.sqlite3")
    assert settings.show_compensation is False
    assert settings.admin_user_ids == frozenset()
    assert settings.web_concurrency == 1
    assert (settings.slack_messages_per_minute, settings.slack_rate_scale) == (600.0, 1.0)
    assert Settings.from_env({**GOOD, "SLACK_RATE_SCALE": "2.5"}).slack_rate_scale == 2.5
    assert Settings.from_env({**GOOD, "WEB_CONCURRENCY": " 4 "}).web_concurrency == 4
    assert Settings.from_env({**GOOD, "ADMIN_USER_IDS": "U0ADMIN1, W0ADMIN2"}).admin_user_ids == {
        "U0ADMIN1",
        "W0ADMIN2",
    }


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxp-user"}, "must be a bot token"),
        ({**GOOD, "PORT": "eighty"}, "PORT must be a port number"),
        ({**GOOD, "SLACK_RATE_SCALE": "0"}, "SLACK_RATE_SCALE must be a number from 0.01 to 10000"),
        ({**GOOD, "SLACK_MESSAGES_PER_MINUTE": "0.5"}, "SLACK_MESSAGES_PER_MINUTE must be a number of messages"),
        ({**GOOD, "SLACK_MESSAGES_PER_MINUTE": "６００"}, "SLACK_MESSAGES_PER_MINUTE must be a number of messages"),
        ({**GOOD, "SLACK_RATE_SCALE": "fast"}, "SLACK_RATE_SCALE must be a number from 0.01 to 10000"),
        ({**GOOD, "PORT": "³"}, "PORT must be a port number"),  # a digit int() refuses: a message, not a crash
        ({**GOOD, "WEB_THREADS": "²"}, "WEB_THREADS must be a whole number"),
        ({**GOOD, "LOG_LEVEL": "loud"}, "LOG_LEVEL must be one of"),
        ({**GOOD, "DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with"),
        ({**GOOD, "SLACK_API_URL": "slack.com"}, "SLACK_API_URL must be an http(s) URL"),
        ({**GOOD, "CONTENT_DIR": "/no/such/dir"}, "CONTENT_DIR points to"),
        ({**GOOD, "SHOW_COMPENSATION": "maybe"}, "SHOW_COMPENSATION must be true or false"),
        ({**GOOD, "ADMIN_USER_IDS": "U0ADMIN1,alice"}, "ADMIN_USER_IDS must be Slack user ids"),
        ({**GOOD, "WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be a whole number from 1 to 64"),
        ({**GOOD, "WEB_CONCURRENCY": "-2"}, "WEB_CONCURRENCY must be a whole number"),
        ({**GOOD, "WEB_CONCURRENCY": "two"}, "got 'two'"),
        ({**GOOD, "WEB_CONCURRENCY": "65"}, "WEB_CONCURRENCY must be a whole number from 1 to 64"),
        ({**GOOD, "WEB_CONCURRENCY": "²"}, "WEB_CONCURRENCY must be a whole number"),
    ],
)
def test_bad_settings_say_what_to_set(env, expected):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert expected in str(info.value)
    assert "README.md" in str(info.value)


def test_database_urls_are_normalised():
    assert (
        Settings.from_env({**GOOD, "DATABASE_URL": "postgres://u:p@h/db"}).database_url
        == "postgresql+psycopg://u:p@h/db"
    )
    assert Settings.from_env({**GOOD, "DATABASE_URL": "postgresql://h/db"}).database_url == "postgresql+psycopg://h/db"


def test_secrets_never_appear_in_repr():
    settings = Settings.from_env({**GOOD, "DATABASE_URL": "postgresql://user:hunter2@db/x"})
    text = repr(settings)
    assert "s3cr3t" not in text and "xoxb-1-2-3" not in text and "hunter2" not in text


def test_serve_without_tokens_stops_with_a_clear_message():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr
    assert "SLACK_SIGNING_SECRET is not set" in result.stderr
    assert "README.md" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_broken_content_names_the_problem(monkeypatch, capsys, tmp_path):
    (tmp_path / "track.yaml").write_text("track: {}\n")
    result = run_cli(monkeypatch, capsys, "serve", env={**GOOD, "CONTENT_DIR": str(tmp_path)})
    assert result.code == 2
    assert f"{tmp_path}/levels.yaml: (top): file is missing" in result.stderr
    assert f"{tmp_path}/track.yaml: track.id: missing" in result.stderr


def test_serve_with_a_wrong_process_count_names_the_variable():
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **GOOD, "WEB_CONCURRENCY": "many"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 2
    assert "WEB_CONCURRENCY must be a whole number from 1 to 64" in result.stderr
    assert "Traceback" not in result.stderr
