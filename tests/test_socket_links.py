"""Socket Mode with more server processes than Slack allows connections (10 per app): one warning at
start-up, from whichever process gets there first (the server's shared record decides), none at 10 or fewer."""

from __future__ import annotations

import logging
import multiprocessing

import pytest

from bot.config import Settings
from bot.web.socket_mode import SLACK_MAX_LINKS, HandledEnvelopes, warn_about_links

GOOD = {"SLACK_APP_TOKEN": "xapp-1-test", "SLACK_BOT_TOKEN": "xoxb-test", "DATABASE_URL": "sqlite:///x.sqlite3"}


def settings(processes: int) -> Settings:
    return Settings.from_env({**GOOD, "WEB_CONCURRENCY": str(processes)})


def _warns_in_another_process(path: str, processes: int, out: multiprocessing.Queue) -> None:
    out.put(warn_about_links(settings(processes), HandledEnvelopes(path)))  # type: ignore[arg-type]


@pytest.fixture
def handled():
    record = HandledEnvelopes.create()
    yield record
    record.remove()


def test_more_processes_than_slack_allows_links_warns_once_per_server(handled, caplog):
    caplog.set_level(logging.WARNING, logger="bot.web.socket_mode")
    assert warn_about_links(settings(12), handled) is True
    (record,) = caplog.records
    assert (
        "WEB_CONCURRENCY is 12" in record.getMessage() and "at most 10 Socket Mode connections" in record.getMessage()
    )
    assert "to 10 or fewer" in record.getMessage()
    # the server's other processes (forked, sharing the record) stay quiet
    queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(
        target=_warns_in_another_process, args=(str(handled.path), 12, queue)
    )
    process.start()
    process.join(30)
    assert queue.get(timeout=5) is False
    assert len(caplog.records) == 1


def test_up_to_ten_processes_say_nothing(handled, caplog):
    caplog.set_level(logging.WARNING, logger="bot.web.socket_mode")
    assert warn_about_links(settings(SLACK_MAX_LINKS), handled) is False
    assert warn_about_links(settings(1), handled) is False
    assert caplog.records == []
