"""The setup and reflection modals' values, read into plain values without a server or a database."""

from __future__ import annotations

from typing import Any

import pytest

from bot.content.records import Content
from bot.growth.forms import FIELD_BLOCKS, ReflectionForm, SetupForm, delivery_id_of, parse_reflection, parse_setup
from bot.ids import ActionId, BlockId


def setup_values(
    level: str | None = "senior",
    target: str | None = None,
    focus: tuple[str, ...] = ("data",),
    weekday: str | None = "3",
    time: str | None = "08:15",
) -> dict[str, Any]:
    def option(value: str | None) -> dict[str, Any] | None:
        return {"value": value} if value is not None else None

    return {
        BlockId.SETUP_LEVEL: {ActionId.SETUP_LEVEL: {"selected_option": option(level)}},
        BlockId.SETUP_TARGET: {ActionId.SETUP_TARGET: {"selected_option": option(target)}},
        BlockId.SETUP_FOCUS: {ActionId.SETUP_FOCUS: {"selected_options": [{"value": f} for f in focus]}},
        BlockId.SETUP_WEEKDAY: {ActionId.SETUP_WEEKDAY: {"selected_option": option(weekday)}},
        BlockId.SETUP_TIME: {ActionId.SETUP_TIME: {"selected_time": time}},
    }


def test_a_complete_form(content: Content) -> None:
    assert parse_setup(content, setup_values(target="staff")) == SetupForm("senior", "staff", ["data"], 3, "08:15")


def test_optional_parts_left_out(content: Content) -> None:
    assert parse_setup(content, setup_values(weekday=None, time="8:15")) == SetupForm(
        "senior", None, ["data"], None, None
    )


@pytest.mark.parametrize(
    "values,errors",
    [
        (setup_values(level=None), {BlockId.SETUP_LEVEL: "Pick your level."}),
        (setup_values(level="wizard"), {BlockId.SETUP_LEVEL: "Pick your level."}),
        (setup_values(target="wizard"), {BlockId.SETUP_TARGET: "Pick a level from the list."}),
        (setup_values(focus=()), {BlockId.SETUP_FOCUS: "Pick one to three areas."}),
        ({}, {BlockId.SETUP_LEVEL: "Pick your level.", BlockId.SETUP_FOCUS: "Pick one to three areas."}),
    ],
)
def test_what_to_fix_is_keyed_by_block(content: Content, values: dict[str, Any], errors: dict[str, str]) -> None:
    assert parse_setup(content, values) == errors


def test_every_plan_field_has_a_block() -> None:
    assert set(FIELD_BLOCKS) == {"level", "target", "focus"}


def test_reflection_form() -> None:
    values = {
        BlockId.REFLECTION_TEXT: {ActionId.REFLECTION_TEXT: {"value": "I did it"}},
        BlockId.REFLECTION_SHARED: {ActionId.REFLECTION_SHARED: {"selected_options": [{"value": "shared"}]}},
    }
    assert parse_reflection(values, "12") == ReflectionForm("I did it", True, 12)
    assert parse_reflection({}, "not-a-number") == ReflectionForm("", False, None)


@pytest.mark.parametrize("value,expected", [("42", 42), ("", None), ("-1", None), ("4 2", None), ("x", None)])
def test_delivery_ids(value: str, expected: int | None) -> None:
    assert delivery_id_of(value) == expected
