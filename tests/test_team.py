"""The team queries and builders on a real database (one rolled-back session per test, both backends):
numbers, folding, Slack's limits, and a fixed number of queries."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import Block
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from bot.blocks import team as rt
from bot.blocks.kit import message_problems
from bot.blocks.team import OrgSummary, ReportSummary, TeamSummary
from bot.content.records import Content
from bot.growth import plans as growth
from bot.storage.models import Delivery, Reflection
from bot.team import follows as team
from bot.team.org import fold_small, org_summary
from bot.team.summary import team_summary

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    """The SQL statements `session` sends inside the block (after flushing what was pending)."""
    session.flush()
    connection = session.connection()
    queries: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        queries.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield queries
    finally:
        event.remove(connection, "before_cursor_execute", count)


def make_team(session: Session, content: Content, manager: str, size: int, weeks: int = 52, seed: int = 1) -> list[str]:
    """`size` accepted reports with `weeks` of weekly history each (answered at random)."""
    rng = random.Random(seed)
    reports = [f"U{manager[1:4]}{i:05d}" for i in range(size)]
    for user in reports:
        person = growth.ensure_person(session, "T0001", user)
        level = rng.choice(["junior", "mid", "senior"])
        growth.save_plan(
            session,
            content,
            person,
            level=level,
            target=None,
            focus=rng.sample(["data", "security", "api", "system-design"], 2),
            now=NOW - timedelta(weeks=weeks),
        )
    for outcome in team.invite(session, "T0001", manager, reports, now=NOW - timedelta(weeks=weeks)):
        team.answer_invite(session, "T0001", outcome.user_id, outcome.follow_id, True)
    people = {u: growth.ensure_person(session, "T0001", u).id for u in reports}
    prompts = [p.id for p in content.prompts]
    rows = [
        {
            "person_id": people[u],
            "week_key": f"w{w}",
            "prompt_id": rng.choice(prompts),
            "due_at": NOW - timedelta(weeks=w, hours=2),
            "status": "sent",
            "attempts": 1,
            "answer": "done" if rng.random() < 0.6 else None,
            "answered_at": NOW - timedelta(weeks=w) if rng.random() < 0.6 else None,
        }
        for u in reports
        for w in range(weeks)
    ]
    if rows:
        session.execute(insert(Delivery), rows)
    shared = [
        {"person_id": people[u], "text": f"shared thought of {u}", "shared": True, "created_at": NOW}
        for u in reports[:3]
    ] + [{"person_id": people[u], "text": "private", "shared": False, "created_at": NOW} for u in reports]
    session.execute(insert(Reflection), shared)
    return reports


def test_no_query_per_report(db_session, content):
    make_team(db_session, content, "UAAMGR", 3, weeks=8)
    make_team(db_session, content, "UBBMGR", 40, weeks=8)
    counts = []
    for manager, size in (("UAAMGR", 3), ("UBBMGR", 40)):
        with counted(db_session) as queries:
            summary = team_summary(db_session, content, "T0001", manager, NOW)
        assert len(summary.reports) == size
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 6


def test_summary_numbers(db_session, content):
    [user] = make_team(db_session, content, "UCCMGR", 1, weeks=0)
    person = growth.ensure_person(db_session, "T0001", user)
    for weeks_ago, answer in ((0, "done"), (1, "done"), (2, None), (5, "done"), (13, "done")):
        db_session.add(
            Delivery(
                person_id=person.id,
                week_key=f"k{weeks_ago}",
                prompt_id=content.prompts[0].id,
                due_at=NOW - timedelta(weeks=weeks_ago, hours=1),
                status="sent",
                attempts=1,
                answer=answer,
                answered_at=NOW - timedelta(weeks=weeks_ago) if answer else None,
            )
        )
    summary = team_summary(db_session, content, "T0001", "UCCMGR", NOW)
    [report] = summary.reports
    assert (report.answered_4, report.sent_4) == (2, 3)
    assert (report.answered_12, report.sent_12) == (3, 4)
    assert report.streak == 2
    assert report.weekly[-1] == 2 and report.weekly[-3] == 1 and report.weekly[-4] == 0
    assert report.last_checkin == NOW


def test_biggest_shared_gap_uses_the_ladder(db_session, content):
    for user, focus in (("U0G1", ["security"]), ("U0G2", ["security", "api"]), ("U0G3", ["data"])):
        person = growth.ensure_person(db_session, "T0001", user)
        growth.save_plan(db_session, content, person, level="mid", target="senior", focus=focus, now=NOW)
    for outcome in team.invite(db_session, "T0001", "U0GM", ["U0G1", "U0G2", "U0G3"], now=NOW):
        team.answer_invite(db_session, "T0001", outcome.user_id, outcome.follow_id, True)
    gap = team_summary(db_session, content, "T0001", "U0GM", NOW).gap
    # nobody focuses on system design or infrastructure; both are on the ladder at senior
    assert gap is not None and gap.target == "senior" and gap.missing == 3 and gap.toward == 3
    assert gap.area in ("system-design", "infrastructure")
    assert content.area(gap.area).at("senior")


def test_fifty_reports_fit_one_message(db_session, content):
    make_team(db_session, content, "UDDMGR", 50, weeks=12)
    summary = team_summary(db_session, content, "T0001", "UDDMGR", NOW)
    for message in (
        rt.build_team_summary(content, summary, "Europe/Berlin"),
        rt.build_team_summary(content, summary, "UTC", title="Your weekly team digest"),
    ):
        assert message_problems(message) == []
        for block in message.blocks:
            Block.parse(block).validate_json()
        text = str(message.blocks)
        assert len(re.findall(r"• <@UDD\w+>: ", text)) == 50  # everyone shown, none cut
        assert "shared thought of" in text and "private" not in text


def test_more_reports_than_a_message_holds_are_cut_with_a_note(content):
    report = ReportSummary(
        "U" + "X" * 10, "mid", "senior", ("security", "api", "data"), "paused", 1, 4, 3, 12, NOW, 1, (2,) * 12
    )
    summary = TeamSummary(
        "UM", (report,) * 200, ("UP",) * 100, (("senior", 200),), (("api", 200),), ((1, 2),) * 12, None, (), ()
    )
    message = rt.build_team_summary(content, summary)
    assert message_problems(message) == []
    assert "more; `/growth team @name` shows one person" in str(message.blocks)


def test_fold_small_groups():
    folded = dict(fold_small({"a": 10, "b": 7, "c": 2, "d": 1}))
    assert all(v >= 5 for v in folded.values())  # "other" 3 would single out c and d: b joins it
    assert folded == {"a": 10, "other": 10}
    assert fold_small({"a": 5, "b": 5}) == (("a", 5), ("b", 5))
    assert fold_small({"a": 3}) == (("other", 3),)
    assert fold_small({}) == ()


def test_org_aggregates_and_their_floor(db_session, content):
    make_team(db_session, content, "UEEMGR", 12, weeks=4)
    org = org_summary(db_session, "T0001", NOW)
    assert org_summary(db_session, "T0OTHER", NOW).people == 0  # nothing crosses workspaces
    assert org.people == 12 and org.sent_12 == 48 and org.followers == 1
    assert all(n >= 5 for _, n in org.levels + org.targets + org.focus)
    message = rt.build_org(content, org)
    assert message_problems(message) == [] and "People with a plan:* 12" in str(message.blocks)
    tiny = OrgSummary(3, (), (), (), 0, 0, 0)
    assert "need at least 5" in rt.build_org(content, tiny).text


def test_invitation_and_followers_messages_fit(content):
    for answered in ("", "accepted", "declined", "left"):
        assert message_problems(rt.build_invite("UM", 7, answered)) == []
    many = [(i, f"U{i:08d}", "accepted" if i % 2 else "pending") for i in range(80)]
    assert message_problems(rt.build_followers(many)) == []
