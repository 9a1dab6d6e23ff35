"""Local-time scheduling across zones and daylight saving, and prompt rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.growth.prompts import choose_prompt, fitting_prompts
from bot.schedule import next_occurrence, occurrences_around, parse_time, week_key, zone


def weekly(tz: str, start: datetime, count: int, weekday: int = 0, hhmm: str = "10:00") -> list[datetime]:
    out, moment = [], start
    for _ in range(count):
        moment = next_occurrence(weekday, hhmm, tz, moment)
        out.append(moment)
    return out


@pytest.mark.parametrize(
    "tz,start",
    [
        ("Europe/Berlin", datetime(2026, 10, 1, tzinfo=UTC)),  # DST ends 25 October
        ("Europe/Berlin", datetime(2026, 3, 10, tzinfo=UTC)),  # DST starts 29 March
        ("America/New_York", datetime(2026, 10, 15, tzinfo=UTC)),  # DST ends 1 November
        ("America/New_York", datetime(2026, 2, 25, tzinfo=UTC)),  # DST starts 8 March
        ("Pacific/Auckland", datetime(2026, 3, 20, tzinfo=UTC)),  # DST ends 5 April
        ("Pacific/Auckland", datetime(2026, 9, 15, tzinfo=UTC)),  # DST starts 27 September
        ("Asia/Kolkata", datetime(2026, 3, 1, tzinfo=UTC)),  # no DST, +05:30
    ],
)
def test_ten_oclock_stays_ten_oclock_local(tz, start):
    moments = weekly(tz, start, 6)
    offsets = set()
    for moment in moments:
        local = moment.astimezone(zone(tz))
        assert (local.weekday(), local.hour, local.minute) == (0, 10, 0)
        offsets.add(local.utcoffset())
    assert all(
        b - a in (timedelta(days=7), timedelta(days=7, hours=1), timedelta(days=6, hours=23))
        for a, b in zip(moments, moments[1:], strict=False)
    )
    if tz != "Asia/Kolkata":
        assert len(offsets) == 2  # the run really crossed a DST change
    assert len({week_key(m, tz) for m in moments}) == 6


def test_kolkata_half_hour_offset():
    moment = next_occurrence(2, "09:00", "Asia/Kolkata", datetime(2026, 11, 22, tzinfo=UTC))
    assert moment == datetime(2026, 11, 25, 3, 30, tzinfo=UTC)


def test_auckland_is_a_day_ahead_of_utc():
    moment = next_occurrence(0, "08:00", "Pacific/Auckland", datetime(2026, 11, 22, tzinfo=UTC))
    assert moment == datetime(2026, 11, 22, 19, 0, tzinfo=UTC)  # Monday 08:00 NZDT is Sunday 19:00 UTC
    assert week_key(moment, "Pacific/Auckland") == "2026-W48"


def test_a_time_in_the_spring_forward_gap_lands_just_after_it():
    moment = next_occurrence(6, "02:30", "Europe/Berlin", datetime(2026, 3, 28, tzinfo=UTC))
    assert moment.astimezone(zone("Europe/Berlin")).hour == 3


def test_latest_occurrence_and_unknown_zone():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday
    assert occurrences_around(0, "10:00", "UTC", now)[0] == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert occurrences_around(1, "12:00", "UTC", now)[0] == now
    assert next_occurrence(0, "10:00", "Not/AZone", now) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("10", "10:00"),
        ("9:30", "09:30"),
        ("9am", "09:00"),
        ("5:15pm", "17:15"),
        ("12am", "00:00"),
        ("23:59", "23:59"),
        ("24:00", None),
        ("13pm", None),
        ("noon", None),
        ("9:7", None),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


def test_every_area_level_pair_and_transition_has_three_prompts(content):
    for area in content.growth_areas:
        for level in content.levels:
            assert len([p for p in content.prompts if p.area == area.id and p.level == level.id]) >= 3
    for a, b in zip(content.levels, content.levels[1:], strict=False):
        assert len([p for p in content.prompts if p.from_level == a.id and p.to_level == b.id]) >= 3
    assert all(len(p.text) + len(p.why) < 900 for p in content.prompts)  # one short Slack message


def test_rotation_never_repeats_until_all_seen_and_is_deterministic(content):
    focus = ["security", "api", "data"]
    fitting = [p.id for group in fitting_prompts(content, "mid", "senior", focus).values() for p in group]
    assert len(fitting) == 12
    history: list[str] = []
    for _ in range(len(fitting)):
        history.append(choose_prompt(content, "mid", "senior", focus, history).id)
    assert sorted(history) == sorted(fitting)  # every prompt once before any repeats
    groups = [content.prompt(p).area or "transition" for p in history[:4]]
    assert groups == ["security", "api", "data", "transition"]  # rotates through the focus areas
    again = []
    for _ in range(len(fitting)):
        again.append(choose_prompt(content, "mid", "senior", focus, again).id)
    assert again == history
    assert choose_prompt(content, "mid", "senior", focus, history).id == history[0]  # second round


def _oracle(weekday: int, hhmm: str, tz: str, now: datetime) -> tuple[datetime, datetime]:
    """Brute force: every local day with that weekday from three weeks before to three weeks after."""
    local_today = now.astimezone(zone(tz)).date()
    hour, minute = (int(x) for x in hhmm.split(":"))
    candidates = sorted(
        datetime.combine(day, datetime.min.time().replace(hour=hour, minute=minute), tzinfo=zone(tz)).astimezone(UTC)
        for offset in range(-21, 22)
        if (day := local_today + timedelta(days=offset)).weekday() == weekday
    )
    return max(c for c in candidates if c <= now), min(c for c in candidates if c > now)


@settings(max_examples=400, deadline=None)
@given(
    tz=st.sampled_from(
        ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "Australia/Lord_Howe"]
    ),
    weekday=st.integers(0, 6),
    hhmm=st.sampled_from(["00:00", "00:30", "01:59", "02:00", "02:30", "03:00", "10:00", "23:59"]),
    minutes=st.integers(0, 60 * 24 * 365 * 6),
    nudge=st.sampled_from([None, -1, 0, 1]),
)
def test_occurrences_around_matches_brute_force(tz, weekday, hhmm, minutes, nudge):
    now = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    if nudge is not None:  # land a minute around an occurrence, where off-by-one mistakes live
        now = _oracle(weekday, hhmm, tz, now)[1] + timedelta(minutes=nudge)
    assert occurrences_around(weekday, hhmm, tz, now) == _oracle(weekday, hhmm, tz, now)
    latest, following = occurrences_around(weekday, hhmm, tz, now)
    assert latest <= now < following == next_occurrence(weekday, hhmm, tz, now)
