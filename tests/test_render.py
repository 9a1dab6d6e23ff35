"""Every message the content allows, checked against Slack's limits and slack_sdk's Block Kit models."""

from __future__ import annotations

import random

import pytest
from slack_sdk.models.blocks import Block

from bot.blocks.kit import message_problems
from bot.blocks.ladder import build_level
from bot.cli import answers_for_every_view
from bot.ladder.answers import Answers, pick_questions


def _every_view(content):
    return answers_for_every_view(Answers(content, show_compensation=True))


def test_every_view_fits_slacks_limits(content):
    views = _every_view(content)
    assert len(views) > 150
    for label, message in views:
        assert message_problems(message) == [], label
        for block in message.blocks:
            Block.parse(block).validate_json()  # raises SlackObjectFormationError on a broken block


def test_level_covers_every_dimension_and_growth_area(content):
    for level in content.levels:
        message = build_level(content, level)
        text = str(message.blocks)
        for item in level.dimensions:
            if item.dimension.id not in ("summary", "experience"):
                assert f"*{item.dimension.name}*" in text
        for area in content.growth_areas:
            assert area.at(level.id) in text


def test_compensation_is_hidden_unless_turned_on(content):
    hidden = Answers(content).ladder("senior")
    assert "$140K" not in str(hidden.blocks)
    shown = Answers(content, show_compensation=True).ladder("senior")
    assert "$140K to $200K USD" in str(shown.blocks)
    assert "Pay range as published in Career Path: Backend Engineer" in str(shown.blocks)


def test_builders_are_pure(content):
    level = content.level("staff")
    assert build_level(content, level) == build_level(content, level)


def test_question_picks_are_distinct_spread_and_deterministic(content):
    pool = content.questions_for("senior")
    first = pick_questions(pool, 10, random.Random(7))
    assert len(first) == len(set(first)) == 10
    assert len({q.topic for q in first}) >= 6  # round-robin across topics
    assert first == pick_questions(pool, 10, random.Random(7))
    assert len(pick_questions(content.questions_for("senior", "security"), 10, random.Random(1))) == len(
        content.questions_for("senior", "security")
    )


@pytest.mark.parametrize("count", [1, 5, 10])
def test_interview_answers_have_the_asked_count(content, count):
    message = Answers(content, rng=random.Random(3)).interview(f"staff {count}")
    assert sum(1 for b in message.blocks if b["type"] == "section") == count


def test_unknown_answer_escapes_what_was_typed(content):
    message = Answers(content).ladder("<@U999> <!channel>")
    assert "<@U999>" not in str(message.blocks) and "&lt;@u999&gt;" in str(message.blocks)
