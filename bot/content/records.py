"""The ladder content as frozen, typed records: what the rest of the code reads, never YAML.

`Content` holds everything one content folder says, with its lookups built once. The records hold
tuples, never lists, so a loaded `Content` can be shared by every thread without a lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Source:
    file: str
    title: str


@dataclass(frozen=True, slots=True)
class Dimension:
    id: str
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimeShare:
    activity: str
    percent: int


@dataclass(frozen=True, slots=True)
class LevelDimension:
    """One dimension of one level: a paragraph, a list of points, or a time split."""

    dimension: Dimension
    source: str
    text: str = ""
    points: tuple[str, ...] = ()
    split: tuple[TimeShare, ...] = ()


@dataclass(frozen=True, slots=True)
class Compensation:
    range: str
    source: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Level:
    id: str
    rank: int
    name: str
    title: str
    aliases: tuple[str, ...]
    dimensions: tuple[LevelDimension, ...]
    compensation: Compensation | None = None

    def dimension(self, dimension_id: str) -> LevelDimension | None:
        for item in self.dimensions:
            if item.dimension.id == dimension_id:
                return item
        return None

    @property
    def summary(self) -> str:
        item = self.dimension("summary")
        return item.text if item else ""


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    kind: str  # "growth": tracked level by level; "skill": a further skill area
    name: str
    aliases: tuple[str, ...]
    summary: str
    source: str
    by_level: tuple[tuple[str, str], ...] = ()  # (level id, what that level does)
    by_level_source: str = ""

    def at(self, level_id: str) -> str:
        return dict(self.by_level).get(level_id, "")


@dataclass(frozen=True, slots=True)
class Transition:
    from_level: str
    to_level: str
    source: str
    summary: str
    shifts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Responsibility:
    id: str
    category: str
    from_level: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class RoadmapStage:
    id: str
    name: str
    years: str
    levels: tuple[str, ...]
    source: str
    focus: str
    key_skills: tuple[str, ...]
    mindset: str


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    name: str
    aliases: tuple[str, ...]
    from_level: str = ""  # empty: every level


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    origin: str  # "seed" or "ladderbot"
    source: str
    topic: str
    question: str
    strong: tuple[tuple[str, str], ...]  # (level id, what a strong answer shows at that level)

    def strong_at(self, level_id: str) -> str:
        return dict(self.strong).get(level_id, "")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A weekly growth prompt: for an area at a level, or for a step from one level to the next."""

    id: str
    source: str
    text: str
    why: str
    area: str = ""
    level: str = ""
    from_level: str = ""
    to_level: str = ""


@dataclass(frozen=True, slots=True)
class Track:
    id: str
    name: str
    role: str
    summary: str


@dataclass(frozen=True)
class Content:
    """Everything the bot knows, with lookups built once."""

    directory: str
    track: Track
    sources: tuple[Source, ...]
    dimensions: tuple[Dimension, ...]
    levels: tuple[Level, ...]
    areas: tuple[Area, ...]
    transitions: tuple[Transition, ...]
    core_responsibilities: tuple[str, ...]
    core_responsibilities_source: str
    responsibilities: tuple[Responsibility, ...]
    roadmap: tuple[RoadmapStage, ...]
    topics: tuple[Topic, ...]
    questions: tuple[Question, ...]
    compensation_note: str = ""
    compensation_source: str = ""
    prompts: tuple[Prompt, ...] = ()
    # lookups built once in __post_init__ (the dataclass is frozen, but the dicts it holds are filled there)
    _levels_by_id: dict[str, Level] = field(default_factory=dict, init=False, repr=False, compare=False)
    _areas_by_id: dict[str, Area] = field(default_factory=dict, init=False, repr=False, compare=False)
    _dimensions_by_id: dict[str, Dimension] = field(default_factory=dict, init=False, repr=False, compare=False)
    _topics_by_id: dict[str, Topic] = field(default_factory=dict, init=False, repr=False, compare=False)
    _sources_by_file: dict[str, Source] = field(default_factory=dict, init=False, repr=False, compare=False)
    _prompts_by_id: dict[str, Prompt] = field(default_factory=dict, init=False, repr=False, compare=False)
    # prompts grouped the way the clock asks for them, ("area", area, level) or ("step", from, to),
    # so choosing a prompt never scans the whole list
    _prompt_groups: dict[tuple[str, str, str], tuple[Prompt, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._levels_by_id.update((x.id, x) for x in self.levels)
        self._areas_by_id.update((x.id, x) for x in self.areas)
        self._dimensions_by_id.update((x.id, x) for x in self.dimensions)
        self._topics_by_id.update((x.id, x) for x in self.topics)
        self._sources_by_file.update((x.file, x) for x in self.sources)
        self._prompts_by_id.update((x.id, x) for x in self.prompts)
        groups: dict[tuple[str, str, str], list[Prompt]] = {}
        for x in self.prompts:
            key = ("area", x.area, x.level) if x.area else ("step", x.from_level, x.to_level)
            groups.setdefault(key, []).append(x)
        self._prompt_groups.update((key, tuple(items)) for key, items in groups.items())

    def level(self, level_id: str) -> Level:
        return self._levels_by_id[level_id]

    def area(self, area_id: str) -> Area:
        return self._areas_by_id[area_id]

    def topic(self, topic_id: str) -> Topic:
        return self._topics_by_id[topic_id]

    def dimension(self, dimension_id: str) -> Dimension:
        return self._dimensions_by_id[dimension_id]

    def source(self, file: str) -> Source:
        return self._sources_by_file[file]

    def prompt(self, prompt_id: str) -> Prompt | None:
        return self._prompts_by_id.get(prompt_id)

    def prompts_at(self, area_id: str, level_id: str) -> tuple[Prompt, ...]:
        """Prompts for one growth area at one level, in file order."""
        return self._prompt_groups.get(("area", area_id, level_id), ())

    def step_prompts(self, from_id: str, to_id: str) -> tuple[Prompt, ...]:
        """Prompts for the step from one level to the next, in file order."""
        return self._prompt_groups.get(("step", from_id, to_id), ())

    def next_level(self, level: Level) -> Level | None:
        return self.levels[level.rank + 1] if level.rank + 1 < len(self.levels) else None

    def transition(self, from_id: str, to_id: str) -> Transition | None:
        for item in self.transitions:
            if item.from_level == from_id and item.to_level == to_id:
                return item
        return None

    def questions_for(self, level_id: str, topic_id: str | None = None) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.strong_at(level_id) and (topic_id is None or q.topic == topic_id))

    def topics_for(self, level_id: str) -> tuple[Topic, ...]:
        present = {q.topic for q in self.questions_for(level_id)}
        return tuple(t for t in self.topics if t.id in present)

    @property
    def growth_areas(self) -> tuple[Area, ...]:
        return tuple(a for a in self.areas if a.kind == "growth")
