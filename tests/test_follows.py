"""Consent, straight on the service (one rolled-back session per test, both backends): who may ask, answer,
leave and remove, and what each refusal is. The same rules through the real server are in
tests/test_team_server.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from bot.errors import NotFound, NotYours, RefusedError
from bot.growth import plans as growth
from bot.storage.models import Follow
from bot.team import digest_plans, follows
from bot.team.follows import NOT_YOUR_INVITATION, NOT_YOURS_TO_CHANGE, REINVITE_AFTER

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEAM = "T0001"


def ask(session: Session, follower: str, report: str, now: datetime = NOW) -> follows.InviteOutcome:
    (outcome,) = follows.invite(session, TEAM, follower, [report], now)
    return outcome


def asked(session: Session, follower: str, report: str, now: datetime = NOW) -> int:
    outcome = ask(session, follower, report, now)
    assert outcome.outcome == "asked" and outcome.follow_id is not None, outcome
    return outcome.follow_id


def test_asking_again_depends_on_the_answer(db_session: Session) -> None:
    follow_id = asked(db_session, "UMGR", "UALICE")
    assert ask(db_session, "UMGR", "UALICE").outcome == "already_asked"
    follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=False, now=NOW)
    assert ask(db_session, "UMGR", "UALICE", NOW + timedelta(days=1)).outcome == "declined_recently"
    again = ask(db_session, "UMGR", "UALICE", NOW + REINVITE_AFTER)
    assert again.outcome == "asked" and again.follow_id == follow_id  # the same row, pending again
    follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=True)
    assert ask(db_session, "UMGR", "UALICE").outcome == "already_following"


def test_only_the_invited_person_answers(db_session: Session) -> None:
    follow_id = asked(db_session, "UMGR", "UALICE")
    for user, team_id in (("UMALLORY", TEAM), ("UALICE", "T0OTHER")):
        growth.ensure_person(db_session, team_id, user)
    # a stranger, the follower, the invited person's id in another workspace, and someone never seen
    for user, team_id in (("UMALLORY", TEAM), ("UMGR", TEAM), ("UALICE", "T0OTHER"), ("UNEVERSEEN", TEAM)):
        with pytest.raises(NotYours, match=NOT_YOUR_INVITATION):
            follows.answer_invite(db_session, team_id, user, follow_id, accept=True)
        with pytest.raises(NotYours, match=NOT_YOURS_TO_CHANGE):
            follows.leave(db_session, team_id, user, follow_id)
    with pytest.raises(NotFound, match=NOT_YOUR_INVITATION):
        follows.answer_invite(db_session, TEAM, "UALICE", follow_id + 1000, accept=True)
    assert db_session.get(Follow, follow_id).status == "pending"  # type: ignore[union-attr]


def test_an_invitation_is_answered_once(db_session: Session) -> None:
    follow_id = asked(db_session, "UMGR", "UALICE")
    view = follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=True, now=NOW)
    assert (view.follower, view.report, view.status) == ("UMGR", "UALICE", "accepted")
    with pytest.raises(RefusedError, match="already answered"):
        follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=False)
    assert follows.follow_for_report(db_session, TEAM, "UALICE", follow_id).status == "accepted"
    follows.remove(db_session, TEAM, "UMGR", ["UALICE"])
    with pytest.raises(NotFound, match="withdrawn or has ended"):
        follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=True)


def test_the_follower_is_told_once_and_only_of_an_acceptance(db_session: Session) -> None:
    follow_id = asked(db_session, "UMGR", "UALICE")
    assert not follows.claim_follower_notice(db_session, follow_id)  # pending: nothing to tell
    follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=True)
    assert follows.claim_follower_notice(db_session, follow_id, NOW)
    assert not follows.claim_follower_notice(db_session, follow_id, NOW)


def test_leaving_and_removing(db_session: Session) -> None:
    alice = asked(db_session, "UMGR", "UALICE")
    bob = asked(db_session, "UMGR", "UBOB")
    asked(db_session, "UMGR", "UCAROL")
    follows.answer_invite(db_session, TEAM, "UALICE", alice, accept=True)
    assert [(f.follower, f.status) for f in follows.followers_of(db_session, TEAM, "UALICE")] == [("UMGR", "accepted")]
    assert follows.home_counts(db_session, growth.ensure_person(db_session, TEAM, "UMGR")) == (0, 1)
    assert follows.leave(db_session, TEAM, "UALICE", alice, NOW).status == "left"
    assert follows.leave(db_session, TEAM, "UBOB", bob, NOW).status == "declined"  # a pending one is turned down
    assert follows.leave(db_session, TEAM, "UBOB", bob, NOW).status == "declined"  # and stays so
    assert follows.followers_of(db_session, TEAM, "UALICE") == []
    assert follows.remove(db_session, TEAM, "UMGR", ["UALICE", "UCAROL", "UNOBODY"]) == ["UCAROL"]
    assert follows.remove(db_session, TEAM, "UNEVERSEEN", ["UALICE"]) == []
    assert follows.followers_of(db_session, TEAM, "UNEVERSEEN") == []


def test_an_invitation_that_could_not_be_sent_is_withdrawn(db_session: Session) -> None:
    follow_id = asked(db_session, "UMGR", "UALICE")
    follows.record_invite_message(db_session, follow_id, "DALICE", "1.2")
    view = follows.follow_for_report(db_session, TEAM, "UALICE", follow_id)
    assert (view.channel, view.ts) == ("DALICE", "1.2")
    follows.withdraw_unsent(db_session, follow_id)
    assert ask(db_session, "UMGR", "UALICE").outcome == "asked"  # nobody was asked, so ask again at once


def test_the_export_holds_only_ones_own_side(db_session: Session) -> None:
    follow_id = asked(db_session, "UMGR", "UALICE")
    follows.answer_invite(db_session, TEAM, "UALICE", follow_id, accept=True)
    digest_plans.set_digest(db_session, TEAM, "UMGR", True, weekday=4, local_time="16:30", now=NOW)
    manager = follows.relations_for_export(db_session, growth.ensure_person(db_session, TEAM, "UMGR"))
    assert [(f["user_id"], f["status"]) for f in manager["following"]] == [("UALICE", "accepted")]
    assert manager["followers"] == []
    assert manager["team_digest"] == {"enabled": True, "weekday": 4, "local_time": "16:30", "time_zone": "UTC"}
    alice = follows.relations_for_export(db_session, growth.ensure_person(db_session, TEAM, "UALICE"))
    assert [f["user_id"] for f in alice["followers"]] == ["UMGR"] and alice["team_digest"] is None


def test_the_digest_setting(db_session: Session) -> None:
    person = growth.ensure_person(db_session, TEAM, "UMGR")
    assert digest_plans.digest_of(db_session, person) is None
    digest = digest_plans.set_digest(db_session, TEAM, "UMGR", True, now=NOW)
    assert (digest.weekday, digest.local_time, digest.tz) == (0, "09:00", "UTC")
    assert digest.next_due_at is not None and digest.next_due_at > NOW
    digest = digest_plans.set_digest(db_session, TEAM, "UMGR", False, now=NOW)
    assert digest.next_due_at is None and digest_plans.digest_of(db_session, person) is digest
