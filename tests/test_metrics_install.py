"""Token refreshes counted (bot.install.store): a real server in OAuth mode refreshes an expiring bot token when a
request for its workspace comes in, and its /metrics says so; a refresh Slack refuses, as the clock asks for a
workspace's token, is counted as failed, and the next one that works as ok."""

from __future__ import annotations

from prometheus_client import REGISTRY

from bot.install import Installs
from bot.services import make_web_client
from bot.storage import engine as db
from tests.install_world import install, oauth_settings
from tests.test_metrics import scrape, value
from tests.waiting import wait_until


def refresh_calls(fake_slack) -> list[str | None]:
    """Slack's answer (None: ok, else its error) to each refresh-token exchange so far."""
    calls = fake_slack.calls_to("oauth.v2.access")
    return [c.response.get("error") for c in calls if c.params.get("grant_type") == "refresh_token"]


def test_a_refresh_on_the_request_path_is_counted(running, oauth, fake_slack):
    oauth.token_lifetime = 60  # the install's token is about to expire: its next use refreshes it
    install(running, "T0AAA")
    oauth.token_lifetime = 43_200
    already = oauth.refreshes  # whatever the install itself may have refreshed
    samples = scrape(running)
    assert value(samples, "ladderbot_token_refreshes_total", outcome="ok") == already

    reply = running.sender.command("/ladder", "senior", team_id="T0AAA", user_id="U1")
    assert reply.status == 200 and "Senior" in reply.body.decode()
    assert oauth.refreshes == already + 1  # Bolt's authorization found the token expiring and it was refreshed

    def counted() -> dict:
        samples = scrape(running)
        return samples if value(samples, "ladderbot_token_refreshes_total", outcome="ok") == already + 1 else {}

    samples = wait_until(counted, what="the refresh counted")
    assert value(samples, "ladderbot_token_refreshes_total", outcome="failed") == 0


def test_a_refused_refresh_is_counted_as_failed(running, oauth, fake_slack):
    oauth.token_lifetime = 60
    install(running, "T0BBB")
    oauth.token_lifetime = 43_200
    (token,) = oauth.tokens_of("T0BBB")
    settings = oauth_settings(fake_slack, running.database_url)
    engine = db.make_engine(running.database_url)
    installs = Installs(settings, db.make_session_factory(engine), make_web_client(settings))

    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("ladderbot_token_refreshes_total", {"outcome": outcome}) or 0.0

    ok, failed = count("ok"), count("failed")
    try:
        fake_slack.fail("oauth.v2.access", error="invalid_refresh_token", times=1)
        assert installs.token_for("T0BBB") == token  # refused: the current token is still used until it expires
        assert refresh_calls(fake_slack)[-1] == "invalid_refresh_token"
        assert (count("ok"), count("failed")) == (ok, failed + 1)

        renewed = installs.token_for("T0BBB")  # the next use tries again, and Slack agrees
        assert renewed != token and renewed in oauth.tokens_of("T0BBB")
        assert refresh_calls(fake_slack)[-1] is None
        assert (count("ok"), count("failed")) == (ok + 1, failed + 1)
    finally:
        engine.dispose()
