"""Remembering who has used the bot, off the request path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.growth import build_welcome
from bot.growth.plans import set_timezone
from bot.storage import people as repo

logger = logging.getLogger(__name__)


class PeopleRecorder:
    """Writes a person's first use to the database once per process, in the background.

    The slash-command ack never waits on this: the first command from a person submits one small
    upsert to the executor; later commands only check an in-memory set.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        executor: Executor,
        on_new_person: Callable[[str, str], None] | None = None,
    ):
        self._session_factory = session_factory
        self._on_new_person = on_new_person
        self._executor = executor
        self._known: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def seen(self, team_id: str | None, user_id: str | None, domain: str | None = None) -> None:
        if not team_id or not user_id:
            return
        key = (team_id, user_id)
        with self._lock:
            if key in self._known:
                return
            self._known.add(key)
        self._executor.submit(self._save, team_id, user_id, domain)

    def _save(self, team_id: str, user_id: str, domain: str | None) -> None:
        try:
            with self._session_factory.begin() as session:
                created = repo.record_person_seen(session, team_id, user_id, domain=domain)
            if created and self._on_new_person is not None:
                self._on_new_person(team_id, user_id)
        except Exception:
            logger.exception("could not record person %s/%s; will retry on their next command", team_id, user_id)
            self.forget(team_id, user_id)

    def forget(self, team_id: str, user_id: str) -> None:
        """After /growth forget, the next use counts as a first use again."""
        with self._lock:
            self._known.discard((team_id, user_id))


def slack_timezone(client: WebClient, user_id: str) -> str:
    """The person's IANA time zone from users.info; "" when Slack has none or the call fails (plans then
    stay in UTC until a user_change event tells us the zone)."""
    try:
        return (client.users_info(user=user_id).get("user") or {}).get("tz") or ""
    except SlackApiError as exc:
        logger.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return ""


def send_welcome(session_factory: sessionmaker[Session], client: WebClient, team_id: str, user_id: str) -> None:
    """The first time someone uses the bot: learn their time zone and DM them a welcome, once."""

    tz = slack_timezone(client, user_id)
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    with session_factory.begin() as session:
        person = repo.get_person(session, team_id, user_id, lock=True)
        if person is None:
            return
        person.dm_channel_id = channel
        set_timezone(session, person, tz)
        first = repo.claim_welcome(session, person.id)
    if first:
        message = build_welcome()
        client.chat_postMessage(channel=channel, text=message.text, blocks=list(message.blocks))
