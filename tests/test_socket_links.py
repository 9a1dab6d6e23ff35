"""Socket Mode with more server processes than Slack allows connections (10 per app): one warning at
start-up, from the server's first process before the fork, none at 10 or fewer."""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.web.socket_mode import SLACK_MAX_LINKS, warn_about_links

GOOD = {"SLACK_APP_TOKEN": "xapp-1-test", "SLACK_BOT_TOKEN": "xoxb-test", "DATABASE_URL": "sqlite:///x.sqlite3"}


def settings(processes: int) -> Settings:
    return Settings.from_env({**GOOD, "WEB_CONCURRENCY": str(processes)})


def test_more_processes_than_slack_allows_links_warns_once_per_server(caplog):
    caplog.set_level(logging.WARNING, logger="bot.web.socket_mode")
    assert warn_about_links(settings(12)) is True
    (record,) = caplog.records
    assert (
        "WEB_CONCURRENCY is 12" in record.getMessage() and "at most 10 Socket Mode connections" in record.getMessage()
    )
    assert "to 10 or fewer" in record.getMessage()


def test_up_to_ten_processes_say_nothing(caplog):
    caplog.set_level(logging.WARNING, logger="bot.web.socket_mode")
    assert warn_about_links(settings(SLACK_MAX_LINKS)) is False
    assert warn_about_links(settings(1)) is False
    assert caplog.records == []
