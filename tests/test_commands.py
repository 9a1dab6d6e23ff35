"""Parsing command text: aliases, Slack's escaping, stray spaces and suggestions."""

from __future__ import annotations

import pytest

from bot.ladder import parse as cmd
from bot.ladder.words import Spellings


@pytest.fixture(scope="module")
def vocab(content):
    return cmd.Vocabulary.from_content(content)


@pytest.fixture(scope="module")
def order(content):
    return [lv.id for lv in content.levels]


@pytest.mark.parametrize(
    "text,level",
    [
        ("jr", "junior"),
        ("Junior", "junior"),
        ("engineer i", "junior"),
        ("E1", "junior"),
        ("l1", "junior"),
        ("mid", "mid"),
        ("mid-level", "mid"),
        ("intermediate", "mid"),
        ("Engineer II", "mid"),
        ("e2", "mid"),
        ("sr", "senior"),
        ("SENIOR", "senior"),
        ("  senior  ", "senior"),
        ("staff", "staff"),
        ("l4", "staff"),
        ("principal", "principal"),
        ("e5", "principal"),
    ],
)
def test_level_aliases(vocab, order, text, level):
    assert cmd.parse_ladder(text, vocab, order) == cmd.LevelView(level)


@pytest.mark.parametrize(
    "text",
    [
        "compare mid senior",
        "mid -> senior",
        "mid -&gt; senior",
        "mid → senior",
        "mid to senior",
        "mid vs senior",
        "compare engineer ii sr",
        "diff mid, senior",
        "mid senior",
        "mid->senior",
        "compare senior mid",
    ],
)
def test_compare_forms(vocab, order, text):
    request = cmd.parse_ladder(text, vocab, order)
    assert isinstance(request, cmd.Compare)
    assert (request.lower, request.higher) == ("mid", "senior")
    assert request.swapped == (text == "compare senior mid")


def test_level_parts(vocab, order):
    assert cmd.parse_ladder("senior security", vocab, order) == cmd.LevelView("senior", area="security")
    assert cmd.parse_ladder("sr project scope", vocab, order) == cmd.LevelView("senior", dimension="scope")
    assert cmd.parse_ladder("staff time", vocab, order) == cmd.LevelView("staff", dimension="time_split")
    assert cmd.parse_ladder("junior ci/cd", vocab, order) == cmd.LevelView("junior", area="infrastructure")
    assert cmd.parse_ladder("mid R&amp;D", vocab, order) == cmd.Unknown(
        "I know the level, but not “r&d”.", (), "ladder"
    )


def test_other_subcommands(vocab, order):
    assert cmd.parse_ladder("", vocab, order) == cmd.LadderOverview()
    assert cmd.parse_ladder("help", vocab, order) == cmd.LadderHelp()
    assert cmd.parse_ladder("areas", vocab, order) == cmd.AreaList()
    assert cmd.parse_ladder("area system design", vocab, order) == cmd.AreaView("system-design")
    assert cmd.parse_ladder("security", vocab, order) == cmd.AreaView("security")
    assert cmd.parse_ladder("roadmap", vocab, order) == cmd.Roadmap()
    assert cmd.parse_ladder("responsibilities staff", vocab, order) == cmd.Responsibilities("staff")


@pytest.mark.parametrize(
    "text,suggestion",
    [
        ("seniour", "senior"),
        ("senoir", "senior"),
        ("principle", "principal"),
        ("juinor", "junior"),
        ("stafff", "staff"),
        ("area securty", "security"),
        ("senior secruity", "senior security"),
        ("compare mid seniour", "senior"),
        ("roadmpa", "roadmap"),
    ],
)
def test_typos_get_suggestions(vocab, order, text, suggestion):
    request = cmd.parse_ladder(text, vocab, order)
    assert isinstance(request, cmd.Unknown)
    assert suggestion in request.suggestions


def test_compare_needs_two_different_levels(vocab, order):
    assert "exactly two" in cmd.parse_ladder("compare mid", vocab, order).message
    assert "same level" in cmd.parse_ladder("compare mid mid", vocab, order).message


def test_interview_parsing(vocab):
    assert cmd.parse_interview("", vocab) == cmd.InterviewHelp()
    assert cmd.parse_interview("topics", vocab) == cmd.TopicList()
    assert cmd.parse_interview("topics sr", vocab) == cmd.TopicList("senior")
    assert cmd.parse_interview("staff system-design", vocab) == cmd.QuestionSet("staff", "system-design", 5)
    assert cmd.parse_interview("staff system design 3", vocab) == cmd.QuestionSet("staff", "system-design", 3)
    assert cmd.parse_interview("3 staff", vocab).__class__ is cmd.Unknown
    assert cmd.parse_interview("jr 2 sql", vocab) == cmd.QuestionSet("junior", "databases", 2)
    many = cmd.parse_interview("senior 50", vocab)
    assert many.count == cmd.MAX_QUESTION_COUNT and "between 1 and 10" in many.note
    assert cmd.parse_interview("senior 0", vocab).count == 1
    unknown = cmd.parse_interview("seniour", vocab)
    assert isinstance(unknown, cmd.Unknown) and "senior" in unknown.suggestions
    topic = cmd.parse_interview("senior cachng", vocab)
    assert isinstance(topic, cmd.Unknown) and "senior caching-performance" in topic.suggestions


def test_normalise_undoes_slack_escaping():
    assert cmd.normalise("  Mid&amp;Senior &lt;b&gt;  ") == ["mid&senior", "<b>"]
    assert cmd.normalise("mid→senior") == ["mid", "->", "senior"]
    assert cmd.normalise("x" * 10_000) == ["x" * cmd.MAX_TEXT]


def test_subcommand_words_match_longest_first_and_suggest():
    words = Spellings((("", ("", "plan")), ("team", ("team",)), ("team add", ("team add", "team invite"))))
    assert words.match(["team", "add", "@a"]) == ("team add", 2)
    assert words.match(["team", "@a"]) == ("team", 1)
    assert words.match([]) == ("", 0) and words.match(["plan"]) == ("", 1)
    assert words.match(["nope"]) is None
    assert words.suggest("tema") == ["team"] and words.suggest("plna") == ["plan"]
    with pytest.raises(ValueError):
        Spellings((("a", ("x",)), ("b", ("x",))))


def test_ladder_did_you_mean_words_come_from_its_table():
    assert set(cmd.LADDER_SUBCOMMANDS) <= set(cmd.LADDER_WORDS.spellings())
    assert set(cmd.INTERVIEW_WORDS.spellings()) >= {"topics", "help"}
