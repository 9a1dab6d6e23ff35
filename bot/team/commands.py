"""The team's /growth subcommands (`team add`, `team remove`, `team digest`, `team`, `managers`,
`org`) as entries of the /growth command table, with the follow-ups that need Slack's Web API."""

from __future__ import annotations

from bot.blocks import growth as rg
from bot.blocks import team as rt
from bot.blocks.kit import Message
from bot.growth import plans as growth
from bot.growth.commands import GrowthEntry, GrowthRequest, weekday_and_time
from bot.growth.table import CommandInput, FollowUpAnswer, Reply, Subcommand, text_reply
from bot.schedule import WEEKDAY_ALIASES, parse_time
from bot.team import follows as team
from bot.team.desk import TeamDesk
from bot.team.digest_plans import set_digest
from bot.team.mentions import parse_mentions
from bot.team.summary import team_summary

DIGEST_USAGE = "Say `/growth team digest on [weekday HH:MM]` or `/growth team digest off`."


def team_entries(desk: TeamDesk) -> tuple[GrowthEntry, ...]:
    """The team's entries, in the order help lists them (their usages join `/growth team`'s line)."""
    content = desk.content

    def looking_up(request: GrowthRequest, command: CommandInput) -> Reply:
        return Reply(rg.build_text("Looking that up…"), follow_up=True)

    def add(request: GrowthRequest, command: CommandInput) -> Reply:
        return Reply(rg.build_text("Looking them up…"), follow_up=True)

    def show(request: GrowthRequest, command: CommandInput) -> Reply:
        """`/growth team` and `/growth team <@U…>` answer from the database; plain names need users.list."""
        mentions = parse_mentions(command.rest) if command.args else []
        if not all(m.kind == "id" for m in mentions):
            return Reply(rg.build_text("Looking that up…"), follow_up=True)
        person = growth.ensure_person(request.session, request.team_id, request.user_id)
        tz = person.tz or "UTC"
        if not command.args:
            summary = team_summary(request.session, content, request.team_id, request.user_id, request.now)
            return Reply(rt.build_team_summary(content, summary, tz))
        if len(mentions) != 1:
            return text_reply("Name one person, like `/growth team @alice`, or see `/growth help`.")
        report = mentions[0].value
        summary = team_summary(request.session, content, request.team_id, request.user_id, request.now, only=report)
        if not summary.reports:
            return text_reply(
                f"<@{report}> has not agreed to share their growth with you, so there is nothing "
                "to show. Ask them with `/growth team add`."
            )
        return Reply(rt.build_team_summary(content, summary, tz, title="Growth"))

    def digest(request: GrowthRequest, command: CommandInput) -> Reply:
        growth.ensure_person(request.session, request.team_id, request.user_id)
        args = command.args
        if not args or args[0] not in ("on", "off"):
            return text_reply(DIGEST_USAGE)
        enabled, when = args[0] == "on", args[1:]
        if enabled and when and weekday_and_time(when) == (None, None):
            return text_reply("Say a weekday and a time, like `/growth team digest on monday 09:00`.")
        # "off" keeps whatever day or time came with it, as the digest's next start
        day = next((WEEKDAY_ALIASES[w] for w in when if w in WEEKDAY_ALIASES), None)
        hhmm = next((t for w in when if w not in WEEKDAY_ALIASES and (t := parse_time(w))), None)
        saved = set_digest(request.session, request.team_id, request.user_id, enabled, day, hhmm, request.now)
        return text_reply(
            rt.describe_digest(saved.enabled, saved.weekday, saved.local_time, saved.next_due_at, saved.tz)
        )

    def managers(request: GrowthRequest, command: CommandInput) -> Reply:
        followers = team.followers_of(request.session, request.team_id, request.user_id)
        return Reply(rt.build_followers([(f.follow_id, f.follower, f.status) for f in followers]))

    def counting(request: GrowthRequest, command: CommandInput) -> Reply:
        return Reply(rg.build_text("Counting…"), follow_up=True)

    def answered(message: Message) -> FollowUpAnswer:
        return FollowUpAnswer(message)

    return (
        Subcommand(
            "team add",
            "`/growth team add @name`",
            "ask people to let you follow their growth",
            add,
            ("team invite", "reports add", "reports invite"),
            follow_up=lambda r: answered(desk.add(r.team_id, r.user_id, r.command.rest)),
        ),
        Subcommand(
            "team remove",
            "`/growth team remove @name`",
            "stop following people",
            looking_up,
            ("team rm", "reports remove", "reports rm"),
            follow_up=lambda r: answered(desk.remove(r.team_id, r.user_id, r.command.rest)),
        ),
        Subcommand(
            "team",
            "`/growth team`",
            "the growth of people who let you follow them",
            show,
            ("reports",),
            forms=("`/growth team @name`",),
            follow_up=lambda r: answered(desk.show(r.team_id, r.user_id, r.command.rest)),
        ),
        Subcommand(
            "team digest",
            "`/growth team digest on|off [weekday HH:MM]`",
            "a weekly DM with your team's summary",
            digest,
            ("reports digest",),
        ),
        Subcommand(
            "managers",
            "`/growth managers`",
            "who follows your growth, with a button to stop each",
            managers,
            ("followers", "mentors", "manager"),
        ),
        Subcommand(
            "org",
            "`/growth org`",
            "workspace-wide counts, for admins",
            counting,
            follow_up=lambda r: answered(desk.org(r.team_id, r.user_id)),
        ),
    )
