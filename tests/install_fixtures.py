"""Fixtures for the tests of several workspaces over OAuth (a pytest plugin, named in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.testing.fakeslack import FakeSlack
from bot.testing.fakeslack.oauth import FakeOAuth
from tests.install_world import fake_oauth, start_oauth_server
from tests.server import RunningServer


@pytest.fixture
def oauth(fake_slack: FakeSlack) -> Iterator[FakeOAuth]:
    """The fake's OAuth side with two workspaces, Alpha Corp (T0AAA) and Beta Ltd (T0BBB), to install."""
    oauth = fake_oauth(fake_slack)
    oauth.add_workspace("T0AAA", "Alpha Corp")
    oauth.add_workspace("T0BBB", "Beta Ltd")
    yield oauth
    oauth.reset()


@pytest.fixture
def running(fake_slack: FakeSlack, database_url: str, oauth: FakeOAuth) -> Iterator[RunningServer]:
    """`ladderbot serve` in OAuth mode against the fake, nothing installed yet."""
    server = start_oauth_server(fake_slack, database_url)
    yield server
    server.stop()
