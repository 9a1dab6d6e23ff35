"""Run `ladderbot` in the test process: main(argv) with a clean environment, its output captured.

A subprocess costs about a second of interpreter and import start-up per call; the few tests that are
about the real entry point (`python -m bot`, exit codes of a process) still start one."""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass

import pytest

from bot.cli import main

SETTINGS_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "DATABASE_URL",
    "PORT",
    "WEB_THREADS",
    "LOG_LEVEL",
    "CONTENT_DIR",
    "SHOW_COMPENSATION",
    "ADMIN_USER_IDS",
)


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> Ran:
    """main(argv) with only `env` among the settings variables; an argparse exit counts as its code."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()  # drop what came before
    try:
        code = main(list(argv))
    except SystemExit as exc:  # --help and usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    # a one-shot command leaves its engine's connections to the process's exit; in this process they are
    # swept now, quietly, rather than warned about in whichever later test the garbage collector runs in
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    out, err = capsys.readouterr()
    return Ran(code, out, err)
