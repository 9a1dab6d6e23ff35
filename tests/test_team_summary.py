"""The team summary's maths on rows written by hand: no database, no server.

`summarise(rows, now, content)` is what /growth team and the weekly digest show; the queries that read
those rows are covered by tests/test_team.py and tests/test_team_server.py.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.blocks.team import SharedReflection
from bot.content.records import Content
from bot.team.org import MIN_GROUP, fold_small
from bot.team.summary import TREND_WEEKS, NudgeRow, PlanFacts, ReflectionRow, ReportRow, TeamRows, summarise

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MID_TO_SENIOR = PlanFacts("mid", "senior", ("security",), "active")


def nudge(
    delivery_id: int, weeks_ago: int, answer: str | None = None, *, status: str = "sent", prompt: str = "data-mid-1"
) -> NudgeRow:
    """A weekly nudge due an hour before the same time `weeks_ago` weeks back, answered at that time."""
    return NudgeRow(
        id=delivery_id,
        week_key=f"k{delivery_id}",
        status=status,
        due_at=NOW - timedelta(weeks=weeks_ago, hours=1),
        prompt_id=prompt,
        answer=answer,
        answered_at=NOW - timedelta(weeks=weeks_ago) if answer else None,
    )


def one_report(
    *nudges: NudgeRow,
    plan: PlanFacts | None = MID_TO_SENIOR,
    reflections: tuple[ReflectionRow, ...] = (),
    shared: tuple[SharedReflection, ...] = (),
) -> TeamRows:
    """Alice (person 1) followed by UMGR, with these nudges, newest first."""
    return TeamRows("UMGR", (ReportRow(1, "UALICE", plan),), (), {1: nudges}, reflections, shared)


def test_answered_counts_streak_weekly_and_last_checkin(content: Content) -> None:
    rows = one_report(nudge(1, 0, "done"), nudge(2, 1, "done"), nudge(3, 2), nudge(4, 5, "done"), nudge(5, 13, "done"))
    [report] = summarise(rows, NOW, content).reports
    assert (report.answered_4, report.sent_4) == (2, 3)
    assert (report.answered_12, report.sent_12) == (3, 4)  # the nudge 13 weeks back is outside both windows
    assert report.streak == 2  # the unanswered nudge two weeks back ends it
    assert report.weekly[-1] == 2 and report.weekly[-2] == 2 and report.weekly[-3] == 1 and report.weekly[-4] == 0
    assert report.weekly[-6] == 2 and len(report.weekly) == TREND_WEEKS
    assert report.last_checkin == NOW
    assert (report.level, report.target, report.focus, report.state) == ("mid", "senior", ("security",), "active")


def test_a_reflection_answers_its_nudge_and_is_a_checkin(content: Content) -> None:
    reflected_at = NOW - timedelta(days=2)
    rows = one_report(
        nudge(1, 0),
        nudge(2, 1),
        reflections=(ReflectionRow(1, 2, reflected_at), ReflectionRow(1, None, reflected_at - timedelta(days=1))),
    )
    [report] = summarise(rows, NOW, content).reports
    assert (report.answered_4, report.sent_4) == (1, 2)
    assert report.weekly[-2] == 2 and report.weekly[-1] == 1
    assert report.streak == 1  # this week's open nudge does not break it
    assert report.last_checkin == reflected_at


def test_missed_weeks_and_extra_nudges_are_not_weekly_answers(content: Content) -> None:
    extra = NudgeRow(9, "now-1", "sent", NOW - timedelta(days=1), "data-mid-1", "done", NOW - timedelta(days=1))
    rows = one_report(extra, nudge(1, 1, "done"), nudge(2, 2, status="missed"), nudge(3, 3, "done"))
    [report] = summarise(rows, NOW, content).reports
    assert (report.answered_4, report.sent_4) == (2, 2)
    assert report.streak == 2  # a week missed while the bot was down does not break it
    assert report.weekly[-3] == 0
    assert report.last_checkin == NOW - timedelta(days=1)  # an extra nudge answered is still a check-in


def test_nobody_and_no_history(content: Content) -> None:
    summary = summarise(TeamRows("UMGR", pending=("UBOB",)), NOW, content)
    assert summary.reports == () and summary.pending == ("UBOB",) and summary.gap is None
    assert summary.trend == ((0, 0),) * TREND_WEEKS and summary.toward == () and summary.focus == ()
    assert summary.week_starts[0] == NOW - timedelta(weeks=TREND_WEEKS)
    assert summary.week_starts[-1] == NOW - timedelta(weeks=1)
    [report] = summarise(one_report(plan=None), NOW, content).reports
    assert report.state == "no_plan" and report.level == "" and report.last_checkin is None
    assert (report.sent_12, report.streak, report.weekly) == (0, 0, (0,) * TREND_WEEKS)


def test_the_trend_adds_up_the_team_week_by_week(content: Content) -> None:
    rows = TeamRows(
        "UMGR",
        (ReportRow(1, "UA", MID_TO_SENIOR), ReportRow(2, "UB", MID_TO_SENIOR)),
        nudges={1: (nudge(1, 0, "done"), nudge(2, 1)), 2: (nudge(3, 0), nudge(4, 1, "done"), nudge(5, 11, "done"))},
    )
    trend = summarise(rows, NOW, content).trend
    assert trend[-1] == (1, 2) and trend[-2] == (1, 2) and trend[0] == (1, 1)
    assert sum(s for _, s in trend) == 5


def test_toward_in_ladder_order_and_focus_most_first(content: Content) -> None:
    plans = (
        PlanFacts("senior", "staff", ("api", "data"), "paused"),
        PlanFacts("mid", "senior", ("data",), "active"),
        PlanFacts("senior", "staff", ("data", "security"), "active"),
    )
    rows = TeamRows("UMGR", tuple(ReportRow(i, f"U{i}", p) for i, p in enumerate(plans)) + (ReportRow(9, "UNOPLAN"),))
    summary = summarise(rows, NOW, content)
    assert summary.toward == (("senior", 1), ("staff", 2))
    assert summary.focus == (("data", 3), ("api", 1), ("security", 1))
    assert [r.state for r in summary.reports] == ["paused", "active", "active", "no_plan"]


def test_the_biggest_gap_follows_the_ladder_and_what_was_worked_on(content: Content) -> None:
    focus = (("security",), ("security", "api"), ("data",))
    reports = tuple(ReportRow(i, f"U{i}", PlanFacts("mid", "senior", f, "active")) for i, f in enumerate(focus))
    gap = summarise(TeamRows("UMGR", reports), NOW, content).gap
    # nobody focuses on system design or infrastructure; ties go to the ladder's order
    assert gap is not None and (gap.area, gap.target, gap.missing, gap.toward) == ("system-design", "senior", 3, 3)
    design = [p.id for p in content.prompts if p.area == "system-design"]
    worked = {0: (nudge(1, 1, "done", prompt=design[0]),), 1: (nudge(2, 1, prompt=design[1]),)}
    reflected = (ReflectionRow(1, 2, NOW),)
    gap = summarise(TeamRows("UMGR", reports, nudges=worked, reflections=reflected), NOW, content).gap
    # two of them did a system design prompt (one by reflecting on it): infrastructure is now the gap
    assert gap is not None and (gap.area, gap.missing) == ("infrastructure", 3)


def test_shared_reflections_pass_through(content: Content) -> None:
    shared = (SharedReflection("UALICE", "I led my first design review", NOW),)
    assert summarise(one_report(shared=shared), NOW, content).shared == shared


def test_folding_never_leaves_a_small_group() -> None:
    rng = random.Random(3)
    for _ in range(200):
        counts = {f"g{i}": rng.randint(0, 12) for i in range(rng.randint(0, 8))}
        folded = fold_small(counts)
        total = sum(counts.values())
        # only "other" holding everyone may be small, and then it names nobody
        assert all(n >= MIN_GROUP for _, n in folded) or folded == (("other", total),)
        assert sum(n for _, n in folded) == total
        kept = [k for k, _ in folded if k != "other"]
        assert all(counts[k] == dict(folded)[k] for k in kept)  # kept groups are exact
