"""What a target level expects, as a flat list of keyed expectations: each point of the level's behaviour
dimensions, and each growth area as the ladder describes it at that level.

Keys are stable for a given content: `dimension:<id>:<n>` (the n-th point, from 1) and `area:<id>`. An
item saved for one level keeps its keys; the packet for another level maps it again (bot.evidence.suggest).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.content.records import Content, Level

# The dimensions that describe what someone at a level does (not how long they worked or what they earn).
DIMENSIONS = ("scope", "autonomy", "impact", "technical_skills")


@dataclass(frozen=True, slots=True)
class Expectation:
    key: str
    kind: str  # "dimension" or "area"
    group: str  # the dimension or area id
    group_name: str
    text: str


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    kind: str
    name: str
    expectations: tuple[Expectation, ...]


def groups_for(content: Content, level: Level) -> tuple[Group, ...]:
    """The level's expectations grouped by dimension, then by growth area, in the ladder's order."""
    groups: list[Group] = []
    for dimension_id in DIMENSIONS:
        found = level.dimension(dimension_id)
        if found is None or not found.points:
            continue
        name = found.dimension.name
        groups.append(
            Group(
                dimension_id,
                "dimension",
                name,
                tuple(
                    Expectation(f"dimension:{dimension_id}:{n}", "dimension", dimension_id, name, point)
                    for n, point in enumerate(found.points, start=1)
                ),
            )
        )
    for area in content.growth_areas:
        text = area.at(level.id)
        if text:
            groups.append(
                Group(area.id, "area", area.name, (Expectation(f"area:{area.id}", "area", area.id, area.name, text),))
            )
    return tuple(groups)


def expectations_for(content: Content, level: Level) -> tuple[Expectation, ...]:
    return tuple(e for g in groups_for(content, level) for e in g.expectations)


def group_matching(content: Content, level: Level, words: str) -> Group | None:
    """The dimension or growth area that `words` name (its id, name or an alias), or None."""
    wanted = " ".join(words.lower().replace("_", " ").replace("-", " ").split())
    if not wanted:
        return None
    for group in groups_for(content, level):
        names = {group.id.replace("_", " ").replace("-", " "), group.name.lower()}
        if group.kind == "area":
            names.update(a.lower() for a in content.area(group.id).aliases)
        else:
            names.update(a.lower() for a in content.dimension(group.id).aliases)
            names.update(w for w in group.name.lower().replace(" and ", " ").split() if len(w) > 3)
        if wanted in names:
            return group
    return None
