"""Pure Block Kit builders for the /ladder answers (and the parts /interview shares: the Unknown answer,
the Share button, the sources line): content in, Message out, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.content.records import Area, Content, Level, LevelDimension, Transition
from bot.ids import ActionId

MAX_QUESTION_COUNT = 10


@dataclass(frozen=True)
class Unknown:
    """Text we could not place: what went wrong, and what the person may have meant."""

    message: str
    suggestions: tuple[str, ...] = ()
    command: str = "ladder"


HIDDEN_IN_DETAIL = ("summary", "experience")


def share_button(value: str) -> bk.Block:
    return bk.button("Share in channel", ActionId.SHARE, value)


def with_share(blocks: list[bk.Block], share_value: str | None, *extra: bk.Block) -> tuple[bk.Block, ...]:
    """Add the Share button and any navigation buttons; a shared (public) copy gets no buttons."""
    if share_value:
        blocks.append(bk.actions(share_button(share_value), *extra))
    return tuple(blocks)


def sources_line(content: Content, files: Sequence[str]) -> str:
    seen: list[str] = []
    for file in files:
        if file and file not in seen:
            seen.append(file)
    titles = [f"{content.source(f).title} (`{f}`)" for f in seen]
    return "Sources: " + "; ".join(titles)


def _experience(level: Level) -> str:
    item = level.dimension("experience")
    return item.text if item else ""


def dimension_markdown(item: LevelDimension) -> str:
    """One dimension of a level as mrkdwn, heading included."""
    title = f"*{bk.escape(item.dimension.name)}*"
    if item.text:
        return f"{title}\n{bk.escape(item.text)}"
    if item.split:
        lines = "\n".join(f"• {bk.escape(s.activity)}: {s.percent}%" for s in item.split)
        return f"{title}\n{lines}"
    return f"{title}\n{bk.bullets(item.points)}"


def build_overview(content: Content, *, share: bool = True) -> Message:
    blocks: list[bk.Block] = [
        bk.header(f"{content.track.name}: the ladder"),
        bk.context(f"{len(content.levels)} levels. Open one, or try `/ladder compare mid senior` and `/ladder help`."),
    ]
    for level in content.levels:
        years = _experience(level)
        line = f"*{bk.escape(level.title)}*" + (f"  ·  _{bk.escape(years)}_" if years else "")
        blocks.append(
            bk.section(
                f"{line}\n{bk.escape(level.summary)}", accessory=bk.button("Open", ActionId.LADDER_OPEN, level.id)
            )
        )
    text = f"{content.track.name} ladder: " + ", ".join(level.name for level in content.levels)
    return Message(text, with_share(blocks, "ladder:levels" if share else None))


def build_level(content: Content, level: Level, *, show_compensation: bool = False, share: bool = True) -> Message:
    years = _experience(level)
    blocks: list[bk.Block] = [
        bk.header(level.title),
        bk.context(f"Level {level.rank + 1} of {len(content.levels)}" + (f"  ·  {bk.escape(years)}" if years else "")),
        bk.section(bk.escape(level.summary)),
    ]
    files = [d.source for d in level.dimensions]
    for item in level.dimensions:
        if item.dimension.id not in HIDDEN_IN_DETAIL:
            blocks.append(bk.section(dimension_markdown(item)))
    growth = [a for a in content.growth_areas if a.at(level.id)]
    if growth:
        lines = "\n".join(f"• *{bk.escape(a.name)}:* {bk.escape(a.at(level.id))}" for a in growth)
        blocks.append(bk.section(f"*Growth areas at this level*\n{lines}"))
        files.extend(a.by_level_source for a in growth)
    if show_compensation and level.compensation:
        comp = level.compensation
        note = f" ({bk.escape(comp.note)})" if comp.note else ""
        blocks.append(bk.section(f"*Typical pay*\n{bk.escape(comp.range)}{note}"))
        blocks.append(
            bk.context(
                f"Pay range as published in {bk.escape(content.source(comp.source).title)}. "
                f"{bk.escape(content.compensation_note)}"
            )
        )
    blocks.append(bk.context(sources_line(content, files)))
    extra = []
    higher = content.next_level(level)
    if higher is not None:
        extra.append(
            bk.button(f"What changes for {higher.name}", ActionId.LADDER_OPEN, f"compare {level.id} {higher.id}")
        )
    text = f"{level.title}: {level.summary}"
    return Message(text, with_share(blocks, f"ladder:{level.id}" if share else None, *extra))


def build_level_part(
    content: Content, level: Level, *, dimension: str | None = None, area: str | None = None, share: bool = True
) -> Message:
    if dimension is not None:
        item = level.dimension(dimension)
        assert item is not None
        body = dimension_markdown(item)
        files = [item.source]
        name = item.dimension.name
        key = dimension
    else:
        assert area is not None
        found = content.area(area)
        name = found.name
        key = area
        files = [found.by_level_source or found.source]
        at = found.at(level.id)
        if at:
            body = f"*{bk.escape(found.name)}*\n{bk.escape(at)}\n\n_{bk.escape(found.summary)}_"
        else:
            body = (
                f"*{bk.escape(found.name)}*\n{bk.escape(found.summary)}\n\n"
                f"_This skill area is not broken down level by level; see `/ladder {level.id}` for the whole level._"
            )
    blocks: list[bk.Block] = [
        bk.header(f"{level.title}: {name}"),
        bk.section(body),
        bk.context(sources_line(content, files)),
    ]
    text = f"{level.title}, {name}: " + body.split("\n", 1)[-1][:300]
    return Message(
        text,
        with_share(
            blocks,
            f"ladder:{level.id} {key}" if share else None,
            bk.button(f"All of {level.name}", ActionId.LADDER_OPEN, level.id),
        ),
    )


def _transition_markdown(content: Content, item: Transition) -> str:
    a, b = content.level(item.from_level), content.level(item.to_level)
    return f"*{bk.escape(a.name)} → {bk.escape(b.name)}*\n{bk.escape(item.summary)}\n{bk.bullets(item.shifts)}"


def build_compare(
    content: Content, lower: Level, higher: Level, *, swapped: bool = False, share: bool = True
) -> Message:
    blocks: list[bk.Block] = [bk.header(f"{lower.name} → {higher.name}: what changes")]
    if swapped:
        blocks.append(bk.context("Shown from the lower level to the higher one."))
    files: list[str] = []
    steps = content.levels[lower.rank : higher.rank + 1]
    missing_transition = False
    for a, b in zip(steps, steps[1:], strict=False):
        item = content.transition(a.id, b.id)
        if item is None:
            missing_transition = True
            continue
        blocks.append(bk.section(_transition_markdown(content, item)))
        files.append(item.source)
    if missing_transition and not files:
        blocks.append(
            bk.section(
                f"The ladder has no written transition between {bk.escape(lower.name)} "
                f"and {bk.escape(higher.name)}; here is how the expectations differ."
            )
        )
    growth = [a for a in content.growth_areas if a.at(lower.id) and a.at(higher.id)]
    if growth:
        lines = "\n".join(
            f"• *{bk.escape(a.name)}:* {bk.escape(a.at(lower.id))} → {bk.escape(a.at(higher.id))}" for a in growth
        )
        blocks.append(bk.section(f"*Growth areas*\n{lines}"))
        files.extend(a.by_level_source for a in growth)
    for dim_id in ("scope", "autonomy", "impact"):
        part = higher.dimension(dim_id)
        if part is not None and part.points:
            blocks.append(
                bk.section(f"*{bk.escape(part.dimension.name)} at {bk.escape(higher.name)}*\n{bk.bullets(part.points)}")
            )
            files.append(part.source)
    low_years, high_years = _experience(lower), _experience(higher)
    if low_years and high_years:
        blocks.append(
            bk.context(
                f"Typical experience: {bk.escape(lower.name)} {bk.escape(low_years.lower())} "
                f"{bk.escape(higher.name)} {bk.escape(high_years.lower())}"
            )
        )
    blocks.append(bk.context(sources_line(content, files)))
    first = content.transition(lower.id, content.levels[lower.rank + 1].id)
    summary = first.summary if first else higher.summary
    text = f"{lower.name} → {higher.name}: {summary}"
    return Message(
        text,
        with_share(
            blocks,
            f"ladder:compare {lower.id} {higher.id}" if share else None,
            bk.button(f"Open {higher.name}", ActionId.LADDER_OPEN, higher.id),
        ),
    )


def build_area(content: Content, area: Area, *, share: bool = True) -> Message:
    blocks: list[bk.Block] = [bk.header(area.name), bk.section(bk.escape(area.summary))]
    files = [area.source]
    if area.by_level:
        lines = "\n".join(f"• *{bk.escape(content.level(lv).name)}:* {bk.escape(text)}" for lv, text in area.by_level)
        blocks.append(bk.section(f"*Level by level*\n{lines}"))
        files.append(area.by_level_source)
    blocks.append(bk.context(sources_line(content, files)))
    return Message(f"{area.name}: {area.summary}", with_share(blocks, f"ladder:area {area.id}" if share else None))


def build_area_list(content: Content, *, share: bool = True) -> Message:
    blocks: list[bk.Block] = [bk.header("Growth and skill areas")]
    for kind, title in (("growth", "Growth areas, level by level"), ("skill", "Further skill areas")):
        items = [a for a in content.areas if a.kind == kind]
        if items:
            lines = "\n".join(f"• *{bk.escape(a.name)}* (`{a.id}`): {bk.escape(a.summary)}" for a in items)
            blocks.append(bk.section(bk.clip(f"*{title}*\n{lines}", bk.MAX_SECTION_TEXT)))
    blocks.append(
        bk.context("Open one with `/ladder area <name>`, or one level's view with `/ladder senior security`.")
    )
    text = "Areas: " + ", ".join(a.name for a in content.areas)
    return Message(text, with_share(blocks, "ladder:areas" if share else None))


def build_roadmap(content: Content, *, share: bool = True) -> Message:
    if not content.roadmap:
        return build_unknown(Unknown("This ladder has no roadmap."))
    blocks: list[bk.Block] = [bk.header("Skill roadmap by years of experience")]
    for stage in content.roadmap:
        levels = ", ".join(content.level(lv).name for lv in stage.levels)
        blocks.append(
            bk.section(
                f"*Years {bk.escape(stage.years)}: {bk.escape(stage.name)}* ({bk.escape(levels)})\n"
                f"*Focus:* {bk.escape(stage.focus)}\n*Key skills:* {bk.escape(', '.join(stage.key_skills))}\n"
                f"*Mindset:* {bk.escape(stage.mindset)}"
            )
        )
    blocks.append(bk.context(sources_line(content, [s.source for s in content.roadmap])))
    return Message(
        "Skill roadmap: " + "; ".join(f"{s.years} years: {s.name}" for s in content.roadmap),
        with_share(blocks, "ladder:roadmap" if share else None),
    )


def build_responsibilities(content: Content, level: Level | None = None, *, share: bool = True) -> Message:
    order = [lv.id for lv in content.levels]
    blocks: list[bk.Block] = [
        bk.header(f"Responsibilities expected at {level.name}" if level else "Responsibilities by seniority")
    ]
    files: list[str] = []
    if content.core_responsibilities:
        blocks.append(bk.section(f"*Every backend engineer*\n{bk.bullets(content.core_responsibilities)}"))
        files.append(content.core_responsibilities_source)
    for category in ("technical", "leadership", "business"):
        items = [
            r
            for r in content.responsibilities
            if r.category == category and (level is None or order.index(r.from_level) <= level.rank)
        ]
        if items:
            lines = "\n".join(
                f"• {bk.escape(r.text)} _({bk.escape(content.level(r.from_level).name)}+)_" for r in items
            )
            blocks.append(bk.section(f"*{category.capitalize()}*\n{lines}"))
            files.extend(r.source for r in items)
    blocks.append(
        bk.context("A tag such as _Senior+_ says from which level the work is expected, not that others may not do it.")
    )
    blocks.append(bk.context(sources_line(content, files)))
    value = f"ladder:responsibilities {level.id}" if level else "ladder:responsibilities"
    return Message(blocks[0]["text"]["text"], with_share(blocks, value if share else None))


def build_ladder_help(content: Content) -> Message:
    example_level = content.levels[min(2, len(content.levels) - 1)].id
    example_area = (
        content.growth_areas[0].id if content.growth_areas else (content.areas[0].id if content.areas else "")
    )
    lines = [
        ("`/ladder`", "all levels at a glance"),
        (f"`/ladder {example_level}`", "what that level is expected to do"),
        (f"`/ladder {example_level} {example_area}`", "one part of a level: a dimension or an area"),
        ("`/ladder compare mid senior`", "what changes between two levels (also `/ladder mid -> senior`)"),
        (f"`/ladder area {example_area}`", "one growth area across all levels"),
        ("`/ladder areas`", "all growth and skill areas"),
        ("`/ladder roadmap`", "skills to build by years of experience"),
        ("`/ladder responsibilities [level]`", "responsibilities tagged by seniority"),
    ]
    levels = ", ".join(f"`{lv.id}`" for lv in content.levels)
    dims = ", ".join(f"`{d.id.replace('_', ' ')}`" for d in content.dimensions)
    blocks = [
        bk.header("/ladder: how to use it"),
        bk.section("\n".join(f"• {cmd}: {what}" for cmd, what in lines)),
        bk.section(
            f"*Levels:* {levels} (aliases such as `jr`, `sr`, `e2`, `engineer ii` work too)\n*Dimensions:* {dims}"
        ),
        bk.context("Answers are only visible to you. Use *Share in channel* to post one for everyone."),
    ]
    return Message(
        "How to use /ladder: /ladder, /ladder <level>, /ladder compare <level> <level>, /ladder area <area>",
        tuple(blocks),
    )


def build_unknown(request: Unknown) -> Message:
    text = request.message
    if request.suggestions:
        options = " or ".join(f"`/{request.command} {s}`" for s in request.suggestions)
        text += f" Did you mean {options}?"
    blocks = (
        bk.section(bk.escape(text)),  # the text echoes what the person typed: never let it form a mention
        bk.context(f"`/{request.command} help` lists everything I understand."),
    )
    return Message(text, blocks)
