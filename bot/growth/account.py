"""A person's own data: the export behind `/growth export` and the deletion behind `/growth forget`.
Export sections owned by other features (the team's follows and digest) are handed in by the caller, so
growth never imports them; forget deletes the person's rows in every table, children first.

The export goes to the person's own DM as a JSON file (`send_export`, after the ack): two years of history
is hundreds of kilobytes, far past what one Slack message holds."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import delete, or_
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import growth as rg
from bot.blocks.kit import Message
from bot.growth.plans import deliveries_of, get_plan, reflections_of
from bot.storage import people as repo
from bot.storage.models import (
    Delivery,
    DigestDelivery,
    DigestPlan,
    Evidence,
    Follow,
    Person,
    Plan,
    Reflection,
    Workspace,
)

logger = logging.getLogger(__name__)
EXPORT_FAILED = "I could not send your export just now; please try again in a minute."
NOTHING_STORED = "I have nothing stored about you."

# More sections for the export, from features built on growth (team: following, followers, digest).
ExportSections = Callable[[Session, Person], dict[str, Any]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, person: Person, more: ExportSections | None = None) -> dict[str, Any]:
    """Everything stored about one person, as JSON-ready data."""
    workspace = session.get(Workspace, person.workspace_id)
    plan = get_plan(session, person)
    return {
        "team_id": workspace.team_id if workspace else None,
        "user_id": person.user_id,
        "first_seen_at": _iso(person.first_seen_at),
        "time_zone": person.tz,
        "plan": None
        if plan is None
        else {
            "level": plan.level,
            "target": plan.target,
            "focus": plan.focus_areas,
            "weekday": plan.weekday,
            "local_time": plan.local_time,
            "time_zone": plan.tz,
            "paused_until": _iso(plan.paused_until),
            "stopped": plan.stopped,
            "unreachable_reason": plan.unreachable_reason,
            "next_due_at": _iso(plan.next_due_at),
        },
        "nudges": [
            {
                "week": d.week_key,
                "prompt": d.prompt_id,
                "due_at": _iso(d.due_at),
                "status": d.status,
                "sent_at": _iso(d.sent_at),
                "answer": d.answer,
                "answered_at": _iso(d.answered_at),
            }
            for d in deliveries_of(session, person, limit=10_000)
        ],
        "reflections": [
            {"text": r.text, "shared": r.shared, "created_at": _iso(r.created_at), "nudge_id": r.delivery_id}
            for r in reflections_of(session, person, limit=10_000)
        ],
        **(more(session, person) if more else {}),
    }


def export_file(data: dict[str, Any], now: datetime) -> tuple[str, bytes]:
    """(file name, UTF-8 JSON) for an export: indented, so it reads in any text editor too."""
    body = json.dumps({"exported_at": now.isoformat(), **data}, indent=2, ensure_ascii=False)
    return f"ladderbot-export-{now:%Y-%m-%d}.json", body.encode()


def send_export(
    session_factory: sessionmaker[Session],
    client: WebClient,
    team_id: str,
    user_id: str,
    now: datetime,
    more: ExportSections | None = None,
) -> Message:
    """Upload the asker's own export to their DM with the bot. The rows are read and the session closed
    before any Slack call, so no upload holds a database connection. The answer is for the response_url."""
    with session_factory() as session:
        person = repo.get_person(session, team_id, user_id)
        if person is None:  # forgotten between the ack and now
            return rg.build_text(NOTHING_STORED)
        data = export(session, person, more)
        known_dm = person.dm_channel_id
    filename, body = export_file(data, now)
    try:
        _upload_to_dm(client, user_id, known_dm, filename, body)
    except (SlackClientError, OSError) as exc:  # an API error, or the network: the person is told, not left waiting
        logger.warning("export for %s could not be sent: %s", user_id, exc)
        return rg.build_text(EXPORT_FAILED)
    counts = [(key, len(value)) for key, value in data.items() if isinstance(value, list)]
    return rg.build_export_sent(filename, counts, has_plan=data.get("plan") is not None)


def _upload_to_dm(client: WebClient, user_id: str, known_dm: str | None, filename: str, body: bytes) -> None:
    """Upload the export to the person's DM: the one the nudges already use when known (conversations.open is
    a Tier 3 method), else a freshly opened one, also when the known one is gone (channel_not_found)."""
    if known_dm:
        try:
            _upload(client, known_dm, filename, body)
            return
        except SlackApiError as exc:
            if exc.response.get("error") != "channel_not_found":
                raise
    _upload(client, open_dm(client, user_id), filename, body)


def _upload(client: WebClient, channel: str, filename: str, body: bytes) -> None:
    client.files_upload_v2(
        channel=channel,
        file=body,
        filename=filename,
        title=filename,
        initial_comment="All your ladderbot data, as JSON: every field stored about you.",
    )


def open_dm(client: WebClient, user_id: str) -> str:
    """The person's DM with the bot from conversations.open, for a file upload (which, unlike chat.postMessage,
    takes no user id). Raises SlackClientError when Slack names no channel."""
    channel = str((client.conversations_open(users=user_id).get("channel") or {}).get("id") or "")
    if not channel:  # an upload with no channel would be shared nowhere, while we say it is in the DM
        raise SlackClientError("conversations.open named no channel")
    return channel


def forget(session: Session, team_id: str, user_id: str) -> bool:
    """Delete everything stored about one person. Children first, so it holds without FK cascades too."""
    person = repo.get_person(session, team_id, user_id, lock=True)
    if person is None:
        return False
    session.execute(delete(Evidence).where(Evidence.person_id == person.id))
    session.execute(delete(Reflection).where(Reflection.person_id == person.id))
    session.execute(delete(Follow).where(or_(Follow.follower_id == person.id, Follow.report_id == person.id)))
    session.execute(delete(DigestDelivery).where(DigestDelivery.person_id == person.id))
    session.execute(delete(DigestPlan).where(DigestPlan.person_id == person.id))
    session.execute(delete(Delivery).where(Delivery.person_id == person.id))
    session.execute(delete(Plan).where(Plan.person_id == person.id))
    session.execute(delete(Person).where(Person.id == person.id))
    return True
