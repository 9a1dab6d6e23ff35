"""`ladderbot preview` works with no Slack and no tokens."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NO_TOKENS = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}


def preview(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "preview", *args],
        env=NO_TOKENS,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_preview_ladder_senior_as_text(content):
    result = preview("/ladder senior")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Senior Backend Engineer\n=====")
    for item in content.level("senior").dimensions:
        if item.dimension.id not in ("summary", "experience"):
            assert item.dimension.name in result.stdout
    assert "[ Share in channel ]" in result.stdout


def test_preview_json_is_block_kit():
    result = preview("/interview", "staff", "system-design", "--json", "--seed", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["blocks"][0]["type"] == "header" and data["text"]


def test_preview_unknown_command():
    result = preview("/standup")
    assert result.returncode == 2 and "preview knows /ladder and /interview" in result.stderr
