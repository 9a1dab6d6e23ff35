"""GrowthDesk, what the growth listeners call, tested directly on a migrated database (both backends):
ownership checks, form refusals under the right block, the App Home, time zones."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.content.records import Content
from bot.growth import plans as growth
from bot.growth.desk import GrowthDesk
from bot.ids import ActionId, BlockId
from bot.storage import people as repo
from bot.storage.models import Delivery
from bot.team import follows
from bot.testing.fakeslack import FakeSlack
from tests import factories
from tests.test_growth_forms import setup_values

TEAM = factories.TEAM


@pytest.fixture
def desk(sessions: sessionmaker[Session], content: Content) -> GrowthDesk:
    return GrowthDesk(sessions, content, home_counts=follows.home_counts)


@pytest.fixture
def nudge_id(sessions: sessionmaker[Session], content: Content) -> int:
    """One sent nudge of U0001, who has a plan."""
    with sessions.begin() as session:
        owner = factories.person(session, "U0001")
        factories.plan(session, content, owner)
        (sent,) = factories.deliveries(session, owner, content.prompts[0].id, [None])
        return sent.id


def answer_of(sessions: sessionmaker[Session], delivery_id: int) -> str | None:
    with sessions() as session:
        found = session.get(Delivery, delivery_id)
        assert found is not None
        return found.answer


def test_only_the_owner_answers_a_nudge(desk: GrowthDesk, sessions: sessionmaker[Session], nudge_id: int) -> None:
    assert not desk.answer_nudge(TEAM, "USTRANGER", str(nudge_id), "done")
    assert not desk.answer_nudge(TEAM, "U0001", "mangled", "done")
    assert not desk.answer_nudge(TEAM, "U0001", "²", "done")  # a digit int() refuses: refused, not a crash
    assert not desk.answer_nudge(TEAM, "U0001", "999999", "done")  # no such nudge
    assert answer_of(sessions, nudge_id) is None
    assert desk.answer_nudge(TEAM, "U0001", str(nudge_id), "done")
    assert answer_of(sessions, nudge_id) == "done"


def test_reflections_on_someone_elses_nudge_are_refused(desk: GrowthDesk, nudge_id: int) -> None:
    def values(text: str) -> dict[str, object]:
        return {BlockId.REFLECTION_TEXT: {ActionId.REFLECTION_TEXT: {"value": text}}}

    assert desk.save_reflection(TEAM, "U0001", values("  "), str(nudge_id)) == {
        BlockId.REFLECTION_TEXT: "Write a few words first."
    }
    assert desk.save_reflection(TEAM, "USTRANGER", values("mine"), str(nudge_id)) == {
        BlockId.REFLECTION_TEXT: "That nudge is not yours."
    }
    assert desk.save_reflection(TEAM, "U0001", values("I did it"), str(nudge_id)) == {}


def test_setup_refusals_land_under_their_block(desk: GrowthDesk, sessions: sessionmaker[Session]) -> None:
    errors = desk.save_setup(TEAM, "U0002", setup_values(level="senior", target="junior"))
    assert list(errors) == [BlockId.SETUP_TARGET] and "below your level" in errors[BlockId.SETUP_TARGET]
    assert desk.save_setup(TEAM, "U0002", setup_values(focus=())) == {BlockId.SETUP_FOCUS: "Pick one to three areas."}
    assert desk.save_setup(TEAM, "U0002", setup_values()) == {}
    with sessions() as session:
        person = repo.get_person(session, TEAM, "U0002")
        assert person is not None
        plan = growth.get_plan(session, person)
        assert plan is not None and (plan.level, plan.weekday, plan.local_time) == ("senior", 3, "08:15")


def test_pause_and_resume_without_a_plan_change_nothing(desk: GrowthDesk) -> None:
    desk.pause_or_resume(TEAM, "U0003", pause=True, weeks="2")  # refused quietly: no plan, nothing to pause
    desk.pause_or_resume(TEAM, "U0003", pause=False)
    assert "Set up my growth plan" in str(desk.home_view(TEAM, "U0003"))


def test_home_shows_the_plan_and_pause_button(desk: GrowthDesk, nudge_id: int) -> None:
    home = str(desk.home_view(TEAM, "U0001"))
    assert "Mid-level" in home and ActionId.GROWTH_PAUSE in home
    for mangled in ("abc", "²", ""):  # a Pause button whose value is no number changes nothing
        desk.pause_or_resume(TEAM, "U0001", pause=True, weeks=mangled)
        assert "Paused until" not in str(desk.home_view(TEAM, "U0001"))
    desk.pause_or_resume(TEAM, "U0001", pause=True, weeks="99")  # clamped to 52 weeks
    home = str(desk.home_view(TEAM, "U0001"))
    assert "Paused until" in home and ActionId.GROWTH_RESUME in home


def test_a_new_zone_moves_the_plan_and_never_creates_a_person(
    desk: GrowthDesk, sessions: sessionmaker[Session], nudge_id: int
) -> None:
    desk.set_timezone(TEAM, "UNOBODY", "Asia/Tokyo")
    desk.set_timezone(TEAM, "U0001", "Asia/Tokyo")
    with sessions() as session:
        assert repo.get_person(session, TEAM, "UNOBODY") is None
        person = repo.get_person(session, TEAM, "U0001")
        assert person is not None
        plan = growth.get_plan(session, person)
        assert plan is not None and plan.tz == "Asia/Tokyo"


def test_forget_deletes_the_person(desk: GrowthDesk, sessions: sessionmaker[Session], nudge_id: int) -> None:
    desk.forget(TEAM, "U0001")
    with sessions() as session:
        assert repo.get_person(session, TEAM, "U0001") is None


def test_after_a_reflection_only_the_authors_own_nudge_is_redrawn(
    desk: GrowthDesk, sessions: sessionmaker[Session], nudge_id: int, fake_slack: FakeSlack
) -> None:
    fake_slack.add_user("U0001")
    client = WebClient(token="xoxb-test", base_url=fake_slack.url)
    posted = client.chat_postMessage(channel="U0001", text="the nudge")
    channel, ts = str(posted["channel"]), str(posted["ts"])
    with sessions.begin() as session:
        sent = session.get(Delivery, nudge_id)
        assert sent is not None
        sent.channel_id, sent.message_ts = channel, ts
    desk.after_reflection(client, TEAM, "USTRANGER", str(nudge_id))  # someone else's metadata: no redraw
    desk.after_reflection(client, TEAM, "U0001", "mangled")
    assert fake_slack.calls_to("chat.update") == [] and len(fake_slack.calls_to("views.publish")) == 2
    desk.after_reflection(client, TEAM, "U0001", str(nudge_id))
    (update,) = fake_slack.calls_to("chat.update")
    assert update.params["channel"] == channel and update.params["ts"] == ts
