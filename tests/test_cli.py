"""`ladderbot`: preview works with no Slack and no tokens; every command says what is wrong and exits 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_run import run_cli

ROOT = Path(__file__).resolve().parent.parent
NO_TOKENS = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
TOKENS = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s3cr3t"}


def preview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "preview", *args],
        env=NO_TOKENS,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_preview_ladder_senior_as_text(content):
    result = preview("/ladder senior")  # the real entry point, in a process with no tokens at all
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Senior Backend Engineer\n=====")
    for item in content.level("senior").dimensions:
        if item.dimension.id not in ("summary", "experience"):
            assert item.dimension.name in result.stdout
    assert "[ Share in channel ]" in result.stdout


def test_preview_json_is_block_kit(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "preview", "/interview", "staff", "system-design", "--json", "--seed", "1")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["blocks"][0]["type"] == "header" and data["text"]


def test_preview_unknown_command(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "preview", "/standup")
    assert result.code == 2 and "preview knows /ladder and /interview" in result.stderr


def test_preview_with_a_broken_content_folder(monkeypatch, capsys, tmp_path):
    result = run_cli(monkeypatch, capsys, "preview", "/ladder", "--content", str(tmp_path))
    assert result.code == 2
    assert "ladderbot preview cannot start: the content folder is invalid" in result.stderr
    assert f"{tmp_path}/track.yaml: (top): file is missing" in result.stderr


def test_help_lists_every_command(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "--help")
    assert result.code == 0
    for command in ("serve", "clock", "nudges", "migrate", "preview", "content", "fake-slack"):
        assert command in result.stdout


def test_no_command_is_a_usage_error(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys)
    assert result.code == 2 and "usage: ladderbot" in result.stderr


def test_migrate_brings_a_new_database_to_head(monkeypatch, capsys, tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}
    result = run_cli(monkeypatch, capsys, "migrate", env=env)
    assert result.code == 0, result.stderr
    assert result.stdout == "database is at revision head\n"
    assert (tmp_path / "new.sqlite3").exists()


def test_migrate_with_a_wrong_database_url(monkeypatch, capsys):
    result = run_cli(monkeypatch, capsys, "migrate", env={"DATABASE_URL": "mysql://x"})
    assert result.code == 2
    assert "ladderbot migrate cannot start" in result.stderr and "DATABASE_URL must start with" in result.stderr


@pytest.mark.parametrize("argv", [("clock",), ("nudges", "run-due")])
def test_clock_commands_without_tokens_say_what_to_set(monkeypatch, capsys, argv):
    result = run_cli(monkeypatch, capsys, *argv)
    assert result.code == 2
    assert "SLACK_BOT_TOKEN is not set" in result.stderr and "README.md" in result.stderr


def test_run_due_dry_run_sends_nothing(monkeypatch, capsys, tmp_path, fake_slack):
    env = {**TOKENS, "SLACK_API_URL": fake_slack.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'clock.sqlite3'}"}
    result = run_cli(monkeypatch, capsys, "nudges", "run-due", "--dry-run", "--at", "2026-11-30T09:00:00Z", env=env)
    assert result.code == 0, result.stderr
    assert result.stdout.endswith("0 due (dry run: nothing sent)\n")
    assert fake_slack.calls == []
    result = run_cli(monkeypatch, capsys, "nudges", "run-due", env=env)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("scheduled 0, sent 0, recovered 0, retrying 0, failed 0, missed 0, reminders 0")


def test_run_due_with_a_wrong_time(monkeypatch, capsys, tmp_path, fake_slack):
    env = {**TOKENS, "SLACK_API_URL": fake_slack.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'clock.sqlite3'}"}
    result = run_cli(monkeypatch, capsys, "nudges", "run-due", "--at", "next tuesday", env=env)
    assert result.code == 2
    assert "--at takes an ISO time such as 2026-11-30T09:00:00Z, got 'next tuesday'" in result.stderr
