"""The install pages in headless Chromium (Debian's, through Playwright, set up as the sandbox's browser tests
are), against the real `ladderbot serve` in OAuth mode and the fake Slack's authorize page, on SQLite and
PostgreSQL: a good install ends on a success page; a forged, reused or expired state and a cancelled install
each end on a clear error page and store nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.storage import engine as db
from bot.storage.models import Installation, OAuthState, utcnow
from tests.install_world import raw_rows, state_of
from tests.test_sandbox_browser import CHROMIUM_ARGS, TIMEOUT_MS, chromium_path, playwright_api


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium); the browser tests need Debian's build")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def engine(running):
    engine = db.make_engine(running.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def to_authorize_page(page, running) -> None:
    """Our Add to Slack page, then Slack's (the fake's) authorize page."""
    page.goto(f"http://127.0.0.1:{running.port}/slack/install")
    page.get_by_role("link", name="Add to Slack").click()
    page.wait_for_selector("#allow")


def test_a_good_install_ends_on_a_success_page(page, running, engine):
    to_authorize_page(page, running)
    page.select_option("#workspace", "T0BBB")
    page.click("#allow")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "ladderbot is installed"
    assert "installed in Beta Ltd" in page.inner_text("body")
    assert [r["install_key"] for r in raw_rows(engine, "installations")] == ["T0BBB"]


def test_a_cancelled_install_ends_on_an_error_page_and_stores_nothing(page, running, engine):
    to_authorize_page(page, running)
    page.click("#cancel")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "ladderbot was not installed"
    assert "The install was cancelled in Slack" in page.inner_text("body")
    assert page.get_by_role("link", name="Start the install again").get_attribute("href") == "/slack/install"
    assert raw_rows(engine, "installations") == []


def test_a_forged_state_ends_on_an_error_page_and_stores_nothing(page, running, engine):
    to_authorize_page(page, running)
    page.eval_on_selector("input[name=state]", "input => { input.value = 'forged-by-someone-else' }")
    page.click("#allow")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "ladderbot was not installed"
    assert "not started in this browser" in page.inner_text("body")
    assert raw_rows(engine, "installations") == []


def test_an_expired_state_ends_on_an_error_page_and_stores_nothing(page, running, engine):
    to_authorize_page(page, running)
    with engine.begin() as connection:  # the person came back to Slack's page after the link's 10 minutes
        connection.execute(update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1)))
    page.click("#allow")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "ladderbot was not installed"
    assert "expired or has already been used" in page.inner_text("body")
    assert raw_rows(engine, "installations") == []


def test_a_reused_state_ends_on_an_error_page_and_stores_nothing(page, running, engine):
    to_authorize_page(page, running)
    page.click("#allow")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "ladderbot is installed"
    redirect = page.url
    with engine.begin() as connection:
        connection.execute(Installation.__table__.delete())
    # the same answer from Slack again, even with the state's cookie put back (a replay from this browser)
    page.context.add_cookies(
        [{"name": "slack-app-oauth-state", "value": state_of(redirect), "url": f"http://127.0.0.1:{running.port}/"}]
    )
    page.goto(redirect)
    assert page.inner_text("h1") == "ladderbot was not installed"
    assert "expired or has already been used" in page.inner_text("body")
    # and without it, as the success page cleared it
    page.context.clear_cookies()
    page.goto(redirect)
    assert "not started in this browser" in page.inner_text("body")
    assert raw_rows(engine, "installations") == []
