"""Reading the few fields every interaction payload carries, in the shapes Slack sends them."""

from __future__ import annotations

from typing import Any


def request_ids(body: dict[str, Any]) -> tuple[str, str]:
    """(team id, user id) of whoever sent a command, a click, a submission or an event. The "team" is the
    workspace people are kept under: `workspace_key`."""
    user = (body.get("user") or {}).get("id") or body.get("user_id", "")
    return workspace_key(body), str(user)


def workspace_key(body: dict[str, Any]) -> str:
    """The team people are kept under: the request's workspace, or, for an Enterprise Grid org-wide install, its
    organisation (so someone seen from two workspaces of one organisation is one person; the installation is
    keyed the same way, bot.install). Separate workspaces never share it."""
    authorizations = body.get("authorizations") or [{}]
    org_wide = body.get("is_enterprise_install", authorizations[0].get("is_enterprise_install"))
    enterprise = body.get("enterprise_id") or (body.get("enterprise") or {}).get("id")
    if org_wide in (True, "true") and enterprise:
        return str(enterprise)
    team = (body.get("team") or {}).get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id", "")
    return str(team)


def action_value(body: dict[str, Any]) -> str:
    """The value of the first action in a block_actions payload, or ""."""
    return str(((body.get("actions") or [{}])[0]).get("value") or "")
