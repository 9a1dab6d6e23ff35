"""Pure builders for followers: invitations, /growth team, /growth managers, /growth org, the digest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.content.records import Content
from bot.ids import ActionId
from bot.schedule import WEEKDAYS, describe


@dataclass(frozen=True)
class ReportSummary:
    user_id: str
    level: str  # "" when the person has no plan yet
    target: str
    focus: tuple[str, ...]
    state: str  # active, paused, stopped, unreachable, no_plan
    answered_4: int
    sent_4: int
    answered_12: int
    sent_12: int
    last_checkin: datetime | None
    streak: int
    weekly: tuple[int, ...]  # TREND_WEEKS values, oldest first: 2 answered, 1 sent unanswered, 0 nothing
    evidence: int = 0  # evidence items logged: a count only, never their contents


@dataclass(frozen=True)
class SharedReflection:
    user_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Gap:
    area: str
    target: str
    missing: int  # reports working toward `target` who have not focused on `area`
    toward: int  # reports working toward `target`


@dataclass(frozen=True)
class TeamSummary:
    follower: str
    reports: tuple[ReportSummary, ...]
    pending: tuple[str, ...]
    toward: tuple[tuple[str, int], ...]  # (target level id, reports), in ladder order
    focus: tuple[tuple[str, int], ...]  # (area id, reports), most first
    trend: tuple[tuple[int, int], ...]  # (answered, sent) per week, oldest first
    gap: Gap | None
    shared: tuple[SharedReflection, ...]
    week_starts: tuple[datetime, ...]


@dataclass(frozen=True)
class OrgSummary:
    people: int  # with a plan
    levels: tuple[tuple[str, int], ...]  # groups under MIN_GROUP folded into "other"
    targets: tuple[tuple[str, int], ...]
    focus: tuple[tuple[str, int], ...]
    answered_12: int
    sent_12: int
    followers: int  # people following at least one accepted report


SPARK = "▁▂▃▄▅▆▇█"
STATE_NOTES = {
    "paused": "⏸️ paused",
    "stopped": "⏹️ stopped nudges",
    "unreachable": "⚠️ unreachable",
    "no_plan": "no plan yet",
    "active": "",
}
REPORT_LINES_BUDGET = 7000  # of Slack's ~12,000 characters a message, for the per-report lines


def _level(content: Content, level_id: str) -> str:
    try:
        return content.level(level_id).name
    except KeyError:
        return level_id


def _area(content: Content, area_id: str) -> str:
    try:
        return content.area(area_id).name
    except KeyError:
        return area_id


def _day(value: datetime | None, tz: str) -> str:
    return describe(value, tz).split(",")[0] if value else "never"


def _chunks(lines: list[str], limit: int = bk.MAX_SECTION_TEXT - 100) -> list[str]:
    """Lines joined into section-sized pieces."""
    out: list[str] = []
    current = ""
    for line in lines:
        if current and len(current) + len(line) + 1 > limit:
            out.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def build_invite(follower: str, follow_id: int, answered: str = "") -> Message:
    """The DM asking a person whether `follower` may see their growth summary; `answered` once they chose."""
    what = (
        f"<@{follower}> would like to follow your growth on ladderbot.\n"
        "*They would see:* your level and target, your focus areas, how many weekly nudges you answered, "
        "your streak and your last check-in.\n"
        "*They would not see:* your reflections, unless you share one when you write it."
    )
    blocks: list[bk.Block] = [bk.section(what)]
    if answered == "accepted":
        blocks.append(bk.context(f"✅ You accepted. Stop sharing with <@{follower}> any time with `/growth managers`."))
    elif answered == "declined":
        blocks.append(bk.context(f"You declined. <@{follower}> sees nothing about you."))
    elif answered:
        blocks.append(bk.context("This invitation is no longer open."))
    else:
        blocks.append(
            bk.actions(
                bk.button("Accept", ActionId.FOLLOW_ACCEPT, str(follow_id), style="primary"),
                bk.button("Decline", ActionId.FOLLOW_DECLINE, str(follow_id)),
            )
        )
    return Message(f"<@{follower}> would like to follow your growth on ladderbot.", tuple(blocks))


def build_text(text: str) -> Message:
    return Message(text, (bk.section(text),))


def build_lines(title: str, lines: list[str], note: str = "") -> Message:
    blocks: list[bk.Block] = [bk.section(chunk) for chunk in _chunks(lines)][: bk.MAX_BLOCKS - 1]
    if note:
        blocks.append(bk.context(note))
    return Message(title, tuple(blocks))


def report_line(content: Content, report: ReportSummary, tz: str) -> str:
    who = f"<@{report.user_id}>"
    count = f"{report.evidence} evidence item{'s' if report.evidence != 1 else ''}" if report.evidence else ""
    if not report.level:
        return f"• {who}: no plan yet" + (f" · {count}" if count else "")
    focus = ", ".join(report.focus) or "no focus areas"  # area ids: short, and what /growth focus takes
    parts = [
        f"• {who}: {_level(content, report.level)} → {_level(content, report.target)} · {focus}",
        f"answered {report.answered_4}/{report.sent_4} (4 wk), {report.answered_12}/{report.sent_12} (12 wk)",
        f"last check-in {_day(report.last_checkin, tz)}",
        f"streak {report.streak}",
    ]
    if count:
        parts.append(count)
    note = STATE_NOTES.get(report.state, report.state)
    if note:
        parts.append(note)
    return " · ".join(parts)


def sparkline(trend: tuple[tuple[int, int], ...]) -> str:
    return "".join(SPARK[min(7, round(7 * a / s))] if s else "·" for a, s in trend)


def team_overview(content: Content, summary: TeamSummary) -> str:
    toward = ", ".join(f"{_level(content, t)} ×{n}" for t, n in summary.toward) or "nobody has a plan yet"
    focus = " · ".join(f"{_area(content, a)} {n}" for a, n in summary.focus) or "none yet"
    answered = sum(a for a, _ in summary.trend)
    sent = sum(s for _, s in summary.trend)
    rate = f"{round(100 * answered / sent)}% of {sent} nudges answered" if sent else "no nudges sent yet"
    lines = [
        f"*Working toward:* {toward}",
        f"*Focus areas:* {focus}",
        f"*Engagement, last {len(summary.trend)} weeks:* `{sparkline(summary.trend)}` {rate}",
    ]
    if summary.gap is not None:
        gap = summary.gap
        lines.append(
            f"*Biggest shared gap:* {_area(content, gap.area)}: {gap.missing} of {gap.toward} working toward "
            f"{_level(content, gap.target)} have not focused on it yet. At that level: "
            f"_{bk.escape(bk.clip(content.area(gap.area).at(gap.target), 300))}_"
        )
    return "\n".join(lines)


def build_team_summary(content: Content, summary: TeamSummary, tz: str = "UTC", *, title: str = "") -> Message:
    """/growth team and the weekly digest: the team at a glance, one line per report, pending invitations,
    shared reflections. Fits one message for teams of any size (long teams are cut with a note)."""
    title = title or "Your team's growth"
    if not summary.reports and not summary.pending:
        return build_text(
            "You don't follow anyone yet. Ask people with `/growth team add @name`; they'll show here once they accept."
        )
    count = len(summary.reports)
    blocks: list[bk.Block] = [bk.header(f"{title}: {count} {'person' if count == 1 else 'people'}")]
    if summary.reports:
        blocks.append(bk.section(team_overview(content, summary)))
        blocks.append(bk.divider())
        lines: list[str] = []
        used = 0
        for report in summary.reports:
            line = report_line(content, report, tz)
            if used + len(line) > REPORT_LINES_BUDGET:
                lines.append(f"…and {count - len(lines)} more; `/growth team @name` shows one person.")
                break
            lines.append(line)
            used += len(line) + 1
        blocks += [bk.section(chunk) for chunk in _chunks(lines)]
    if summary.pending:
        waiting = ", ".join(f"<@{u}>" for u in summary.pending[:40])
        more = f" and {len(summary.pending) - 40} more" if len(summary.pending) > 40 else ""
        blocks.append(bk.section(f"*Waiting for an answer:* {waiting}{more}"))
    if summary.shared:
        lines = [
            f"• <@{r.user_id}>, {_day(r.created_at, tz)}: {bk.escape(bk.clip(r.text, 400))}" for r in summary.shared
        ]
        blocks.append(bk.section("*Reflections shared with you*\n" + "\n".join(lines)))
    blocks.append(
        bk.context(
            "People show here only after they accept, and can stop sharing any time. "
            "Reflections show only when their author shares them."
        )
    )
    return Message(f"{title}: {count} {'person' if count == 1 else 'people'}", tuple(blocks[: bk.MAX_BLOCKS]))


def build_followers(followers: list[tuple[int, str, str]]) -> Message:
    """/growth managers: who follows me, with a button to stop each. (follow id, user id, status)."""
    if not followers:
        return build_text("Nobody follows your growth. When someone asks, I'll DM you to accept or decline.")
    blocks: list[bk.Block] = [bk.header("Who follows your growth")]
    for follow_id, user_id, status in followers[: bk.MAX_BLOCKS - 2]:
        if status == "accepted":
            blocks.append(
                bk.section(
                    f"<@{user_id}> sees your growth summary.",
                    accessory=bk.button("Stop sharing", ActionId.FOLLOW_LEAVE, str(follow_id)),
                )
            )
        else:
            blocks.append(
                bk.section(
                    f"<@{user_id}> asked to follow you; you haven't answered.",
                    accessory=bk.button("Decline", ActionId.FOLLOW_LEAVE, str(follow_id)),
                )
            )
    blocks.append(bk.context("They never see your reflections unless you share one."))
    return Message("Who follows your growth", tuple(blocks))


def build_org(content: Content, org: OrgSummary) -> Message:
    """/growth org: counts only, small groups folded into "other"."""
    if org.people < 5:
        return build_text(
            f"Only {org.people} {'person has' if org.people == 1 else 'people have'} a growth plan here. "
            "Workspace figures need at least 5, so nobody can be singled out."
        )

    def listed(pairs: tuple[tuple[str, int], ...], name: Callable[[str], str]) -> str:
        return " · ".join(f"{'other' if k == 'other' else name(k)} {n}" for k, n in pairs) or "none"

    rate = f"{round(100 * org.answered_12 / org.sent_12)}% of {org.sent_12}" if org.sent_12 else "no nudges sent yet"
    lines = [
        f"*People with a plan:* {org.people}",
        f"*At level:* {listed(org.levels, lambda k: _level(content, k))}",
        f"*Working toward:* {listed(org.targets, lambda k: _level(content, k))}",
        f"*Focus areas:* {listed(org.focus, lambda k: _area(content, k))}",
        f"*Nudges answered, last 12 weeks:* {rate}",
        f"*Followers with at least one accepted report:* {org.followers}",
    ]
    return Message(
        "Workspace growth, in aggregate",
        (
            bk.header("Workspace growth, in aggregate"),
            bk.section("\n".join(lines)),
            bk.context("Counts only. Groups of fewer than 5 people are folded into “other”."),
        ),
    )


def describe_digest(enabled: bool, weekday: int, local_time: str, next_due: datetime | None, tz: str) -> str:
    if not enabled:
        return "Your weekly team digest is off. Turn it on with `/growth team digest on`."
    return (
        f"Your team digest comes on {WEEKDAYS[weekday].capitalize()}s at {local_time} ({tz}); "
        f"the next one {describe(next_due, tz) if next_due else 'is not scheduled'}. "
        "Change it with `/growth team digest on <weekday> <HH:MM>`, stop it with `/growth team digest off`."
    )
