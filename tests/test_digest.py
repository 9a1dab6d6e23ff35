"""The weekly team digest through the clock, on SQLite and PostgreSQL: once a week, with its chart,
never twice (restarts, stale claims, two clocks, failing uploads), and only about accepted reports."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.clock.digests import METADATA_EVENT, chart_filename
from bot.growth import plans as growth
from bot.storage import people as repo
from bot.storage.models import DigestDelivery
from bot.team import digest_plans
from bot.team import follows as team
from bot.testing.fakeslack import FakeSlack, png_size
from tests.clockworld import MONDAY_10_UTC, World

MANAGER = "U0MANAGER"
DIGEST_AT = MONDAY_10_UTC - timedelta(hours=1)  # Monday 09:00 UTC, the default digest time


def build_team(
    world: World,
    *,
    accepted: tuple[str, ...] = ("U0ALICE", "U0BOB"),
    pending: tuple[str, ...] = ("U0PAT",),
    digest: bool = True,
) -> None:
    world.fake.add_user(MANAGER, name="maria")
    for user in (*accepted, *pending):
        world.fake.add_user(user, name=user[2:].lower())
        world.add(user, level="mid", focus=("security",))
    with world.sessions.begin() as session:
        outcomes = team.invite(session, "T0001", MANAGER, [*accepted, *pending], now=DIGEST_AT - timedelta(days=7))
        for outcome in outcomes:
            if outcome.user_id in accepted:
                assert outcome.follow_id is not None
                team.answer_invite(session, "T0001", outcome.user_id, outcome.follow_id, True)
        if digest:
            digest_plans.set_digest(session, "T0001", MANAGER, True, now=DIGEST_AT - timedelta(days=2))


def digest_messages(fake: FakeSlack) -> list[dict[str, Any]]:
    return [
        m for m in fake.messages_to("D" + MANAGER[1:]) if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
    ]


def charts(fake: FakeSlack) -> list[dict[str, Any]]:
    return [f for f in fake.files.values() if f.get("channels") and f["name"].startswith("ladderbot-team-digest-")]


def test_a_digest_goes_once_a_week_with_a_chart(world: World) -> None:
    build_team(world)
    world.clock.run_pass(DIGEST_AT - timedelta(minutes=1))
    assert digest_messages(world.fake) == []  # not yet due
    report = world.clock.run_pass(DIGEST_AT)
    assert report.digests_scheduled == 1 and report.digests_sent == 1
    [message] = digest_messages(world.fake)
    body = json.dumps(message["blocks"], ensure_ascii=False)
    assert "Your weekly team digest: 2 people" in body
    assert "<@U0ALICE>" in body and "<@U0BOB>" in body and "*Waiting for an answer:* <@U0PAT>" in body
    [chart] = charts(world.fake)
    assert chart["channels"] == ["D" + MANAGER[1:]]
    width, height = chart["image_size"]  # the fake Slack decoded the PNG
    assert width >= 400 and height >= 150
    assert png_size(world.fake.uploads[chart["id"]]) == (width, height)
    for later in (DIGEST_AT + timedelta(minutes=1), DIGEST_AT + timedelta(days=3)):
        world.new_clock().run_pass(later)  # a restarted clock, later the same week
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1
    world.clock.run_pass(DIGEST_AT + timedelta(weeks=1))
    assert len(digest_messages(world.fake)) == 2 and len(charts(world.fake)) == 2


def test_the_digest_shows_only_accepted_reports(world: World) -> None:
    build_team(world, accepted=("U0ALICE",), pending=("U0PAT",))
    with world.sessions.begin() as session:
        followers = team.followers_of(session, "T0001", "U0ALICE")
        team.leave(session, "T0001", "U0ALICE", followers[0].follow_id)
    world.clock.run_pass(DIGEST_AT)
    [message] = digest_messages(world.fake)
    body = json.dumps(message["blocks"])
    assert "U0ALICE" not in body and "0 people" in body
    assert charts(world.fake) == []  # no chart of nobody


def test_nobody_to_report_on_means_no_dm(world: World) -> None:
    build_team(world, accepted=(), pending=())
    world.clock.run_pass(DIGEST_AT)
    assert digest_messages(world.fake) == []
    with world.sessions() as session:
        assert session.execute(select(DigestDelivery.status)).scalar_one() == "empty"


def test_digest_off_sends_nothing(world: World) -> None:
    build_team(world)
    with world.sessions.begin() as session:
        digest_plans.set_digest(session, "T0001", MANAGER, False)
    world.clock.run_pass(DIGEST_AT)
    assert digest_messages(world.fake) == []


def test_a_failing_upload_is_retried_without_reposting_the_summary(world: World) -> None:
    build_team(world)
    world.fake.fail("files.completeUploadExternal", status=200, error="internal_error", times=-1)
    report = world.clock.run_pass(DIGEST_AT)
    assert report.digests_failed == 1 and len(digest_messages(world.fake)) == 1 and charts(world.fake) == []
    world.fake.clear_faults()
    world.clock.run_pass(DIGEST_AT + timedelta(minutes=5))
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1
    with world.sessions() as session:
        assert session.execute(select(DigestDelivery.status)).scalar_one() == "sent"


def test_a_rate_limited_post_is_sent_once(world: World) -> None:
    build_team(world)
    world.fake.fail("chat.postMessage", status=429, retry_after=0, times=1)
    world.clock.run_pass(DIGEST_AT)
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1


def test_a_clock_that_died_after_posting_does_not_post_again(world: World) -> None:
    """The summary reached Slack but the clock was killed before recording it: the next clock finds it
    by its metadata, and the chart the same way by its file name."""
    build_team(world)
    world.clock.run_pass(DIGEST_AT)
    with world.sessions.begin() as session:  # rewind the row to "claimed, then the process died"
        session.execute(
            update(DigestDelivery).values(
                status="sending", message_ts=None, chart_file_id=None, claimed_at=DIGEST_AT, claim_token="dead"
            )
        )
    world.new_clock().run_pass(DIGEST_AT + timedelta(minutes=20))
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1
    with world.sessions() as session:
        row = session.execute(select(DigestDelivery)).scalar_one()
        assert row.status == "sent" and row.message_ts == digest_messages(world.fake)[0]["ts"]


def test_two_clocks_send_one_digest(world: World) -> None:
    build_team(world)
    world.run_together([world.new_clock(), world.new_clock()], DIGEST_AT)
    assert len(digest_messages(world.fake)) == 1 and len(charts(world.fake)) == 1


def test_a_digest_days_late_is_recorded_as_missed(world: World) -> None:
    build_team(world)
    world.clock.run_pass(DIGEST_AT + timedelta(days=4))
    assert digest_messages(world.fake) == []
    with world.sessions() as session:
        assert session.execute(select(DigestDelivery.status)).scalar_one() == "missed"


def test_chart_file_is_named_after_its_row() -> None:
    assert chart_filename(42) == "ladderbot-team-digest-42.png"


def test_the_digest_follows_a_time_zone_change(world: World) -> None:
    build_team(world)
    with world.sessions.begin() as session:
        manager = repo.get_person(session, "T0001", MANAGER)
        assert manager is not None
        growth.set_timezone(session, manager, "Asia/Kolkata", DIGEST_AT)
    with world.sessions() as session:
        manager = repo.get_person(session, "T0001", MANAGER)
        assert manager is not None
        digest = digest_plans.digest_of(session, manager)
        assert digest is not None
        assert digest.tz == "Asia/Kolkata" and digest.next_due_at == DIGEST_AT + timedelta(
            days=7, hours=-5, minutes=-30
        )
