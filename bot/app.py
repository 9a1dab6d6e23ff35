"""The app factory: one place where the Bolt app, its client and the listeners are wired."""

from __future__ import annotations

import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import repo
from bot.answers import Answers
from bot.clock import NudgeClock
from bot.config import Settings
from bot.content import Content
from bot.people import PeopleRecorder
from bot.team_desk import TeamDesk

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What listeners may use. Built once per process."""

    settings: Settings
    content: Content
    answers: Answers
    engine: Engine
    session_factory: sessionmaker[Session]
    people: PeopleRecorder
    clock: NudgeClock
    team: TeamDesk


def make_web_client(settings: Settings) -> WebClient:
    """A WebClient pointed at SLACK_API_URL, retrying connection errors, 429s (honouring
    Retry-After) and 500/503s with slack_sdk's own handlers."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_services(
    settings: Settings,
    content: Content,
    engine: Engine,
    session_factory: sessionmaker[Session],
    executor: ThreadPoolExecutor | None = None,
) -> Services:
    executor = executor or ThreadPoolExecutor(max_workers=2, thread_name_prefix="ladderbot-bg")
    client = make_web_client(settings)

    def welcome(team_id: str, user_id: str) -> None:
        send_welcome(session_factory, client, team_id, user_id)

    return Services(
        settings=settings,
        content=content,
        answers=Answers(content, show_compensation=settings.show_compensation),
        engine=engine,
        session_factory=session_factory,
        people=PeopleRecorder(session_factory, executor, on_new_person=welcome),
        clock=NudgeClock(session_factory, client, content),
        team=TeamDesk(session_factory, client, content, settings),
    )


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
    from bot.growth import set_timezone
    from bot.render_growth import build_welcome

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


class _DropClientTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that the client we
    pass wins; our client carries that same token, so the warning only misleads operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def create_app(services: Services, *, client: WebClient | None = None) -> App:
    """A Bolt app that acks from the request thread (process_before_response) so answers built from
    local content go back in the HTTP response itself; Web API work runs in lazy listeners."""
    from handlers import register_all

    bolt_logger = logging.getLogger("slack_bolt")
    if not any(isinstance(f, _DropClientTokenWarning) for f in bolt_logger.filters):
        bolt_logger.addFilter(_DropClientTokenWarning())
    app = App(
        client=client or make_web_client(services.settings),
        signing_secret=services.settings.slack_signing_secret,
        process_before_response=True,
        logger=bolt_logger,
    )

    @app.error
    def on_error(error: Exception, body: dict, response: BoltResponse | None) -> BoltResponse:
        error_id = uuid.uuid4().hex[:8]
        logger.exception("unhandled error %s while handling %s", error_id, _request_kind(body), exc_info=error)
        message = {
            "response_type": "ephemeral",
            "text": f"Sorry, something went wrong on our side (error id `{error_id}`). Please try again.",
        }
        # A 200 with a message: the person gets an answer, Slack does not retry, no traceback leaks.
        return BoltResponse(status=200, body=json.dumps(message), headers={"content-type": "application/json"})

    register_all(app, services)
    return app


def _request_kind(body: dict) -> str:
    if not isinstance(body, dict):
        return "request"
    return str(body.get("command") or body.get("type") or "request")
