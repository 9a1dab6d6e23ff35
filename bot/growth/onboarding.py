"""Remembering who has used the bot, off the request path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.growth import build_welcome
from bot.growth.plans import set_timezone
from bot.storage import people as repo
from bot.storage.models import Person

logger = logging.getLogger(__name__)

RATE_LIMITED = 429


class PeopleRecorder:
    """Writes a person's first use to the database once per process, in the background, and welcomes
    whoever has not been welcomed yet (`on_new_person`, which claims the welcome before sending it).

    The ack never waits on this: the first command or click from a person submits one small upsert to
    the executor; later ones only check an in-memory set.
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
                repo.record_person_seen(session, team_id, user_id, domain=domain)
                person = repo.get_person(session, team_id, user_id)
                # not "created by this call": /growth and an invitation create the row before we get here
                welcome = person is not None and person.welcomed_at is None
            if welcome and self._on_new_person is not None:
                self._on_new_person(team_id, user_id)
        except Exception:
            self.forget(team_id, user_id)  # before the log line, which tests wait on
            logger.exception("could not record or welcome %s/%s; will retry on their next use", team_id, user_id)

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


def _release_welcome(session_factory: sessionmaker[Session], person_id: int) -> None:
    """The welcome was not posted: unclaim it, so their next use tries again."""
    with session_factory.begin() as session:
        session.execute(update(Person).where(Person.id == person_id).values(welcomed_at=None))


def send_welcome(session_factory: sessionmaker[Session], client: WebClient, team_id: str, user_id: str) -> None:
    """The first time someone uses the bot: learn their time zone and DM them a welcome, once.

    The welcome is claimed in the database before it is sent, so two processes never both send it. It is
    posted by user id (chat.postMessage answers with the DM channel, stored for later), not after a
    conversations.open: that method allows about 50 calls a minute, the first week's bottleneck. A 429
    proves nothing was posted: the claim is released and the error raised, so their next use tries again.
    Any other failure keeps the claim: Slack's refusals to DM someone (a bot, an unknown id) do not pass,
    and after a timeout the welcome may have arrived; a lost welcome is better than two."""
    tz = slack_timezone(client, user_id)
    with session_factory.begin() as session:
        person = repo.get_person(session, team_id, user_id, lock=True)
        if person is None:
            return
        set_timezone(session, person, tz)
        person_id, channel = person.id, person.dm_channel_id
        first = repo.claim_welcome(session, person_id)
    if not first:
        return
    message = build_welcome()
    try:
        response = client.chat_postMessage(channel=channel or user_id, text=message.text, blocks=list(message.blocks))
    except SlackApiError as exc:
        if exc.response.status_code != RATE_LIMITED:
            logger.warning("welcome DM to %s failed: %s", user_id, exc.response.get("error"))
            return
        _release_welcome(session_factory, person_id)
        raise
    except SlackClientError:  # raised before any request (the pacer's wait ran out): nothing was posted
        _release_welcome(session_factory, person_id)
        raise
    if response["channel"] != channel:
        with session_factory.begin() as session:
            session.execute(update(Person).where(Person.id == person_id).values(dm_channel_id=response["channel"]))
