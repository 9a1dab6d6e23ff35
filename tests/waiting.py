"""Waiting on a condition instead of sleeping a fixed time: fast when the condition comes early, and a
clear failure (not a flaky assertion later) when it never comes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from bot.testing.fakeslack import FakeSlack

T = TypeVar("T")

POLL_SECONDS = 0.01


def wait_until(predicate: Callable[[], T], timeout: float = 10, *, what: str = "") -> T:
    """Call `predicate` until it returns something truthy, and return that. Raises AssertionError after
    `timeout` seconds, naming `what` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or repr(predicate)}")
        time.sleep(POLL_SECONDS)


def stays(predicate: Callable[[], object], seconds: float) -> bool:
    """True when `predicate` holds for the whole of `seconds` (polled): for "nothing more happens" checks,
    where no event marks the end and only the passing of time can show it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(POLL_SECONDS)
    return bool(predicate())


def response_to(fake: FakeSlack, url: str, timeout: float = 20) -> dict[str, Any]:
    """The first answer posted to the response URL `url` (lazy listeners answer in the background). Matched by
    its URL: on the run's shared fake Slack, a late answer to an earlier test's URL may land at any moment."""
    url_id = url.rsplit("/", 1)[-1]
    found = wait_until(
        lambda: [r for r in list(fake.responses) if r.get("url_id") == url_id], timeout, what=f"an answer to {url}"
    )
    return found[0]
