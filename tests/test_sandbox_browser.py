"""The sandbox in a real browser: Playwright drives Debian's chromium (never a downloaded browser) against a
sandbox started on a free port with the demo year. Each test plays one person, so the tests share one
sandbox without stepping on each other.

Skipped, with the reason, when no chromium is installed; in CI (CI set, or root on a Debian machine, where
scripts/setup installs chromium) a missing browser fails the run instead. The screenshots the README shows
(README_SHOTS) go to $SANDBOX_SCREENSHOTS when set (`SANDBOX_SCREENSHOTS=docs` regenerates docs/sandbox*.png);
the others, and all of them when it is not set, to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content.records import Content
from bot.sandbox.server import RunningSandbox, SandboxOptions, start

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in CI and containers
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000
README_SHOTS = {"sandbox.png", "sandbox-modal.png", "sandbox-shortcut.png"}  # what README.md links in docs/


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def sandbox(content: Content, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    folder = tmp_path_factory.mktemp("sandbox")
    running = start(
        Settings(),
        content,
        SandboxOptions(port=0, database=folder / "sandbox.sqlite3", tick=False),
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        # CI runs as root on Debian, where scripts/setup installs chromium: a missing browser there is a failure
        if os.environ.get("CI") or (os.geteuid() == 0 and shutil.which("apt-get")):
            pytest.fail("chromium is not installed: scripts/setup installs it as root (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); the browser tests need Debian's build")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Screenshots:
    """Saves a page's screenshot: README's names to $SANDBOX_SCREENSHOTS when set, anything else to tmp."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.chosen = os.environ.get("SANDBOX_SCREENSHOTS")

    def save(self, page: object, name: str) -> Path:
        folder = Path(self.chosen) if self.chosen and name in README_SHOTS else self.tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name))  # type: ignore[attr-defined]
        return folder / name


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    return Screenshots(tmp_path)


class Slack:
    """The page, driven as a person uses it."""

    def __init__(self, page: object, url: str) -> None:
        self.page = page
        page.set_default_timeout(TIMEOUT_MS)  # type: ignore[attr-defined]
        page.goto(url)  # type: ignore[attr-defined]
        self.expect = playwright_api.expect
        self.expect(page.locator("#now")).not_to_have_text("…")  # type: ignore[attr-defined]

    def be(self, user_id: str) -> None:
        self.page.select_option("#person", user_id)  # type: ignore[attr-defined]
        self.shown()

    def go(self, conv: str) -> None:
        """To #general or the bot's DM from the rail; to the Home tab from the bot's page, as in Slack."""
        self.page.click("#rail-general" if conv == "general" else "#rail-dm")  # type: ignore[attr-defined]
        if conv == "home":
            self.page.click("#tab-home")  # type: ignore[attr-defined]
        self.shown()

    def shown(self) -> None:
        """Wait until the chosen person's chosen conversation is drawn."""
        self.page.wait_for_function(  # type: ignore[attr-defined]
            "() => { const box = document.getElementById('messages');"
            " return box.dataset.shown === document.getElementById('person').value + '/' + box.dataset.conv; }"
        )

    def run(self, command: str) -> None:
        self.page.fill("#composer", command)  # type: ignore[attr-defined]
        self.page.press("#composer", "Enter")  # type: ignore[attr-defined]

    def messages(self) -> object:
        return self.page.locator("#messages .sb-message")  # type: ignore[attr-defined]

    def last(self) -> object:
        return self.page.locator("#messages .sb-message").last  # type: ignore[attr-defined]

    def answer(self, command: str) -> object:
        """Run `command` and wait for the one new message it brings; that message."""
        before = self.messages().count()  # type: ignore[attr-defined]
        self.run(command)
        self.expect(self.messages()).to_have_count(before + 1)
        return self.messages().nth(before)  # type: ignore[attr-defined]


@pytest.fixture
def slack(browser: object, sandbox: RunningSandbox) -> Iterator[Slack]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    yield Slack(context.new_page(), sandbox.url)
    context.close()


def test_ladder_senior_renders_and_share_posts_it_in_general(slack: Slack, screenshots: Screenshots) -> None:
    slack.be("U0SAM")
    slack.go("general")
    slack.page.fill("#composer", "/la")  # type: ignore[attr-defined]
    suggestion = slack.page.locator("#suggestions li")  # type: ignore[attr-defined]
    slack.expect(suggestion).to_have_count(1)
    slack.expect(suggestion).to_contain_text("compare mid senior")  # the usage hint from manifest.yml
    slack.page.press("#composer", "Tab")  # type: ignore[attr-defined]
    slack.expect(slack.page.locator("#composer")).to_have_value("/ladder ")  # type: ignore[attr-defined]
    slack.run("/ladder senior")
    answer = slack.last()
    slack.expect(answer.locator(".bk-block-header")).to_contain_text("Senior")  # type: ignore[attr-defined]
    slack.expect(answer).to_contain_text("Only visible to you")
    screenshots.save(slack.page, "sandbox-ladder.png")
    answer.get_by_role("button", name="Share in channel").click()  # type: ignore[attr-defined]
    shared = slack.page.locator('#messages .sb-message[data-ephemeral="false"]')  # type: ignore[attr-defined]
    slack.expect(shared.locator(".bk-block-header")).to_contain_text("Senior")
    slack.be("U0KEMI")  # someone else sees the shared answer in #general, not the ephemeral one
    slack.expect(slack.messages()).to_have_count(1)


def test_growth_setup_modal_shows_an_error_under_the_field_then_saves(slack: Slack, screenshots: Screenshots) -> None:
    slack.be("U0ADA")
    slack.run("/growth setup")
    modal = slack.page.locator("#modal")  # type: ignore[attr-defined]
    slack.expect(modal).to_be_visible()
    submit = modal.locator('[data-view-action="submit"]')
    submit.click()  # nothing chosen yet
    slack.expect(modal.locator('[data-block-id="setup_level"] .bk-error')).to_have_text("Pick your level.")
    modal.locator('select[data-action-id="setup_level"]').select_option("mid")
    focus = modal.locator('select[data-action-id="setup_focus"]')
    areas = focus.locator("option:not([disabled])").evaluate_all("options => options.map(o => o.value)")
    focus.select_option(areas[:4])  # one area too many
    submit.click()
    slack.expect(modal.locator('[data-block-id="setup_focus"] .bk-error')).to_contain_text(
        re.compile("one to (three|3)")
    )
    slack.expect(modal.locator('[data-block-id="setup_level"] .bk-error')).to_have_count(0)
    screenshots.save(slack.page, "sandbox-modal.png")
    focus.select_option(areas[:2])
    submit.click()
    slack.expect(modal).to_be_hidden()
    slack.go("home")
    slack.expect(slack.page.locator("#messages .bk-home")).to_be_visible()  # type: ignore[attr-defined]


def test_home_tab_shows_what_views_publish_set(slack: Slack, sandbox: RunningSandbox) -> None:
    slack.be("U0ROHAN")
    slack.go("home")
    home = slack.page.locator("#messages .bk-home")  # type: ignore[attr-defined]
    slack.expect(home).to_contain_text(re.compile("senior", re.IGNORECASE))
    assert sandbox.fake.calls_to("views.publish")


def test_next_nudge_delivers_exactly_one_and_done_updates_it_in_place(slack: Slack, screenshots: Screenshots) -> None:
    slack.be("U0LENA")
    slack.page.wait_for_function("document.getElementById('now').dataset.now")  # type: ignore[attr-defined]
    before = slack.messages().count()  # type: ignore[attr-defined] # 0, unless another test moved time on
    slack.go("general")
    slack.page.click("#jump-next_nudge")  # type: ignore[attr-defined]
    slack.expect(slack.page.locator("#badge-dm")).to_have_text("1")  # type: ignore[attr-defined] # a new DM
    slack.go("dm")
    slack.expect(slack.page.locator("#badge-dm")).to_be_hidden()  # type: ignore[attr-defined]
    slack.expect(slack.messages()).to_have_count(before + 1)
    nudge = slack.last()
    done = nudge.get_by_role("button", name=re.compile("Done"))  # type: ignore[attr-defined]
    slack.expect(done).to_be_visible()
    screenshots.save(slack.page, "sandbox-nudge.png")
    done.click()
    slack.expect(done).to_have_count(0)  # the same message, redrawn with the answer
    slack.expect(slack.messages()).to_have_count(before + 1)


def test_manager_invites_the_report_accepts_and_team_shows_them(slack: Slack) -> None:
    slack.be("U0MAYA")
    slack.run("/growth team add @lucia")  # "Looking them up…", then a follow-up naming her
    slack.expect(slack.page.locator("#messages")).to_contain_text("@lucia")  # type: ignore[attr-defined]
    team = slack.answer("/growth team")
    waiting = team.locator(".bk-block-section", has_text="Waiting for an answer")  # type: ignore[attr-defined]
    slack.expect(waiting).to_contain_text("@lucia")
    slack.expect(team).not_to_contain_text(re.compile(r"@lucia: "))  # no plan line for her yet

    slack.be("U0LUCIA")
    invitation = slack.page.locator("#messages .sb-message", has_text="would like to follow")  # type: ignore[attr-defined]
    slack.expect(invitation).to_contain_text("@maya")
    invitation.get_by_role("button", name=re.compile("Accept")).click()
    slack.expect(invitation.get_by_role("button", name=re.compile("Accept"))).to_have_count(0)
    slack.expect(invitation).to_contain_text("You accepted")  # the same message, redrawn with her answer

    slack.be("U0MAYA")
    team = slack.answer("/growth team")
    slack.expect(team).to_contain_text(re.compile(r"@lucia: Junior[^\n]*→"))  # her plan: level → target
    slack.expect(team.locator(".bk-block-section", has_text="Waiting for an answer")).not_to_contain_text("@lucia")  # type: ignore[attr-defined]


def test_save_a_message_as_evidence_from_its_menu(slack: Slack, screenshots: Screenshots) -> None:
    slack.be("U0LENA")
    slack.go("general")
    slack.run("Shipped the pagination change behind a flag and measured it before turning it on")
    said = slack.page.locator("#messages .sb-message", has_text="pagination change")  # type: ignore[attr-defined]
    slack.expect(said).to_contain_text("Lena Fischer")
    said.hover()
    said.locator("[data-more]").click()
    menu = slack.page.locator("#more-menu")  # type: ignore[attr-defined]
    slack.expect(menu).to_be_visible()
    screenshots.save(slack.page, "sandbox-shortcut.png")
    menu.get_by_role("menuitem", name=re.compile("Save as growth evidence")).click()
    modal = slack.page.locator("#modal")  # type: ignore[attr-defined]
    slack.expect(modal.locator("textarea")).to_have_value(re.compile("pagination change"))
    slack.expect(modal.locator('[data-type="input"][data-block-id="evidence_expectations"]')).to_have_count(1)
    note = modal.locator('input[data-action-id="evidence_note"]')
    note.fill("I planned the flag rollout and wrote the monitoring for it")
    note.press("Enter")  # block_actions for the input: the bot answers with views.update
    slack.expect(modal.locator('[data-type="input"][data-block-id="evidence_expectations.1"]')).to_have_count(1)
    slack.expect(note).to_have_value("I planned the flag rollout and wrote the monitoring for it")
    modal.locator('[data-view-action="submit"]').click()
    slack.expect(modal).to_be_hidden()
    slack.go("dm")
    slack.expect(slack.answer("/growth evidence")).to_contain_text("pagination change")


def test_the_promotion_packet_opens_from_its_links(slack: Slack) -> None:
    slack.be("U0ROHAN")
    slack.answer("/growth evidence add Led the incident review for the checkout outage")
    slack.run("/growth packet")
    links = slack.page.locator("#messages a.bk-link[href^='/sandbox/files/']")  # type: ignore[attr-defined]
    slack.expect(links).to_have_count(2)
    for suffix, kind in ((".md", "text/markdown; charset=utf-8"), (".pdf", "application/pdf")):
        link = links.filter(has_text=suffix)
        slack.expect(link).to_have_count(1)
        response = slack.page.request.get(link.evaluate("a => a.href"))  # type: ignore[attr-defined]
        assert response.ok and response.headers["content-type"] == kind
        assert link.inner_text() in response.headers["content-disposition"]


def test_digest_arrives_with_its_chart(slack: Slack, sandbox: RunningSandbox, screenshots: Screenshots) -> None:
    slack.be("U0MAYA")
    slack.page.click("#jump-week")  # type: ignore[attr-defined]
    chart = slack.page.locator("#messages img[src^='/sandbox/files/']").first  # type: ignore[attr-defined]
    slack.expect(chart).to_be_visible()
    slack.page.wait_for_function(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll(\"#messages img[src^='/sandbox/files/']\")]"
        ".some(img => img.complete && img.naturalWidth > 100)"
    )
    assert sandbox.fake.calls_to("files.completeUploadExternal")
    slack.page.click("#log-toggle")  # type: ignore[attr-defined]
    upload = slack.page.locator("#log-list .sb-log-call", has_text="files.completeUploadExternal")  # type: ignore[attr-defined]
    slack.expect(upload.first).to_be_visible()
    slack.expect(slack.page.locator("#jump-week")).to_be_enabled()  # type: ignore[attr-defined] # the pass is over
    chart.evaluate("img => img.scrollIntoView({block: 'end'})")
    screenshots.save(slack.page, "sandbox.png")


def test_api_log_lists_the_calls(slack: Slack) -> None:
    slack.be("U0KEMI")
    slack.go("home")
    slack.page.click("#log-toggle")  # type: ignore[attr-defined]
    calls = slack.page.locator("#log-list .sb-log-call")  # type: ignore[attr-defined]
    slack.expect(calls.filter(has_text="views.publish").first).to_be_visible()
    calls.filter(has_text="views.publish").first.locator("summary").click()
    slack.expect(calls.filter(has_text="views.publish").first.locator("pre").first).to_contain_text("U0KEMI")
