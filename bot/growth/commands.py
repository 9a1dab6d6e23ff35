"""/growth's own subcommands (plan, setup, level ... forget) as table entries, and the runner that
parses a request once, runs its entry in one unit of work and keeps the parse for the follow-up.

The team's subcommands live in bot.team.commands (team builds on growth); bot.services puts both
into one table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import growth as rg
from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.content.records import Content
from bot.errors import InvalidPlan, RefusedError
from bot.growth import account
from bot.growth import plans as growth
from bot.growth.account import ExportSections
from bot.growth.desk import GrowthDesk
from bot.growth.table import (
    CommandInput,
    CommandTable,
    FollowUpAnswer,
    FollowUpRequest,
    Reply,
    Subcommand,
    text_reply,
)
from bot.ids import whole_number
from bot.ladder.parse import Vocabulary
from bot.schedule import WEEKDAY_ALIASES, WEEKDAYS, parse_time
from bot.storage.models import Person, utcnow


@dataclass(frozen=True, slots=True)
class GrowthRequest:
    """What a /growth entry runs with: the request's unit of work, who asked, and when."""

    session: Session
    team_id: str
    user_id: str
    now: datetime


GrowthEntry = Subcommand[GrowthRequest]
GrowthTable = CommandTable[GrowthRequest]
SEND_FAILED = "I could not send your prompt just now; please try again in a minute."


def growth_table(entries: tuple[GrowthEntry, ...]) -> GrowthTable:
    return CommandTable(
        "/growth",
        entries,
        title="/growth: your weekly growth nudge",
        footer="Your plan, answers and reflections are private to you.",
    )


class GrowthCommands:
    """Runs /growth: the ack's answer from one parse, and the follow-up from that same parse."""

    def __init__(self, session_factory: sessionmaker[Session], table: GrowthTable, desk: GrowthDesk) -> None:
        self.session_factory = session_factory
        self.table = table
        self.desk = desk

    def answer(self, team_id: str, user_id: str, text: str, now: datetime | None = None) -> tuple[CommandInput, Reply]:
        command = self.table.parse(text)
        with self.session_factory.begin() as session:
            request = GrowthRequest(session, team_id, user_id, now or utcnow())
            try:
                reply = self.table.run(request, command)
            except RefusedError as exc:
                reply = text_reply(exc.message)
        return command, reply

    def follow_up(
        self, team_id: str, user_id: str, trigger_id: str, parsed: CommandInput | None, client: WebClient
    ) -> FollowUpAnswer | None:
        """The Web API work after the ack: the parsed subcommand's follow-up when it has one; otherwise a
        fresh look at the person's Slack time zone, which may have changed since the plan was made."""
        if parsed is None:
            self.desk.refresh_timezone(client, team_id, user_id)
            return None
        work = self.table.entry(parsed.name).follow_up
        return work(FollowUpRequest(team_id, user_id, trigger_id, parsed, client)) if work else None


def growth_entries(
    desk: GrowthDesk,
    vocab: Vocabulary,
    send_now: Callable[[str, str], bool],
    export_sections: ExportSections | None = None,
) -> tuple[GrowthEntry, ...]:
    """/growth's own entries, in the order help lists them. `send_now` sends one prompt right away
    (the clock's job); `export_sections` adds other features' data to the export."""
    content = desk.content

    def personal(run: Callable[[GrowthRequest, Person, tuple[str, ...]], Message]) -> Callable[..., Reply]:
        def on_request(request: GrowthRequest, command: CommandInput) -> Reply:
            person = growth.ensure_person(request.session, request.team_id, request.user_id)
            return Reply(run(request, person, command.args))

        return on_request

    def shown(request: GrowthRequest, person: Person, note: str = "") -> Message:
        plan = growth.get_plan(request.session, person)
        return rg.build_plan_message(content, growth.view_of(plan, request.now) if plan else None, note)

    def show(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        return shown(request, person)

    def level(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        found = level_arg(vocab, args, "level")
        growth.update_plan(request.session, content, person, request.now, level=found)
        return shown(request, person, f"Level set to {content.level(found).name}.")

    def target(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        found = level_arg(vocab, args, "target")
        growth.update_plan(request.session, content, person, request.now, target=found)
        return shown(request, person, f"Target set to {content.level(found).name}.")

    def focus(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        areas = areas_arg(vocab, content, args)
        growth.update_plan(request.session, content, person, request.now, focus=areas)
        return shown(request, person, "Focus updated.")

    def schedule(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        day, hhmm = weekday_and_time(args)
        if day is None or hhmm is None:
            raise InvalidPlan("Say a weekday and a time, like `/growth schedule tuesday 09:30`.")
        growth.update_plan(request.session, content, person, request.now, weekday=day, local_time=hhmm)
        return shown(request, person, f"Your nudge now comes on {WEEKDAYS[day].capitalize()}s at {hhmm}.")

    def pause(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        numbers = [n for n in map(whole_number, args) if n is not None]
        weeks = numbers[0] if numbers else 1
        if not 1 <= weeks <= 52:
            raise InvalidPlan("Pause for 1 to 52 weeks, like `/growth pause 2`.")
        growth.pause(request.session, person, weeks, request.now)
        return shown(request, person, f"Paused for {weeks} week{'s' if weeks > 1 else ''}.")

    def resume(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        growth.resume(request.session, person, request.now)
        return shown(request, person, "Nudges are back on.")

    def stop(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        growth.stop(request.session, person, request.now)
        return shown(request, person, "Stopped. Your data stays until you `/growth forget`.")

    def history(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        rows = []
        for delivery in growth.deliveries_of(request.session, person, limit=20):
            prompt = content.prompt(delivery.prompt_id)
            text = prompt.text if prompt else delivery.prompt_id
            rows.append((delivery.week_key, text, delivery.status, delivery.answer or ""))
        return rg.build_history(content, rows)

    def export_data(request: GrowthRequest, command: CommandInput) -> Reply:
        growth.ensure_person(request.session, request.team_id, request.user_id)
        return Reply(rg.build_text(rg.EXPORT_COMING), follow_up=True)

    def send_export(request: FollowUpRequest) -> FollowUpAnswer:
        message = account.send_export(
            desk.session_factory, request.client, request.team_id, request.user_id, utcnow(), export_sections
        )
        return FollowUpAnswer(message)

    def forget(request: GrowthRequest, person: Person, args: tuple[str, ...]) -> Message:
        return rg.build_forget_confirm()

    def now(request: GrowthRequest, command: CommandInput) -> Reply:
        person = growth.ensure_person(request.session, request.team_id, request.user_id)
        growth.require_plan(request.session, person)
        return Reply(rg.build_text("Sending you a prompt now…"), follow_up=True)

    def send(request: FollowUpRequest) -> FollowUpAnswer | None:
        desk.refresh_timezone(request.client, request.team_id, request.user_id)
        if send_now(request.team_id, request.user_id):
            return None
        return FollowUpAnswer(Message(SEND_FAILED, ()), replace=False)

    def setup(request: GrowthRequest, command: CommandInput) -> Reply:
        return Reply(rg.build_text("Opening your growth plan…"), follow_up=True)

    def open_setup(request: FollowUpRequest) -> None:
        desk.open_setup(request.client, request.trigger_id, request.team_id, request.user_id)

    return (
        Subcommand(
            "", "`/growth`", "your plan and when the next nudge comes", personal(show), ("plan", "show", "status")
        ),
        Subcommand(
            "setup", "`/growth setup`", "set up or edit your plan in a form", setup, ("edit",), follow_up=open_setup
        ),
        Subcommand("level", "`/growth level <level>`", "your level now", personal(level)),
        Subcommand(
            "target",
            "`/growth target <level>`",
            "the level you are working toward (default: the next one)",
            personal(target),
            ("goal",),
        ),
        Subcommand(
            "focus", "`/growth focus <area> [area] [area]`", "one to three growth areas", personal(focus), ("areas",)
        ),
        Subcommand(
            "schedule",
            "`/growth schedule <weekday> <HH:MM>`",
            "when the weekly nudge comes, in your Slack time zone",
            personal(schedule),
            ("when", "time"),
        ),
        Subcommand("pause", "`/growth pause <N weeks>`", "no nudges for a while", personal(pause)),
        Subcommand(
            "resume",
            "`/growth resume`",
            "start nudges again after a pause or stop",
            personal(resume),
            ("unpause", "start"),
        ),
        Subcommand(
            "stop",
            "`/growth stop`",
            "stop the weekly nudges (your data stays until you `/growth forget`)",
            personal(stop),
        ),
        Subcommand("now", "`/growth now`", "a prompt right away", now, follow_up=send),
        Subcommand("history", "`/growth history`", "your last nudges and what you answered", personal(history)),
        Subcommand(
            "export", "`/growth export`", "all your data, as a JSON file in your DM", export_data, follow_up=send_export
        ),
        Subcommand("forget", "`/growth forget`", "delete all your data (asks first)", personal(forget), ("delete",)),
    )


def level_arg(vocab: Vocabulary, args: tuple[str, ...], what: str) -> str:
    """The one level the words name; InvalidPlan with a suggestion otherwise."""
    if not args:
        raise InvalidPlan(f"Which level? For example `/growth {what} senior`.", field=what)
    found = vocab.match_all("level", list(args))
    if found is None:
        phrase = " ".join(args)
        close = vocab.suggest(phrase, ("level",))
        raise InvalidPlan(
            f"I don't know the level “{bk.clip(phrase, 40)}”."
            + (f" Did you mean `/growth {what} {close[0]}`?" if close else ""),
            field=what,
        )
    return found


def areas_arg(vocab: Vocabulary, content: Content, args: tuple[str, ...]) -> list[str]:
    """The growth areas the words name, in order; InvalidPlan naming the first word that is none."""
    growth_ids = {a.id for a in content.growth_areas}
    words = list(args)
    found: list[str] = []
    i = 0
    while i < len(words):
        hit = vocab.match("area", words, i)
        if hit is None or hit[0] not in growth_ids:
            word = words[i]
            close = [s for s in vocab.suggest(word, ("area",)) if s in growth_ids]
            names = ", ".join(f"`{a}`" for a in sorted(growth_ids))
            raise InvalidPlan(
                f"“{bk.clip(word, 40)}” is not a growth area."
                + (f" Did you mean `{close[0]}`?" if close else "")
                + f" Areas: {names}.",
                field="focus",
            )
        found.append(hit[0])
        i += hit[1]
    if not found:
        raise InvalidPlan("Which areas? For example `/growth focus security api`.", field="focus")
    return found


def weekday_and_time(args: tuple[str, ...]) -> tuple[int | None, str | None]:
    """(weekday, HH:MM) from exactly two words, like `tuesday 9:30am`; (None, None) otherwise."""
    day = next((WEEKDAY_ALIASES[w] for w in args if w in WEEKDAY_ALIASES), None)
    hhmm = next((t for w in args if w not in WEEKDAY_ALIASES and (t := parse_time(w))), None)
    if day is None or hhmm is None or len(args) != 2:
        return None, None
    return day, hhmm
