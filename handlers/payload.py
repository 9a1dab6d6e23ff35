"""Reading the few fields every interaction payload carries, in the shapes Slack sends them."""

from __future__ import annotations

from typing import Any


def request_ids(body: dict[str, Any]) -> tuple[str, str]:
    """(team id, user id) of whoever sent a command, a click, a submission or an event."""
    team = (body.get("team") or {}).get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id", "")
    user = (body.get("user") or {}).get("id") or body.get("user_id", "")
    return str(team), str(user)


def action_value(body: dict[str, Any]) -> str:
    """The value of the first action in a block_actions payload, or ""."""
    return str(((body.get("actions") or [{}])[0]).get("value") or "")
