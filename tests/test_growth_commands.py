"""The /growth command table, tested directly: matching, aliases, help, did-you-mean, follow-up flags,
and entries run on a database session (one savepoint per test) without a server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot.blocks.kit import message_problems
from bot.errors import InvalidPlan, NotFound, RefusedError
from bot.growth.commands import GrowthRequest
from bot.growth.table import CommandInput, CommandTable, Reply, Subcommand, rest_of, text_reply
from bot.storage.models import utcnow
from tests import factories
from tests.growth_table import table

OLD_HELP = (
    "• `/growth`: your plan and when the next nudge comes\n"
    "• `/growth setup`: set up or edit your plan in a form\n"
    "• `/growth level <level>`: your level now\n"
    "• `/growth target <level>`: the level you are working toward (default: the next one)\n"
    "• `/growth focus <area> [area] [area]`: one to three growth areas\n"
    "• `/growth schedule <weekday> <HH:MM>`: when the weekly nudge comes, in your Slack time zone\n"
    "• `/growth pause <N weeks>`: no nudges for a while\n"
    "• `/growth resume`: start nudges again after a pause or stop\n"
    "• `/growth stop`: stop the weekly nudges (your data stays until you `/growth forget`)\n"
    "• `/growth now`: a prompt right away\n"
    "• `/growth history`: your last nudges and what you answered\n"
    "• `/growth export`: all your data, as a JSON file in your DM\n"
    "• `/growth forget`: delete all your data (asks first)\n"
    "• `/growth team`: the growth of people who let you follow them; `/growth team add @name`, "
    "`/growth team remove @name`, `/growth team @name`, `/growth team digest on|off [weekday HH:MM]`\n"
    "• `/growth managers`: who follows your growth, with a button to stop each\n"
    "• `/growth org`: workspace-wide counts, for admins\n"
    "• `/growth evidence [dimension or area]`: your evidence log, newest first (private to you); "
    "`/growth evidence add <what you did>`\n"
    "• `/growth packet [target level]`: your promotion packet, as Markdown and PDF in your DM"
)


@pytest.mark.parametrize(
    "text,name,args,rest",
    [
        ("", "", (), ""),
        ("   ", "", (), ""),
        ("team add <@U1> <@U2>", "team add", ("<@u1>", "<@u2>"), "<@U1> <@U2>"),
        ("TEAM Invite @Alice", "team add", ("@alice",), "@Alice"),
        ("reports add @bob", "team add", ("@bob",), "@bob"),
        ("team rm @bob", "team remove", ("@bob",), "@bob"),
        ("team digest on monday 09:00", "team digest", ("on", "monday", "09:00"), "on monday 09:00"),
        ("team <@U1|Alice>", "team", ("<@u1|alice>",), "<@U1|Alice>"),
        ("team", "team", (), ""),
        ("reports", "team", (), ""),
        ("plan", "", (), ""),
        ("status extra", "", ("extra",), "extra"),
        ("goal staff", "target", ("staff",), "staff"),
        ("areas security api", "focus", ("security", "api"), "security api"),
        ("mentors", "managers", (), ""),
        ("help", "help", (), ""),
    ],
)
def test_parse_matches_longest_first_and_aliases(text: str, name: str, args: tuple[str, ...], rest: str) -> None:
    parsed = table().parse(text)
    assert (parsed.name, parsed.args, parsed.rest, parsed.known) == (name, args, rest, True)


def test_unknown_words_are_kept_for_the_answer() -> None:
    parsed = table().parse("levle mid")
    assert (parsed.name, parsed.args, parsed.known) == ("levle", ("mid",), False)


def test_help_is_generated_from_the_table_and_reads_as_before() -> None:
    message = table().help()
    assert message.text == "How to use /growth"
    assert message.blocks[0]["text"]["text"] == "/growth: your weekly growth nudge"
    assert message.blocks[1]["text"]["text"] == OLD_HELP
    assert message.blocks[2]["elements"][0]["text"] == "Your plan, answers and reflections are private to you."
    assert message_problems(message) == []


@pytest.mark.parametrize(
    "word,expected",
    [
        ("levle", ["level"]),
        ("histroy", ["history"]),
        ("manager", ["managers"]),  # an alias and the name it stands for are one suggestion
        ("sttaus", ["status"]),  # the bare command's aliases are suggested by their own spelling
        ("zzzzzz", []),
    ],
)
def test_did_you_mean(word: str, expected: list[str]) -> None:
    assert table().suggest(word)[: len(expected) or None] == expected
    text = table().unknown(word).text
    if expected:
        assert f"Did you mean `/growth {expected[0]}`" in text
    else:
        assert text.endswith("Try `/growth help`.")


def test_a_near_miss_of_a_word_is_not_taken_for_a_two_word_subcommand() -> None:
    assert table().suggest("teamm") == ["team"]  # not "team remove", a spelling of two words


def test_only_web_api_work_has_a_follow_up() -> None:
    with_follow_up = {e.name for e in table().entries if e.follow_up is not None}
    assert with_follow_up == {"setup", "now", "team add", "team remove", "team", "org", "packet", "export"}


def test_every_name_and_alias_is_a_spelling() -> None:
    spellings = table().spellings.spellings()
    for entry in table().entries:
        assert {entry.name, *entry.aliases} - {""} <= set(spellings)


def test_a_table_refuses_two_entries_with_one_name() -> None:
    def run(context: None, command: CommandInput) -> Reply:
        return text_reply("x")

    with pytest.raises(ValueError, match="share a name"):
        CommandTable(
            "/x", [Subcommand("a", "`/x a`", "a", run), Subcommand("a", "`/x a`", "a", run)], title="x", footer="x"
        )


def test_rest_keeps_case_and_brackets() -> None:
    assert rest_of("  team add <@U1|Al>  @Bob ", 2) == "<@U1|Al>  @Bob"
    assert rest_of("team", 2) == ""


def test_refusals_are_one_hierarchy() -> None:
    assert issubclass(InvalidPlan, RefusedError) and issubclass(NotFound, RefusedError)
    assert InvalidPlan("x", field="target").field == "target"


# --- entries run on a database session -------------------------------------------------------------


@pytest.fixture
def run(db_session: Session) -> Iterator[object]:
    def answer(text: str, user: str = "U0001") -> Reply:
        request = GrowthRequest(db_session, factories.TEAM, user, utcnow())
        try:
            return table().run(request, table().parse(text))
        except RefusedError as exc:
            return text_reply(exc.message)

    yield answer


def test_plan_subcommands_on_a_session(run, db_session: Session) -> None:  # type: ignore[no-untyped-def]
    assert "You have no growth plan yet" in run("").message.text
    assert "Level set to Mid-level" in run("level mid").message.text
    assert "Target set to Staff" in run("goal staff").message.text
    assert "Focus updated" in run("focus security api").message.text
    assert "Tuesdays at 09:30" in run("when tuesday 9:30am").message.text
    assert "Paused for 2 weeks" in run("pause 2").message.text
    assert "Nudges are back on" in run("unpause").message.text
    assert "No nudges yet" in run("history").message.text
    export = run("export")  # the file is uploaded after the ack (tests/test_export_file.py)
    assert export.follow_up and "JSON file" in export.message.text and message_problems(export.message) == []
    assert "Delete all your ladderbot data?" in run("delete").message.text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("level", "Which level? For example `/growth level senior`."),
        ("level seniour", "Did you mean `/growth level senior`"),
        ("target", "Which level? For example `/growth target senior`."),
        ("focus", "Which areas? For example `/growth focus security api`."),
        ("focus cooking", "is not a growth area"),
        ("schedule someday", "Say a weekday and a time"),
        ("schedule monday", "Say a weekday and a time"),
        ("pause 99", "Pause for 1 to 52 weeks"),
        ("pause ²", "You have no growth plan yet"),  # a digit int() refuses is no number, not a crash
        ("now", "You have no growth plan yet"),
        ("stop", "You have no growth plan yet"),
        ("team digest", "Say `/growth team digest on [weekday HH:MM]`"),
        ("team digest on someday", "Say a weekday and a time, like `/growth team digest on monday 09:00`."),
        ("team <@U0AAA111> <@U0BBB222>", "Name one person"),
        ("team <@U0CCC333>", "has not agreed to share their growth with you"),
    ],
)
def test_usage_and_refusals_on_a_session(run, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    reply = run(text)
    assert expected in reply.message.text and not reply.follow_up


@pytest.mark.parametrize(
    "text,follow_up",
    [
        ("setup", True),
        ("team add @alice", True),
        ("team remove <@U0AAA111>", True),
        ("team @alice", True),  # a plain name needs users.list
        ("team <@U0AAA111>", False),  # an id answers from the database
        ("team", False),
        ("org", True),
        ("managers", False),
    ],
)
def test_follow_up_is_asked_only_when_needed(run, text: str, follow_up: bool) -> None:  # type: ignore[no-untyped-def]
    assert run(text).follow_up is follow_up


def test_now_with_a_plan_asks_for_the_send(run) -> None:  # type: ignore[no-untyped-def]
    run("level senior")
    reply = run("now")
    assert reply.message.text == "Sending you a prompt now…" and reply.follow_up
