"""How late each nudge went out against its due time: the pass report's figures (p50, p99, max), in the
pass's frame (its `now` plus the time since it started), and `ladderbot nudges run-due` printing them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import PassReport
from tests.clockworld import MONDAY_10_UTC, World
from tests.test_clock import run_due


def test_percentiles_are_nearest_rank() -> None:
    report = PassReport(lateness=[float(s) for s in range(100, 0, -1)])  # 1..100 s, in any order
    assert (report.late(50), report.late(99), report.late(100)) == (50.0, 99.0, 100.0)
    assert report.lateness_text() == "lateness p50 50.0s, p99 99.0s, max 100.0s (100 nudges)"
    assert PassReport().late(50) is None and PassReport().lateness_text() == "lateness: no nudges sent"


def test_a_pass_reports_how_late_its_nudges_went(world: World) -> None:
    people = 20
    for i in range(people):
        world.add(f"U{i:03d}")
    world.fake.slow("chat.postMessage", 0.02)
    report = world.new_clock(send_workers=2).run_pass(MONDAY_10_UTC + timedelta(minutes=5))  # five minutes late
    assert report.sent == people and len(report.lateness) == people
    p50, p99, worst = report.late(50), report.late(99), report.late(100)
    assert p50 is not None and p99 is not None and worst is not None
    assert 300 < p50 <= p99 <= worst < 330  # 5 minutes, plus the pass's own few seconds
    assert worst - p50 >= 0.05  # two threads, ten slow posts each: the last ones waited for the first
    assert world.new_clock().run_pass(MONDAY_10_UTC + timedelta(minutes=6)).lateness == []  # nothing sent


def test_run_due_prints_the_lateness(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.add("U1")
    assert run_due(world, monkeypatch, MONDAY_10_UTC + timedelta(seconds=90)) == 0
    out = capsys.readouterr().out
    assert "scheduled 1, sent 1, recovered 0" in out
    lateness = next(line for line in out.splitlines() if line.startswith("lateness p50 90."))
    assert lateness.endswith("(1 nudges)"), out
    assert run_due(world, monkeypatch, MONDAY_10_UTC + timedelta(minutes=2)) == 0
    assert "lateness: no nudges sent" in capsys.readouterr().out
