"""Services: what listeners and commands may use, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, Pacer, SlackRates, SlackSenders
from bot.config import Settings
from bot.content.records import Content
from bot.evidence.commands import evidence_entries
from bot.evidence.desk import EvidenceDesk
from bot.growth.commands import GrowthCommands, GrowthTable, growth_entries, growth_table
from bot.growth.desk import GrowthDesk
from bot.growth.onboarding import PeopleRecorder, send_welcome
from bot.install import InstallRoutedClient, Installs
from bot.ladder.answers import Answers
from bot.ladder.parse import Vocabulary
from bot.storage.models import Person
from bot.team import follows
from bot.team.commands import team_entries
from bot.team.desk import TeamDesk


@dataclass(frozen=True)
class Services:
    """What listeners may use. Built once per process."""

    settings: Settings
    content: Content
    answers: Answers
    engine: Engine
    session_factory: sessionmaker[Session]
    people: PeopleRecorder
    clock: Clock
    team: TeamDesk
    growth: GrowthDesk
    growth_commands: GrowthCommands
    evidence: EvidenceDesk
    install: Installs | None = None  # several workspaces over OAuth (SLACK_CLIENT_ID); None with one static token


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


def make_senders(settings: Settings, install: Installs | None = None) -> SlackSenders:
    """The process's paced Slack clients: one Pacer at the configured workspace message rate. With several
    workspaces, each workspace's sends use its own installation's token."""
    return SlackSenders(
        Pacer(SlackRates(messages_per_minute=settings.slack_messages_per_minute, time_scale=settings.slack_rate_scale)),
        make_web_client(settings),
        token_for=install.token_for if install is not None else None,
    )


def build_clock(settings: Settings, content: Content, session_factory: sessionmaker[Session]) -> Clock:
    """A clock process's clock (`ladderbot clock`, `nudges run-due`): with several workspaces, each one's sends
    use its own installation's token, and removed workspaces are forgotten once their grace period is over."""
    install = Installs(settings, session_factory, make_web_client(settings)) if settings.multi_workspace else None
    clock = Clock(session_factory, make_senders(settings, install), content)
    if install is not None:
        clock.chores.append(install.forget_due)
    return clock


def growth_command_table(
    growth: GrowthDesk,
    team: TeamDesk,
    vocab: Vocabulary,
    send_now: Callable[[str, str], bool],
    evidence: EvidenceDesk | None = None,
) -> GrowthTable:
    """/growth's subcommands: growth's own, then the team's, then the evidence log's (help lists them in
    this order). The export holds the team's relations and the evidence too."""
    evidence = evidence or EvidenceDesk(growth.session_factory, growth.content)

    def more_export(session: Session, person: Person) -> dict[str, Any]:
        return {**follows.relations_for_export(session, person), **evidence.export_section(session, person)}

    entries = growth_entries(growth, vocab, send_now, export_sections=more_export)
    return growth_table(entries + team_entries(team) + evidence_entries(evidence, vocab))


REQUEST_PATH_WAIT = 20.0  # seconds a welcome or an invitation may wait for its workspace's turn to send


def build_services(
    settings: Settings,
    content: Content,
    engine: Engine,
    session_factory: sessionmaker[Session],
    executor: ThreadPoolExecutor | None = None,
) -> Services:
    executor = executor or ThreadPoolExecutor(max_workers=2, thread_name_prefix="ladderbot-bg")
    # one pacer per process: the request path's sends (welcomes, invitations) and the clock's share its budgets
    install = Installs(settings, session_factory, make_web_client(settings)) if settings.multi_workspace else None
    senders = make_senders(settings, install)
    # several workspaces: the request path's own sends go with the token of the request's installation
    # a request's own sends wait their turn briefly, so a follow-up never holds one of Bolt's few threads long
    waiting = partial(senders.waiting, max_wait=REQUEST_PATH_WAIT)
    client = waiting(None) if install is None else InstallRoutedClient(waiting, senders.template)

    answers = Answers(content, show_compensation=settings.show_compensation)
    team = TeamDesk(session_factory, client, content, settings)
    evidence = EvidenceDesk(session_factory, content)
    growth = GrowthDesk(session_factory, content, home_counts=follows.home_counts, home_sections=evidence.home_section)

    def welcome(team_id: str, user_id: str) -> None:
        send_welcome(session_factory, waiting(team_id), team_id, user_id)

    def send_now(team_id: str, user_id: str) -> bool:
        # `services` is bound below; this only runs later, from a /growth now follow-up
        return services.clock.send_now(team_id, user_id) == "sent"

    table = growth_command_table(growth, team, answers.vocab, send_now, evidence)
    services = Services(
        settings=settings,
        content=content,
        answers=answers,
        engine=engine,
        session_factory=session_factory,
        people=PeopleRecorder(session_factory, executor, on_new_person=welcome),
        clock=Clock(session_factory, senders, content),
        team=team,
        growth=growth,
        growth_commands=GrowthCommands(session_factory, table, growth),
        evidence=evidence,
        install=install,
    )
    if install is not None:
        services.clock.chores.append(install.forget_due)  # removed workspaces' data, once their grace is over
    return services
