"""Ladder content: loaded once from YAML into frozen, validated objects.

Nothing else in the code base reads YAML. Every problem found is reported with the file and the
path inside it (``content/levels.yaml: levels[2].dimensions.scope.points[4]: empty text``), and all
problems are collected before failing so one run of ``ladderbot content check`` shows them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the platform's PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Text limits. Names end up in headers (150) and buttons (75); points and summaries end up in
# section blocks (3000). The loader keeps every piece well inside those so any rendering fits.
NAME_MAX = 60
TITLE_MAX = 140
ALIAS_MAX = 40
POINT_MAX = 400
PARAGRAPH_MAX = 1200
SECTION_BUDGET = 2800  # a dimension's points together, leaving room for the heading in one section

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
REQUIRED_FILES = ("track.yaml", "levels.yaml", "areas.yaml", "interview.yaml")
OPTIONAL_FILES = ("transitions.yaml", "responsibilities.yaml", "roadmap.yaml", "nudges.yaml")


class ContentError(Exception):
    """Raised when a content folder is invalid; ``problems`` lists each one as 'file: path: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid content:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


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
    _by_id: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    # prompts grouped the way the clock asks for them, ("area", area, level) or ("step", from, to),
    # so choosing a prompt never scans the whole list
    _prompt_groups: dict[tuple[str, str, str], tuple[Prompt, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_id.update(
            level={x.id: x for x in self.levels},
            area={x.id: x for x in self.areas},
            dimension={x.id: x for x in self.dimensions},
            topic={x.id: x for x in self.topics},
            source={x.file: x for x in self.sources},
            prompt={x.id: x for x in self.prompts},
        )
        groups: dict[tuple[str, str, str], list[Prompt]] = {}
        for x in self.prompts:
            key = ("area", x.area, x.level) if x.area else ("step", x.from_level, x.to_level)
            groups.setdefault(key, []).append(x)
        self._prompt_groups.update((key, tuple(items)) for key, items in groups.items())

    def level(self, level_id: str) -> Level:
        return self._by_id["level"][level_id]

    def area(self, area_id: str) -> Area:
        return self._by_id["area"][area_id]

    def topic(self, topic_id: str) -> Topic:
        return self._by_id["topic"][topic_id]

    def dimension(self, dimension_id: str) -> Dimension:
        return self._by_id["dimension"][dimension_id]

    def source(self, file: str) -> Source:
        return self._by_id["source"][file]

    def prompt(self, prompt_id: str) -> Prompt | None:
        return self._by_id["prompt"].get(prompt_id)

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


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, path: str, message: str) -> None:
        self.items.append(f"{file}: {path or '(top)'}: {message}")


@dataclass
class _Node:
    """A value read from one file, with its path, for error messages."""

    problems: _Problems
    file: str
    path: str
    value: Any

    def error(self, message: str) -> None:
        self.problems.add(self.file, self.path, message)

    def child(self, key: str | int, value: Any) -> _Node:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return _Node(self.problems, self.file, path, value)

    def mapping(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, _Node] | None:
        if not isinstance(self.value, dict):
            self.error(f"expected a mapping, got {_kind(self.value)}")
            return None
        out: dict[str, _Node] = {}
        for key, value in self.value.items():
            if not isinstance(key, str) or (key not in required and key not in optional):
                allowed = ", ".join(required + optional)
                self.child(str(key), value).error(f"unknown key (allowed: {allowed})")
                continue
            out[key] = self.child(key, value)
        for key in required:
            if key not in out:
                self.child(key, None).error("missing")
        return out

    def items(self, min_items: int = 0) -> list[_Node]:
        if not isinstance(self.value, list):
            self.error(f"expected a list, got {_kind(self.value)}")
            return []
        if len(self.value) < min_items:
            self.error(f"needs at least {min_items} item(s), has {len(self.value)}")
        return [self.child(i, v) for i, v in enumerate(self.value)]

    def text(self, limit: int) -> str:
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(f"expected text, got {_kind(value)}")
            return ""
        value = " ".join(value.split())
        if not value:
            self.error("empty text")
        elif len(value) > limit:
            self.error(f"text is {len(value)} characters, over the limit of {limit}")
        return value

    def ident(self) -> str:
        value = self.text(40)
        if value and not ID_RE.match(value):
            self.error(f"'{value}' is not a valid id (lower-case letters, digits, '-' and '_')")
        return value

    def texts(self, limit: int, min_items: int = 1) -> tuple[str, ...]:
        return tuple(n.text(limit) for n in self.items(min_items))

    def integer(self, low: int, high: int) -> int:
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            self.error(f"expected a whole number, got {_kind(self.value)}")
            return 0
        if not low <= self.value <= high:
            self.error(f"{self.value} is outside {low}..{high}")
        return self.value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value), type(value).__name__)


def _get(nodes: dict[str, _Node] | None, key: str, read: Callable[[_Node], Any], default: Any = None) -> Any:
    if nodes is None or key not in nodes:
        return default
    return read(nodes[key])


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


class _Loader_:
    def __init__(self, directory: Path):
        self.dir = directory
        self.problems = _Problems()
        self.sources: set[str] = set()
        self.level_ids: list[str] = []

    def label(self, name: str) -> str:
        return str(self.dir / name)

    def read(self, name: str, required: bool) -> _Node | None:
        path = self.dir / name
        label = self.label(name)
        if not path.exists():
            if required:
                self.problems.add(label, "", "file is missing")
            return None
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            self.problems.add(label, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.add(label, "", f"cannot read: {exc}")
            return None
        return _Node(self.problems, label, "", data)

    def source(self, node: _Node) -> str:
        value = node.text(200)
        if value and self.sources and value not in self.sources:
            node.error(f"unknown source '{value}' (declare it under sources in track.yaml)")
        return value

    def level_ref(self, node: _Node) -> str:
        value = node.text(40)
        if value and self.level_ids and value not in self.level_ids:
            node.error(f"unknown level '{value}' (levels: {', '.join(self.level_ids)})")
        return value

    def unique(self, nodes_and_ids: list[tuple[_Node, str]], what: str) -> None:
        seen: set[str] = set()
        for node, ident in nodes_and_ids:
            if ident and ident in seen:
                node.error(f"duplicate {what} '{ident}'")
            seen.add(ident)


def load_content(directory: str | Path) -> Content:
    """Load and validate a content folder; raise ContentError listing every problem."""
    directory = Path(directory)
    loader = _Loader_(directory)
    if not directory.is_dir():
        raise ContentError([f"{directory}: not a folder"])
    docs = {name: loader.read(name, name in REQUIRED_FILES) for name in REQUIRED_FILES + OPTIONAL_FILES}

    track, sources, dimensions, comp_note, comp_source = _read_track(loader, docs["track.yaml"])
    levels = _read_levels(loader, docs["levels.yaml"], dimensions)
    areas = _read_areas(loader, docs["areas.yaml"])
    transitions = _read_transitions(loader, docs["transitions.yaml"])
    core, core_source, tagged = _read_responsibilities(loader, docs["responsibilities.yaml"])
    roadmap = _read_roadmap(loader, docs["roadmap.yaml"])
    topics, questions = _read_interview(loader, docs["interview.yaml"])
    prompts = _read_prompts(loader, docs["nudges.yaml"], {a.id for a in areas})
    _check_vocabulary(loader, levels, areas, dimensions, topics, docs)

    if loader.problems.items:
        raise ContentError(loader.problems.items)
    return Content(
        directory=str(directory),
        track=track,
        sources=sources,
        dimensions=dimensions,
        levels=levels,
        areas=areas,
        transitions=transitions,
        core_responsibilities=core,
        core_responsibilities_source=core_source,
        responsibilities=tagged,
        roadmap=roadmap,
        topics=topics,
        questions=questions,
        compensation_note=comp_note,
        compensation_source=comp_source,
        prompts=prompts,
    )


def _aliases(node: _Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    return tuple(a.lower() for a in node.texts(ALIAS_MAX, min_items=0))


def _read_track(loader: _Loader_, doc: _Node | None):
    empty = (Track("", "", "", ""), (), (), "", "")
    if doc is None:
        return empty
    top = doc.mapping(("track", "sources", "dimensions"), ("compensation",))
    if top is None:
        return empty
    t = top["track"].mapping(("id", "name", "role"), ("summary",)) if "track" in top else None
    track = Track(
        id=_get(t, "id", _Node.ident, ""),
        name=_get(t, "name", lambda n: n.text(NAME_MAX), ""),
        role=_get(t, "role", lambda n: n.text(NAME_MAX), ""),
        summary=_get(t, "summary", lambda n: n.text(PARAGRAPH_MAX), ""),
    )
    sources = []
    source_nodes = top["sources"].items(1) if "sources" in top else []
    for node in source_nodes:
        m = node.mapping(("file", "title"))
        sources.append(Source(_get(m, "file", lambda n: n.text(200), ""), _get(m, "title", lambda n: n.text(300), "")))
    loader.unique(list(zip(source_nodes, [s.file for s in sources], strict=False)), "source")
    loader.sources = {s.file for s in sources if s.file}

    dimensions = []
    dim_nodes = top["dimensions"].items(1) if "dimensions" in top else []
    for node in dim_nodes:
        m = node.mapping(("id", "name"), ("aliases",))
        dimensions.append(
            Dimension(
                id=_get(m, "id", _Node.ident, ""),
                name=_get(m, "name", lambda n: n.text(NAME_MAX), ""),
                aliases=_aliases(m.get("aliases") if m else None),
            )
        )
    loader.unique(list(zip(dim_nodes, [d.id for d in dimensions], strict=False)), "dimension id")
    ids = {d.id for d in dimensions}
    if "summary" not in ids and dimensions:
        top["dimensions"].error("a 'summary' dimension is required (the one-line description of a level)")

    note = source = ""
    if "compensation" in top:
        c = top["compensation"].mapping(("source",), ("note",))
        source = _get(c, "source", loader.source, "")
        note = _get(c, "note", lambda n: n.text(300), "")
    return track, tuple(sources), tuple(dimensions), note, source


def _read_levels(loader: _Loader_, doc: _Node | None, dimensions: tuple[Dimension, ...]) -> tuple[Level, ...]:
    if doc is None:
        return ()
    top = doc.mapping(("levels",))
    if not top or "levels" not in top:
        return ()
    nodes = top["levels"].items(2)
    by_dim = {d.id: d for d in dimensions}
    levels: list[Level] = []
    for rank, node in enumerate(nodes):
        m = node.mapping(("id", "name", "title", "dimensions"), ("aliases", "compensation"))
        if m is None:
            continue
        level_id = _get(m, "id", _Node.ident, "")
        dims: list[LevelDimension] = []
        if "dimensions" in m:
            dmap = m["dimensions"]
            if isinstance(dmap.value, dict):
                for key in dmap.value:
                    if key not in by_dim:
                        dmap.child(str(key), None).error(
                            f"unknown dimension '{key}' (declare it under dimensions in track.yaml)"
                        )
                for dim in dimensions:  # display order comes from track.yaml
                    if dim.id not in dmap.value:
                        dmap.child(dim.id, None).error(f"missing dimension '{dim.id}' for level '{level_id}'")
                        continue
                    dims.append(_read_level_dimension(loader, dmap.child(dim.id, dmap.value[dim.id]), dim))
            else:
                dmap.error(f"expected a mapping, got {_kind(dmap.value)}")
        comp = None
        if "compensation" in m:
            c = m["compensation"].mapping(("source", "range"), ("note",))
            comp = Compensation(
                range=_get(c, "range", lambda n: n.text(NAME_MAX), ""),
                source=_get(c, "source", loader.source, ""),
                note=_get(c, "note", lambda n: n.text(200), ""),
            )
        levels.append(
            Level(
                id=level_id,
                rank=rank,
                name=_get(m, "name", lambda n: n.text(NAME_MAX), ""),
                title=_get(m, "title", lambda n: n.text(TITLE_MAX), ""),
                aliases=_aliases(m.get("aliases")),
                dimensions=tuple(dims),
                compensation=comp,
            )
        )
    loader.unique([(n, lv.id) for n, lv in zip(nodes, levels, strict=False)], "level id")
    # the ids as ident() read them (a number becomes text, a list becomes ""), so later files never meet a non-text id
    loader.level_ids = list(dict.fromkeys(lv.id for lv in levels if lv.id))
    return tuple(levels)


def _read_level_dimension(loader: _Loader_, node: _Node, dim: Dimension) -> LevelDimension:
    m = node.mapping(("source",), ("text", "points", "split"))
    if m is None:
        return LevelDimension(dim, "")
    bodies = [k for k in ("text", "points", "split") if k in m]
    if len(bodies) != 1:
        node.error("needs exactly one of text, points or split")
    source = _get(m, "source", loader.source, "")
    text = _get(m, "text", lambda n: n.text(PARAGRAPH_MAX), "")
    points = _get(m, "points", lambda n: n.texts(POINT_MAX), ())
    if sum(len(p) + 3 for p in points) > SECTION_BUDGET:
        m["points"].error(f"points add up to more than {SECTION_BUDGET} characters; split the dimension")
    split: list[TimeShare] = []
    if "split" in m:
        for share in m["split"].items(1):
            s = share.mapping(("activity", "percent"))
            split.append(
                TimeShare(
                    _get(s, "activity", lambda n: n.text(NAME_MAX * 2), ""),
                    _get(s, "percent", lambda n: n.integer(1, 100), 0),
                )
            )
        total = sum(s.percent for s in split)
        if split and total != 100:
            m["split"].error(f"percentages add up to {total}, not 100")
    return LevelDimension(dim, source, text=text, points=points, split=tuple(split))


def _read_areas(loader: _Loader_, doc: _Node | None) -> tuple[Area, ...]:
    if doc is None:
        return ()
    top = doc.mapping(("areas",))
    if not top or "areas" not in top:
        return ()
    nodes = top["areas"].items(1)
    areas: list[Area] = []
    for node in nodes:
        m = node.mapping(("id", "kind", "name", "summary"), ("aliases", "by_level"))
        if m is None:
            continue
        kind = _get(m, "kind", lambda n: n.text(20), "")
        if kind and kind not in ("growth", "skill"):
            m["kind"].error(f"kind must be 'growth' or 'skill', not '{kind}'")
        summary, source = "", ""
        if "summary" in m:
            s = m["summary"].mapping(("source", "text"))
            summary = _get(s, "text", lambda n: n.text(PARAGRAPH_MAX), "")
            source = _get(s, "source", loader.source, "")
        by_level: list[tuple[str, str]] = []
        by_level_source = ""
        if "by_level" in m:
            b = m["by_level"].mapping(("source",), tuple(loader.level_ids))
            if b is not None:
                by_level_source = _get(b, "source", loader.source, "")
                by_level = [(lv, b[lv].text(POINT_MAX)) for lv in loader.level_ids if lv in b]
                if kind == "growth":
                    for lv in loader.level_ids:
                        if lv not in b:
                            m["by_level"].child(lv, None).error(f"missing level '{lv}' for a growth area")
        elif kind == "growth":
            node.child("by_level", None).error("a growth area needs by_level for every level")
        areas.append(
            Area(
                id=_get(m, "id", _Node.ident, ""),
                kind=kind,
                name=_get(m, "name", lambda n: n.text(NAME_MAX), ""),
                aliases=_aliases(m.get("aliases")),
                summary=summary,
                source=source,
                by_level=tuple(by_level),
                by_level_source=by_level_source,
            )
        )
    loader.unique([(n, a.id) for n, a in zip(nodes, areas, strict=False)], "area id")
    return tuple(areas)


def _read_transitions(loader: _Loader_, doc: _Node | None) -> tuple[Transition, ...]:
    if doc is None:
        return ()
    top = doc.mapping(("transitions",))
    if not top or "transitions" not in top:
        return ()
    out: list[Transition] = []
    nodes = top["transitions"].items()
    for node in nodes:
        m = node.mapping(("from", "to", "source", "summary", "shifts"))
        if m is None:
            continue
        item = Transition(
            from_level=_get(m, "from", loader.level_ref, ""),
            to_level=_get(m, "to", loader.level_ref, ""),
            source=_get(m, "source", loader.source, ""),
            summary=_get(m, "summary", lambda n: n.text(PARAGRAPH_MAX), ""),
            shifts=_get(m, "shifts", lambda n: n.texts(POINT_MAX), ()),
        )
        order = loader.level_ids
        if (
            item.from_level in order
            and item.to_level in order
            and order.index(item.to_level) <= order.index(item.from_level)
        ):
            node.error(f"'{item.to_level}' is not above '{item.from_level}'")
        out.append(item)
    loader.unique([(n, f"{t.from_level}->{t.to_level}") for n, t in zip(nodes, out, strict=False)], "transition")
    return tuple(out)


def _read_responsibilities(loader: _Loader_, doc: _Node | None):
    if doc is None:
        return (), "", ()
    top = doc.mapping((), ("core", "tagged"))
    if top is None:
        return (), "", ()
    core: tuple[str, ...] = ()
    core_source = ""
    if "core" in top:
        c = top["core"].mapping(("source", "points"))
        core_source = _get(c, "source", loader.source, "")
        core = _get(c, "points", lambda n: n.texts(POINT_MAX), ())
    tagged: list[Responsibility] = []
    nodes = top["tagged"].items() if "tagged" in top else []
    for node in nodes:
        m = node.mapping(("id", "category", "from", "source", "text"))
        if m is None:
            continue
        category = _get(m, "category", lambda n: n.text(20), "")
        if category and category not in ("technical", "leadership", "business"):
            m["category"].error("category must be technical, leadership or business")
        tagged.append(
            Responsibility(
                id=_get(m, "id", _Node.ident, ""),
                category=category,
                from_level=_get(m, "from", loader.level_ref, ""),
                text=_get(m, "text", lambda n: n.text(POINT_MAX), ""),
                source=_get(m, "source", loader.source, ""),
            )
        )
    loader.unique([(n, r.id) for n, r in zip(nodes, tagged, strict=False)], "responsibility id")
    return core, core_source, tuple(tagged)


def _read_roadmap(loader: _Loader_, doc: _Node | None) -> tuple[RoadmapStage, ...]:
    if doc is None:
        return ()
    top = doc.mapping(("stages",))
    if not top or "stages" not in top:
        return ()
    out: list[RoadmapStage] = []
    nodes = top["stages"].items(1)
    for node in nodes:
        m = node.mapping(("id", "name", "years", "levels", "source", "focus", "key_skills", "mindset"))
        if m is None:
            continue
        out.append(
            RoadmapStage(
                id=_get(m, "id", _Node.ident, ""),
                name=_get(m, "name", lambda n: n.text(NAME_MAX), ""),
                years=_get(m, "years", lambda n: n.text(20), ""),
                levels=tuple(loader.level_ref(x) for x in (m["levels"].items(1) if "levels" in m else [])),
                source=_get(m, "source", loader.source, ""),
                focus=_get(m, "focus", lambda n: n.text(POINT_MAX), ""),
                key_skills=_get(m, "key_skills", lambda n: n.texts(NAME_MAX), ()),
                mindset=_get(m, "mindset", lambda n: n.text(POINT_MAX), ""),
            )
        )
    loader.unique([(n, s.id) for n, s in zip(nodes, out, strict=False)], "stage id")
    return tuple(out)


def _read_interview(loader: _Loader_, doc: _Node | None):
    if doc is None:
        return (), ()
    top = doc.mapping(("topics", "questions"))
    if top is None:
        return (), ()
    topics: list[Topic] = []
    topic_nodes = top["topics"].items(1) if "topics" in top else []
    for node in topic_nodes:
        m = node.mapping(("id", "name"), ("aliases", "from"))
        topics.append(
            Topic(
                id=_get(m, "id", _Node.ident, ""),
                name=_get(m, "name", lambda n: n.text(NAME_MAX), ""),
                aliases=_aliases(m.get("aliases") if m else None),
                from_level=_get(m, "from", loader.level_ref, ""),
            )
        )
    loader.unique([(n, t.id) for n, t in zip(topic_nodes, topics, strict=False)], "topic id")
    topic_ids = {t.id for t in topics}
    topic_from = {t.id: t.from_level for t in topics}

    questions: list[Question] = []
    q_nodes = top["questions"].items(1) if "questions" in top else []
    for node in q_nodes:
        m = node.mapping(("id", "origin", "source", "topic", "question", "strong"))
        if m is None:
            continue
        origin = _get(m, "origin", lambda n: n.text(20), "")
        if origin and origin not in ("seed", "ladderbot"):
            m["origin"].error("origin must be 'seed' or 'ladderbot'")
        topic = _get(m, "topic", lambda n: n.text(40), "")
        if topic and topic not in topic_ids:
            m["topic"].error(f"unknown topic '{topic}'")
        strong: list[tuple[str, str]] = []
        if "strong" in m:
            s = m["strong"].mapping((), tuple(loader.level_ids))
            if s is not None:
                if not s:
                    m["strong"].error("needs at least one level")
                strong = [(lv, s[lv].text(PARAGRAPH_MAX)) for lv in loader.level_ids if lv in s]
                floor = topic_from.get(topic, "")
                if floor in loader.level_ids:
                    for lv, _ in strong:
                        if loader.level_ids.index(lv) < loader.level_ids.index(floor):
                            s[lv].error(f"topic '{topic}' starts at level '{floor}'")
        questions.append(
            Question(
                id=_get(m, "id", _Node.ident, ""),
                origin=origin,
                source=_get(m, "source", loader.source, ""),
                topic=topic,
                question=_get(m, "question", lambda n: n.text(POINT_MAX), ""),
                strong=tuple(strong),
            )
        )
    loader.unique([(n, q.id) for n, q in zip(q_nodes, questions, strict=False)], "question id")
    return tuple(topics), tuple(questions)


def _read_prompts(loader: _Loader_, doc: _Node | None, area_ids: set[str]) -> tuple[Prompt, ...]:
    if doc is None:
        return ()
    top = doc.mapping(("prompts",))
    if not top or "prompts" not in top:
        return ()
    nodes = top["prompts"].items(1)
    out: list[Prompt] = []
    for node in nodes:
        m = node.mapping(("id", "source", "text", "why"), ("area", "level", "from", "to"))
        if m is None:
            continue
        kinds = ("area" in m and "level" in m, "from" in m and "to" in m)
        if kinds.count(True) != 1 or len(m) != 6:
            node.error("needs either area and level, or from and to")
        area = _get(m, "area", lambda n: n.text(40), "")
        if area and area not in area_ids:
            m["area"].error(f"unknown area '{area}'")
        out.append(
            Prompt(
                id=_get(m, "id", _Node.ident, ""),
                source=_get(m, "source", loader.source, ""),
                text=_get(m, "text", lambda n: n.text(POINT_MAX), ""),
                why=_get(m, "why", lambda n: n.text(POINT_MAX), ""),
                area=area,
                level=_get(m, "level", loader.level_ref, ""),
                from_level=_get(m, "from", loader.level_ref, ""),
                to_level=_get(m, "to", loader.level_ref, ""),
            )
        )
    loader.unique([(n, p.id) for n, p in zip(nodes, out, strict=False)], "prompt id")
    return tuple(out)


def _check_vocabulary(loader: _Loader_, levels, areas, dimensions, topics, docs) -> None:
    """Aliases must point at one thing each within its kind, or commands would be ambiguous."""

    def check(kind: str, file: str, list_key: str, items: Iterator[tuple[int, str, tuple[str, ...]]]) -> None:
        doc = docs.get(file)
        if doc is None:
            return
        owner: dict[str, str] = {}
        for index, ident, aliases in items:
            for word in (ident, *aliases):
                prior = owner.get(word)
                if prior is not None and prior != ident:
                    loader.problems.add(
                        doc.file, f"{list_key}[{index}].aliases", f"'{word}' already names {kind} '{prior}'"
                    )
                owner.setdefault(word, ident)

    check("level", "levels.yaml", "levels", ((i, x.id, x.aliases) for i, x in enumerate(levels)))
    check("area", "areas.yaml", "areas", ((i, x.id, x.aliases) for i, x in enumerate(areas)))
    check("dimension", "track.yaml", "dimensions", ((i, x.id, x.aliases) for i, x in enumerate(dimensions)))
    check("topic", "interview.yaml", "topics", ((i, x.id, x.aliases) for i, x in enumerate(topics)))
