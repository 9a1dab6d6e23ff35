"""Every refresh of a rotating bot token goes through the store's locked path (bot.install.store), never Bolt's own
token rotation, on SQLite and PostgreSQL: two real server processes and a clock asking at once for a workspace whose
token is about to expire make exactly one refresh call; and after Slack refuses a refresh, Bolt does not try again
with the refresh token it was handed (outside the lock, where another process may be using it too): the request is
served with the current token, the next ask for the token (here the welcome the request sends off the ack) refreshes
under the lock, and the workspace keeps working.

The fake Slack takes each refresh token once (bot.testing.fakeslack.oauth): a second use is answered
invalid_refresh_token, which with the real Slack can leave the workspace without a token until it reinstalls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.install import Installs
from bot.services import make_web_client
from bot.storage import engine as db
from bot.testing.fakeslack import FakeSlack
from tests.install_world import install, oauth_settings, raw_rows, start_oauth_server
from tests.server import RunningServer
from tests.slack_requests import Reply

LIFETIME = 43_200  # Slack's tokens last 12 hours
ABOUT_TO_EXPIRE = 60  # seconds: inside the two-hour window in which the store refreshes a token
SLOW_REFRESH = 0.3  # seconds the fake takes to answer oauth.v2.access: requests pile up on the row's lock
BOLT_ROTATION_FAILED = "Failed to rotate tokens"  # what Bolt logs when its own rotation is refused


@pytest.fixture
def second(running: RunningServer, fake_slack: FakeSlack) -> Iterator[RunningServer]:
    """Another `ladderbot serve` process on the same database (a second server of the same app)."""
    server = start_oauth_server(fake_slack, running.database_url)
    yield server
    server.stop()


@pytest.fixture
def clock_installs(running: RunningServer, fake_slack: FakeSlack) -> Iterator[Installs]:
    """The installations as a clock process sees them: its own engine, its own store."""
    settings = oauth_settings(fake_slack, running.database_url)
    engine = db.make_engine(running.database_url)
    yield Installs(settings, db.make_session_factory(engine), make_web_client(settings))
    engine.dispose()


def install_expiring(running: RunningServer, oauth: Any, team_id: str) -> str:
    """Install `team_id` with a token about to expire (tokens issued later last 12 hours); its token."""
    oauth.token_lifetime = ABOUT_TO_EXPIRE
    install(running, team_id)
    oauth.token_lifetime = LIFETIME
    (token,) = oauth.tokens_of(team_id)
    return token


def refresh_answers(fake: FakeSlack) -> list[str | None]:
    """Slack's answer to each refresh-token exchange so far, in order: None when it worked, else its error."""
    calls = fake.calls_to("oauth.v2.access")
    return [c.response.get("error") for c in calls if c.params.get("grant_type") == "refresh_token"]


def ladder(server: RunningServer, team_id: str, user_id: str) -> Reply:
    return server.sender.command("/ladder", "senior", team_id=team_id, user_id=user_id)


def served(reply: Reply) -> bool:
    return reply.status == 200 and "Senior" in reply.body.decode()


def all_at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run each job on its own thread, released together; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(n: int) -> None:
        barrier.wait()
        results[n] = jobs[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def installation(running: RunningServer, team_id: str) -> dict[str, Any]:
    """The installation's row as stored, read in a fresh connection."""
    engine = db.make_engine(running.database_url)
    try:
        (row,) = [r for r in raw_rows(engine, "installations") if r["install_key"] == team_id]
    finally:
        engine.dispose()
    return row


def test_two_servers_and_a_clock_at_once_refresh_an_expiring_token_once(
    running, second, clock_installs, oauth, fake_slack
):
    old_token = install_expiring(running, oauth, "T0AAA")
    fake_slack.reset()
    fake_slack.slow("oauth.v2.access", SLOW_REFRESH)

    jobs: list[Callable[[], Any]] = [lambda: clock_installs.token_for("T0AAA")]
    for n, server in enumerate([running, second] * 3):
        jobs.append(lambda server=server, n=n: ladder(server, "T0AAA", f"U{n}"))
    clock_token, *replies = all_at_once(jobs)

    assert all(served(reply) for reply in replies), [r.body for r in replies]
    assert refresh_answers(fake_slack) == [None]  # one refresh reached Slack, and it worked
    assert oauth.refreshes == 1
    (new_token,) = [t for t in oauth.tokens_of("T0AAA") if t != old_token]
    assert clock_token == new_token
    tested = fake_slack.calls_to("auth.test")
    assert tested and {c.token for c in tested} == {new_token}  # every request waited for the new token
    for server in (running, second):
        assert "invalid_refresh_token" not in server.log() and BOLT_ROTATION_FAILED not in server.log()

    fake_slack.reset()  # the new token lasts: nothing refreshes it again
    assert served(ladder(second, "T0AAA", "U9")) and clock_installs.token_for("T0AAA") == new_token
    assert refresh_answers(fake_slack) == [] and oauth.refreshes == 1


@pytest.mark.parametrize("asker", ["someone", "the installer"])
def test_after_a_refused_refresh_bolt_does_not_rotate_with_the_stale_token(
    running, clock_installs, oauth, fake_slack, asker
):
    """Before the fix, Bolt's authorize step (slack_bolt/authorization/authorize.py, the rotation after
    find_installation) tried the refresh token again on its own, outside the row's lock. For the installer it
    worked and Bolt saved the new tokens with the store's `save`, as if the workspace had been installed anew; for
    anyone else the store's look-up of that person's own installation had meanwhile refreshed under the lock, so
    Bolt's try reused a spent refresh token, Slack answered invalid_refresh_token and the request was refused."""
    old_token = install_expiring(running, oauth, "T0AAA")
    before = installation(running, "T0AAA")
    fake_slack.reset()
    fake_slack.fail("oauth.v2.access", error="internal_error", times=1)  # Slack refuses the next refresh, once

    user = oauth.installer if asker == "the installer" else "U1"
    reply = ladder(running, "T0AAA", user)
    assert served(reply), reply.body  # with the current token: it still works until it expires
    assert [c.token for c in fake_slack.calls_to("auth.test")] == [old_token]

    # A first use also welcomes the person, off the ack, after the request: that send asks the store for the
    # token, which refreshes it under the lock with the refresh token the refused try left unused. (Reading the
    # row before the welcome was sent raced with that refresh: CI once saw it land in between.)
    welcome = fake_slack.wait_for_calls("chat.postMessage", 1, where=lambda c: c.params.get("channel") == user)
    assert welcome, "no welcome"
    assert refresh_answers(fake_slack) == ["internal_error", None]  # the store's two tries, nobody else's
    assert oauth.refreshes == 1
    (new_token,) = [t for t in oauth.tokens_of("T0AAA") if t != old_token]
    assert welcome[0].token == new_token
    after = installation(running, "T0AAA")
    assert after["bot_refresh_token_encrypted"] != before["bot_refresh_token_encrypted"]
    assert after["refreshed_at"] is not None  # a refresh by the store ...
    assert after["installed_at"] == before["installed_at"]  # ... never saved as a new install by Bolt

    # the workspace keeps working, for requests and the clock, with no more refreshes
    assert served(ladder(running, "T0AAA", "U2"))
    assert fake_slack.calls_to("auth.test")[-1].token == new_token
    assert served(ladder(running, "T0AAA", "U3")) and clock_installs.token_for("T0AAA") == new_token
    assert refresh_answers(fake_slack) == ["internal_error", None] and oauth.refreshes == 1
    assert "invalid_refresh_token" not in running.log() and BOLT_ROTATION_FAILED not in running.log()


def test_a_refused_refresh_at_one_server_while_others_wait_on_the_lock(
    running, second, clock_installs, oauth, fake_slack
):
    """Requests at two servers and a clock at once; the first refresh is refused. The others, waiting on the row's
    lock meanwhile, refresh once after it: no refresh token is used twice, every request is served."""
    old_token = install_expiring(running, oauth, "T0BBB")
    fake_slack.reset()
    fake_slack.slow("oauth.v2.access", SLOW_REFRESH)
    fake_slack.fail("oauth.v2.access", error="internal_error", times=1)

    jobs: list[Callable[[], Any]] = [lambda: clock_installs.token_for("T0BBB")]
    for n, server in enumerate([running, second] * 3):
        jobs.append(lambda server=server, n=n: ladder(server, "T0BBB", f"U{n}"))
    clock_token, *replies = all_at_once(jobs)

    assert all(served(reply) for reply in replies), [r.body for r in replies]
    assert refresh_answers(fake_slack) == ["internal_error", None]  # refused once, then one refresh that worked
    assert oauth.refreshes == 1
    (new_token,) = [t for t in oauth.tokens_of("T0BBB") if t != old_token]
    assert clock_token in (old_token, new_token)
    for server in (running, second):
        assert "invalid_refresh_token" not in server.log() and BOLT_ROTATION_FAILED not in server.log()

    fake_slack.reset()
    assert served(ladder(running, "T0BBB", "U8")) and served(ladder(second, "T0BBB", "U9"))
    assert {c.token for c in fake_slack.calls_to("auth.test")} <= {new_token}
    assert clock_installs.token_for("T0BBB") == new_token
    assert refresh_answers(fake_slack) == [] and oauth.refreshes == 1
