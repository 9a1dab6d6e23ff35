"""Mentions in the three forms Slack sends, emails, and hostile input; resolved against the fake Slack."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.errors import InvalidMention
from bot.services import make_web_client
from bot.team.mentions import MAX_MENTIONS, Directory, Mention, parse_mentions, resolve


def test_the_three_forms_and_emails():
    assert parse_mentions("<@U0ALICE|alice> <@U0BOB> @carol dave@example.com") == [
        Mention("id", "U0ALICE", "<@U0ALICE>"),
        Mention("id", "U0BOB", "<@U0BOB>"),
        Mention("name", "carol", "@carol"),
        Mention("email", "dave@example.com", "dave@example.com"),
    ]


def test_separators_fillers_and_repeats():
    found = parse_mentions("<@U0ALICE|alice>,<@U0ALICE> and @Carol, carol")
    assert found == [Mention("id", "U0ALICE", "<@U0ALICE>"), Mention("name", "carol", "@Carol")]


def test_mentions_glued_together_are_still_read():
    assert [m.value for m in parse_mentions("<@U0ALICE><@U0BOB|bob>")] == ["U0ALICE", "U0BOB"]


def test_hostile_sizes_are_refused_with_a_clear_message():
    with pytest.raises(InvalidMention, match="too long"):
        parse_mentions("@a" * 3000)
    with pytest.raises(InvalidMention, match=f"at most {MAX_MENTIONS}"):
        parse_mentions(" ".join(f"<@U{i:05d}>" for i in range(MAX_MENTIONS + 1)))
    assert len(parse_mentions(" ".join(f"<@U{i:05d}>" for i in range(MAX_MENTIONS)))) == MAX_MENTIONS


def test_markup_in_names_is_kept_as_text():
    [mention] = parse_mentions("<script>")
    assert mention.kind == "name" and mention.label == "<script>"


@pytest.fixture
def directory(fake_slack):
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="x", slack_api_url=fake_slack.url)
    fake_slack.add_user("U0MGR", name="maria", real_name="Maria Manager")
    fake_slack.add_user("U0ALICE", name="alice", real_name="Alice Smith", email="alice@example.com")
    fake_slack.add_user("U0SAM1", name="sam.lee", real_name="Sam Lee")
    fake_slack.add_user("U0SAM2", name="sam.kay", real_name="Sam Kay")
    fake_slack.users["U0SAM1"].name = "sam"  # two people whose handle reads the same
    fake_slack.add_user("U0SAM2B", name="sam", real_name="Sam Kay")
    fake_slack.add_user("U0BOT", name="deploybot", is_bot=True)
    fake_slack.add_user("U0GONE", name="gone", deleted=True)
    fake_slack.add_user("U0OTHER", name="otto", team_id="T0OTHER")
    return Directory(make_web_client(settings))


def test_resolving_every_form(directory):
    found = resolve(parse_mentions("<@U0ALICE|alice> @alice alice@example.com"), directory, "T0001", "U0MGR")
    assert [p.id for p in found.people] == ["U0ALICE"] and found.problems == ()
    found = resolve(parse_mentions("alicesmith"), directory, "T0001", "U0MGR")
    assert [p.id for p in found.people] == ["U0ALICE"]


@pytest.mark.parametrize(
    "text,problem",
    [
        ("@nobody", "No one here is called @nobody."),
        ("@alise", "Did you mean @alice?"),
        ("@sam", "@sam matches 2 people"),
        ("<@U0BOT>", "is a bot"),
        ("@deploybot", "is a bot"),
        ("<@U0GONE>", "has been deactivated"),
        ("<@U0OTHER|otto>", "is in another workspace"),
        ("<@U0MGR>", "You can't follow yourself"),
        ("<@U0NOSUCH>", "I can't find <@U0NOSUCH>"),
        ("nobody@example.com", "No one in this workspace has the email"),
    ],
)
def test_each_refusal_says_why(directory, text, problem):
    found = resolve(parse_mentions(text), directory, "T0001", "U0MGR")
    assert found.people == ()
    assert len(found.problems) == 1 and problem in found.problems[0]


def test_the_directory_is_listed_once_and_again_only_for_a_miss(directory, fake_slack):
    resolve(parse_mentions("@alice @maria @nobody @sam"), directory, "T0001", "U0X")
    resolve(parse_mentions("@alice"), directory, "T0001", "U0X")
    # one listing, one more because @nobody might have just joined, then the copy is reused
    assert len(fake_slack.calls_to("users.list")) == 2
