"""When a weekly nudge is due: local weekday and time in the person's IANA zone, computed in UTC.

Pure functions. A 10:00 nudge stays at 10:00 local across daylight-saving changes because every
occurrence is computed from the local wall clock, never by adding 7 x 24 hours.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_ALIASES = {name[:3]: i for i, name in enumerate(WEEKDAYS)} | {name: i for i, name in enumerate(WEEKDAYS)}
WEEKDAY_ALIASES |= {"tues": 1, "thur": 3, "thurs": 3}
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; UTC for an empty or unknown one (Slack may omit tz)."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def parse_time(text: str) -> str | None:
    """'10', '9:30', '9am', '5:15pm', '17:00' -> 'HH:MM'; None when it is not a time of day."""
    match = _TIME.match(text.strip().lower())
    if not match:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def _local(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    # fold=0 takes the first of a repeated hour; a time inside a spring-forward gap lands just after it
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def occurrences_around(weekday: int, hhmm: str, tz_name: str, now: datetime) -> tuple[datetime, datetime]:
    """The last weekly occurrence at or before `now` and the first strictly after it, in UTC.

    Two wall-clock conversions: the clock calls this for every due plan, so it stays cheap."""
    tz = zone(tz_name)
    local_day = now.astimezone(tz).date()
    day = local_day - timedelta(days=(local_day.weekday() - weekday) % 7)  # this week's, today or earlier
    this_week = _local(day, hhmm, tz)
    if this_week <= now:
        return this_week, _local(day + timedelta(weeks=1), hhmm, tz)
    return _local(day - timedelta(weeks=1), hhmm, tz), this_week


def next_occurrence(weekday: int, hhmm: str, tz_name: str, after: datetime) -> datetime:
    """The first weekly occurrence strictly after `after`, in UTC."""
    return occurrences_around(weekday, hhmm, tz_name, after)[1]


def week_key(moment: datetime, tz_name: str) -> str:
    """ISO year and week of the local date, e.g. '2026-W48': one nudge per person per key."""
    year, week, _ = moment.astimezone(zone(tz_name)).isocalendar()
    return f"{year}-W{week:02d}"


def describe(moment: datetime, tz_name: str) -> str:
    """'Monday 30 November, 10:00 (Europe/Berlin)' in the person's own zone."""
    local = moment.astimezone(zone(tz_name))
    return f"{local:%A} {local.day} {local:%B}, {local:%H:%M} ({tz_name or 'UTC'})"
