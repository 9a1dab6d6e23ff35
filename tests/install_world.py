"""Helpers for the several-workspace (OAuth) tests: the bot's OAuth settings against the fake Slack, a
browser-less install through the real pages, and reading what the database holds."""

from __future__ import annotations

import http.cookiejar
import re
import sys
import urllib.request
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlparse

from sqlalchemy import Engine, text

from bot.config import DEFAULT_SCOPES, Settings
from bot.install import new_key
from bot.testing.fakeslack import FakeSlack
from bot.testing.fakeslack.oauth import FakeOAuth, oauth_of
from tests.server import RunningServer, start_server
from tests.slack_requests import SIGNING_SECRET

KEY = new_key()


def fake_oauth(fake: FakeSlack) -> FakeOAuth:
    oauth = oauth_of(fake.state)
    oauth.reset()
    return oauth


def oauth_env(fake: FakeSlack, keys: str = KEY) -> dict[str, str]:
    oauth = oauth_of(fake.state)
    return {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": oauth.client_id,
        "SLACK_CLIENT_SECRET": oauth.client_secret,
        "SLACK_TOKEN_ENCRYPTION_KEYS": keys,
    }


def oauth_settings(fake: FakeSlack, database_url: str, keys: tuple[str, ...] = (KEY,)) -> Settings:
    oauth = oauth_of(fake.state)
    return Settings(
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.url,
        database_url=database_url,
        slack_client_id=oauth.client_id,
        slack_client_secret=oauth.client_secret,
        slack_scopes=DEFAULT_SCOPES,
        token_encryption_keys=keys,
    )


def start_oauth_server(fake: FakeSlack, database_url: str, **extra_env: str) -> RunningServer:
    server = start_server(
        fake.url,
        database_url,
        command=[sys.executable, "-m", "bot", "serve", "--no-clock"],
        **{**oauth_env(fake), **extra_env},
    )
    oauth_of(fake.state).redirect_url = f"http://127.0.0.1:{server.port}/slack/oauth_redirect"
    return server


@dataclass
class Page:
    status: int
    url: str
    html: str


class Browser:
    """A cookie-keeping HTTP client that follows redirects: enough of a browser for the install pages."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, url: str) -> Page:
        try:
            with self.opener.open(url, timeout=10) as response:
                page = Page(response.status, response.geturl(), response.read().decode())
        except HTTPError as exc:
            page = Page(exc.code, exc.geturl(), exc.read().decode())
        for cookie in self.cookies:
            # Bolt marks its state cookie Secure; browsers treat http://127.0.0.1 as a secure origin, the
            # standard library's cookie jar does not
            cookie.secure = False
        return page


def add_to_slack_link(html: str) -> str:
    found = re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', html)
    assert found, html
    return unescape(found.group(1))


def decide(authorize_link: str, *, workspace: str, allow: bool = True) -> str:
    """The URL the fake's authorize page sends the browser to on Allow (or Cancel) for `workspace`."""
    decision = "allow" if allow else "cancel"
    return (
        authorize_link.replace("/oauth/v2/authorize?", "/oauth/v2/authorize/decide?")
        + f"&workspace={workspace}&decision={decision}"
    )


def install(server: RunningServer, workspace: str, *, browser: Browser | None = None, allow: bool = True) -> Page:
    """The whole flow: our Add to Slack page, the fake's authorize page, back to our redirect page."""
    browser = browser or Browser()
    start = browser.get(f"http://127.0.0.1:{server.port}/slack/install")
    assert start.status == 200, start.html
    return browser.get(decide(add_to_slack_link(start.html), workspace=workspace, allow=allow))


def state_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["state"][0]


def raw_rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text(f"SELECT * FROM {table}"))]
