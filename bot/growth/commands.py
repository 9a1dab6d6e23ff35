"""/growth: parse the subcommand, run it against the database, say what to answer and what to do next."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks import growth as rg
from bot.blocks import kit as bk
from bot.blocks import team as rt
from bot.blocks.kit import Message
from bot.content.records import Content
from bot.errors import InvalidPlan, RefusedError
from bot.growth import plans as growth
from bot.ladder.parse import Vocabulary, normalise
from bot.schedule import WEEKDAY_ALIASES, WEEKDAYS, parse_time
from bot.storage.models import utcnow
from bot.team import follows as team
from bot.team.mentions import MentionError, parse_mentions

SUBCOMMANDS: dict[str, str] = {
    "help": "this list",
    "setup": "set up or edit your plan in a form",
    "level": "`/growth level <level>`: your level now",
    "target": "`/growth target <level>`: the level you are working toward (default: the next one)",
    "focus": "`/growth focus <area> [area] [area]`: one to three growth areas",
    "schedule": "`/growth schedule <weekday> <HH:MM>`: when the weekly nudge comes, in your Slack time zone",
    "pause": "`/growth pause <N weeks>`: no nudges for a while",
    "resume": "start nudges again after a pause or stop",
    "stop": "stop the weekly nudges (your data stays until you `/growth forget`)",
    "now": "a prompt right away",
    "history": "your last nudges and what you answered",
    "export": "all your data as JSON",
    "forget": "delete all your data (asks first)",
    "team": "`/growth team`: the growth of people who let you follow them; `/growth team add @name`, "
    "`/growth team remove @name`, `/growth team @name`, `/growth team digest on|off [weekday HH:MM]`",
    "managers": "who follows your growth, with a button to stop each",
    "org": "workspace-wide counts, for admins",
}
ALIASES = {
    "plan": "",
    "show": "",
    "status": "",
    "edit": "setup",
    "goal": "target",
    "areas": "focus",
    "when": "schedule",
    "time": "schedule",
    "unpause": "resume",
    "start": "resume",
    "delete": "forget",
    "followers": "managers",
    "mentors": "managers",
    "manager": "managers",
    "reports": "team",
}
TEAM_ACTIONS = {"add": "team_add", "invite": "team_add", "remove": "team_remove", "rm": "team_remove"}
TEAM_ACTIONS_DB = ("digest", "")


@dataclass(frozen=True)
class GrowthReply:
    """The ack's message, and a follow-up for a lazy listener: open_setup, send_now or None."""

    message: Message
    follow_up: str | None = None


def follow_up_for(text: str) -> str | None:
    """The Web API work a /growth subcommand needs after its ack (for the lazy listener)."""
    words = normalise(text)
    name = ALIASES.get(words[0], words[0]) if words else ""
    if name == "team" and len(words) > 1:
        if words[1] in TEAM_ACTIONS:
            return TEAM_ACTIONS[words[1]]
        if words[1] != "digest" and not all(m.kind == "id" for m in _mentions_or_empty(rest_of(text, 1))):
            return "team_show"  # plain names need users.list
        return None
    return {"setup": "open_setup", "now": "send_now", "org": "org"}.get(name)


def rest_of(text: str, words: int) -> str:
    """The raw text after the first `words` words (mentions keep their case and brackets)."""
    parts = (text or "").strip().split(None, words)
    return parts[words] if len(parts) > words else ""


def _mentions_or_empty(text: str) -> list:
    try:
        return parse_mentions(text)
    except MentionError:
        return []


def help_message() -> Message:
    lines = "\n".join(
        f"• `/growth {name}`: {what}" if not what.startswith("`") else f"• {what}"
        for name, what in SUBCOMMANDS.items()
        if name != "help"
    )
    return Message(
        "How to use /growth",
        (
            bk.header("/growth: your weekly growth nudge"),
            bk.section("• `/growth`: your plan and when the next nudge comes\n" + lines),
            bk.context("Your plan, answers and reflections are private to you."),
        ),
    )


def run_growth_command(
    session: Session,
    content: Content,
    vocab: Vocabulary,
    team_id: str,
    user_id: str,
    text: str,
    now: datetime | None = None,
) -> GrowthReply:
    now = now or utcnow()
    words = normalise(text)
    name = words[0] if words else ""
    name = ALIASES.get(name, name)
    args = words[1:]
    if name and name not in SUBCOMMANDS:
        close = difflib.get_close_matches(name, list(SUBCOMMANDS) + list(ALIASES), n=2, cutoff=0.6)
        hint = " or ".join(f"`/growth {ALIASES.get(c, c) or c}`" for c in close)
        return GrowthReply(
            rg.build_text(
                f"I don't know “{bk.clip(name, 40)}”." + (f" Did you mean {hint}?" if hint else " Try `/growth help`.")
            )
        )
    if name == "help":
        return GrowthReply(help_message())
    if name == "setup":
        return GrowthReply(rg.build_text("Opening your growth plan…"), follow_up="open_setup")
    if name == "org":
        return GrowthReply(rg.build_text("Counting…"), follow_up="org")
    if name == "team":
        return _team(session, content, team_id, user_id, text, now)
    if name == "managers":
        followers = team.followers_of(session, team_id, user_id)
        return GrowthReply(rt.build_followers([(f.follow_id, f.follower, f.status) for f in followers]))
    person = growth.ensure_person(session, team_id, user_id)
    try:
        return _run(session, content, vocab, person, name, args, now)
    except RefusedError as exc:
        return GrowthReply(rg.build_text(str(exc)))


def _level_arg(vocab: Vocabulary, args: list[str], what: str) -> str:
    if not args:
        raise InvalidPlan(f"Which level? For example `/growth {what} senior`.")
    found = vocab.match_all("level", args)
    if found is None:
        phrase = " ".join(args)
        close = vocab.suggest(phrase, ("level",))
        raise InvalidPlan(
            f"I don't know the level “{bk.clip(phrase, 40)}”."
            + (f" Did you mean `/growth {what} {close[0]}`?" if close else "")
        )
    return found


def _areas_arg(vocab: Vocabulary, content: Content, args: list[str]) -> list[str]:
    growth_ids = {a.id for a in content.growth_areas}
    found: list[str] = []
    i = 0
    while i < len(args):
        hit = vocab.match("area", args, i)
        if hit is None or hit[0] not in growth_ids:
            word = args[i]
            close = [s for s in vocab.suggest(word, ("area",)) if s in growth_ids]
            names = ", ".join(f"`{a}`" for a in sorted(growth_ids))
            raise InvalidPlan(
                f"“{bk.clip(word, 40)}” is not a growth area."
                + (f" Did you mean `{close[0]}`?" if close else "")
                + f" Areas: {names}."
            )
        found.append(hit[0])
        i += hit[1]
    if not found:
        raise InvalidPlan("Which areas? For example `/growth focus security api`.")
    return found


def _run(
    session: Session, content: Content, vocab: Vocabulary, person, name: str, args: list[str], now: datetime
) -> GrowthReply:
    def shown(note: str = "") -> GrowthReply:
        plan = growth.get_plan(session, person)
        return GrowthReply(rg.build_plan_message(content, growth.view_of(plan, now) if plan else None, note))

    if name == "":
        return shown()
    if name == "level":
        level = _level_arg(vocab, args, "level")
        growth.update_plan(session, content, person, now, level=level)
        return shown(f"Level set to {content.level(level).name}.")
    if name == "target":
        target = _level_arg(vocab, args, "target")
        growth.update_plan(session, content, person, now, target=target)
        return shown(f"Target set to {content.level(target).name}.")
    if name == "focus":
        focus = _areas_arg(vocab, content, args)
        growth.update_plan(session, content, person, now, focus=focus)
        return shown("Focus updated.")
    if name == "schedule":
        day = next((WEEKDAY_ALIASES[w] for w in args if w in WEEKDAY_ALIASES), None)
        times = [parse_time(w) for w in args if w not in WEEKDAY_ALIASES]
        hhmm = next((t for t in times if t), None)
        if day is None or hhmm is None or len(args) != 2:
            raise InvalidPlan("Say a weekday and a time, like `/growth schedule tuesday 09:30`.")
        growth.update_plan(session, content, person, now, weekday=day, local_time=hhmm)
        return shown(f"Your nudge now comes on {WEEKDAYS[day].capitalize()}s at {hhmm}.")
    if name == "pause":
        numbers = [int(w) for w in args if w.isdigit()]
        weeks = numbers[0] if numbers else 1
        if not 1 <= weeks <= 52:
            raise InvalidPlan("Pause for 1 to 52 weeks, like `/growth pause 2`.")
        growth.pause(session, person, weeks, now)
        return shown(f"Paused for {weeks} week{'s' if weeks > 1 else ''}.")
    if name == "resume":
        growth.resume(session, person, now)
        return shown("Nudges are back on.")
    if name == "stop":
        growth.stop(session, person, now)
        return shown("Stopped. Your data stays until you `/growth forget`.")
    if name == "now":
        growth.require_plan(session, person)
        return GrowthReply(rg.build_text("Sending you a prompt now…"), follow_up="send_now")
    if name == "history":
        rows = []
        for delivery in growth.deliveries_of(session, person, limit=20):
            prompt = content.prompt(delivery.prompt_id)
            rows.append(
                (
                    delivery.week_key,
                    prompt.text if prompt else delivery.prompt_id,
                    delivery.status,
                    delivery.answer or "",
                )
            )
        return GrowthReply(rg.build_history(content, rows))
    if name == "export":
        data = json.dumps(growth.export(session, person), indent=1, ensure_ascii=False)
        chunks = [data[i : i + 2000] for i in range(0, len(data), 2000)]  # room for escaping
        blocks = [bk.header("All your ladderbot data")]
        blocks += [bk.section(f"```{bk.escape(chunk)}```") for chunk in chunks[: bk.MAX_BLOCKS - 2]]
        if len(chunks) > bk.MAX_BLOCKS - 2:
            blocks.append(bk.context("Your data is longer than one Slack message; this shows the first part."))
        return GrowthReply(Message("All your ladderbot data, as JSON.", tuple(blocks)))
    if name == "forget":
        return GrowthReply(rg.build_forget_confirm())
    raise AssertionError(name)  # pragma: no cover


def _team(session: Session, content: Content, team_id: str, user_id: str, text: str, now: datetime) -> GrowthReply:
    words = normalise(text)[1:]
    follow_up = follow_up_for(text)
    if follow_up == "team_add":
        return GrowthReply(rg.build_text("Looking them up…"), follow_up=follow_up)
    if follow_up in ("team_remove", "team_show"):
        return GrowthReply(rg.build_text("Looking that up…"), follow_up=follow_up)
    person = growth.ensure_person(session, team_id, user_id)
    tz = person.tz or "UTC"
    if words and words[0] == "digest":
        return GrowthReply(_digest(session, team_id, user_id, words[1:], now))
    if words:
        try:
            mentions = parse_mentions(rest_of(text, 1))
        except MentionError as exc:
            return GrowthReply(rg.build_text(str(exc)))
        if len(mentions) != 1:
            return GrowthReply(rg.build_text("Name one person, like `/growth team @alice`, or see `/growth help`."))
        summary = team.team_summary(session, content, team_id, user_id, now, only=mentions[0].value)
        if not summary.reports:
            return GrowthReply(
                rg.build_text(
                    f"<@{mentions[0].value}> has not agreed to share their growth with you, so there is nothing "
                    "to show. Ask them with `/growth team add`."
                )
            )
        return GrowthReply(rt.build_team_summary(content, summary, tz, title="Growth"))
    return GrowthReply(rt.build_team_summary(content, team.team_summary(session, content, team_id, user_id, now), tz))


def _digest(session: Session, team_id: str, user_id: str, args: list[str], now: datetime) -> Message:
    if not args or args[0] not in ("on", "off"):
        return rg.build_text("Say `/growth team digest on [weekday HH:MM]` or `/growth team digest off`.")
    enabled = args[0] == "on"
    rest = args[1:]
    day = next((WEEKDAY_ALIASES[w] for w in rest if w in WEEKDAY_ALIASES), None)
    hhmm = next((t for w in rest if w not in WEEKDAY_ALIASES and (t := parse_time(w))), None)
    if enabled and rest and (day is None or hhmm is None or len(rest) != 2):
        return rg.build_text("Say a weekday and a time, like `/growth team digest on monday 09:00`.")
    digest = team.set_digest(session, team_id, user_id, enabled, day, hhmm, now)
    return rg.build_text(
        rt.describe_digest(digest.enabled, digest.weekday, digest.local_time, digest.next_due_at, digest.tz)
    )
