"""Readers for each content file: parsed YAML values (as validate.Node) in, frozen records out.

Each reader records what it finds wrong in `References.problems` and goes on with a blank value, so
one pass reports every problem. Files are read in order: track.yaml declares the sources and
levels.yaml the levels the later files refer to.
"""

from __future__ import annotations

from bot.content.records import (
    Area,
    Compensation,
    Dimension,
    Level,
    LevelDimension,
    Prompt,
    Question,
    Responsibility,
    RoadmapStage,
    Source,
    TimeShare,
    Topic,
    Track,
    Transition,
)
from bot.content.validate import (
    ALIAS_MAX,
    NAME_MAX,
    PARAGRAPH_MAX,
    POINT_MAX,
    SECTION_BUDGET,
    TITLE_MAX,
    Node,
    References,
    get,
    ident_of,
    kind_of,
    text_of,
    texts_of,
)


def _aliases(node: Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    return tuple(a.lower() for a in node.texts(ALIAS_MAX, min_items=0))


def read_track(refs: References, doc: Node | None) -> tuple[Track, tuple[Source, ...], tuple[Dimension, ...], str, str]:
    """The track, its sources and dimensions, and the compensation note and its source."""
    empty: tuple[Track, tuple[Source, ...], tuple[Dimension, ...], str, str] = (Track("", "", "", ""), (), (), "", "")
    if doc is None:
        return empty
    top = doc.mapping(("track", "sources", "dimensions"), ("compensation",))
    if top is None:
        return empty
    t = top["track"].mapping(("id", "name", "role"), ("summary",)) if "track" in top else None
    track = Track(
        id=ident_of(t, "id"),
        name=text_of(t, "name", NAME_MAX),
        role=text_of(t, "role", NAME_MAX),
        summary=text_of(t, "summary", PARAGRAPH_MAX),
    )
    sources = []
    source_nodes = top["sources"].items(1) if "sources" in top else []
    for node in source_nodes:
        m = node.mapping(("file", "title"))
        sources.append(Source(text_of(m, "file", 200), text_of(m, "title", 300)))
    refs.unique(list(zip(source_nodes, [s.file for s in sources], strict=False)), "source")
    refs.sources = {s.file for s in sources if s.file}

    dimensions = []
    dim_nodes = top["dimensions"].items(1) if "dimensions" in top else []
    for node in dim_nodes:
        m = node.mapping(("id", "name"), ("aliases",))
        dimensions.append(
            Dimension(
                id=ident_of(m, "id"),
                name=text_of(m, "name", NAME_MAX),
                aliases=_aliases(m.get("aliases") if m else None),
            )
        )
    refs.unique(list(zip(dim_nodes, [d.id for d in dimensions], strict=False)), "dimension id")
    ids = {d.id for d in dimensions}
    if "summary" not in ids and dimensions:
        top["dimensions"].error("a 'summary' dimension is required (the one-line description of a level)")

    note = source = ""
    if "compensation" in top:
        c = top["compensation"].mapping(("source",), ("note",))
        source = get(c, "source", refs.source, "")
        note = text_of(c, "note", 300)
    return track, tuple(sources), tuple(dimensions), note, source


def read_levels(refs: References, doc: Node | None, dimensions: tuple[Dimension, ...]) -> tuple[Level, ...]:
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
        level_id = ident_of(m, "id")
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
                    dims.append(_read_level_dimension(refs, dmap.child(dim.id, dmap.value[dim.id]), dim))
            else:
                dmap.error(f"expected a mapping, got {kind_of(dmap.value)}")
        comp = None
        if "compensation" in m:
            c = m["compensation"].mapping(("source", "range"), ("note",))
            comp = Compensation(
                range=text_of(c, "range", NAME_MAX),
                source=get(c, "source", refs.source, ""),
                note=text_of(c, "note", 200),
            )
        levels.append(
            Level(
                id=level_id,
                rank=rank,
                name=text_of(m, "name", NAME_MAX),
                title=text_of(m, "title", TITLE_MAX),
                aliases=_aliases(m.get("aliases")),
                dimensions=tuple(dims),
                compensation=comp,
            )
        )
    refs.unique([(n, lv.id) for n, lv in zip(nodes, levels, strict=False)], "level id")
    # the ids as ident() read them (a number becomes text, a list becomes ""), so later files never meet a non-text id
    refs.level_ids = list(dict.fromkeys(lv.id for lv in levels if lv.id))
    return tuple(levels)


def _read_level_dimension(refs: References, node: Node, dim: Dimension) -> LevelDimension:
    m = node.mapping(("source",), ("text", "points", "split"))
    if m is None:
        return LevelDimension(dim, "")
    bodies = [k for k in ("text", "points", "split") if k in m]
    if len(bodies) != 1:
        node.error("needs exactly one of text, points or split")
    source = get(m, "source", refs.source, "")
    text = text_of(m, "text", PARAGRAPH_MAX)
    points = texts_of(m, "points", POINT_MAX)
    if sum(len(p) + 3 for p in points) > SECTION_BUDGET:
        m["points"].error(f"points add up to more than {SECTION_BUDGET} characters; split the dimension")
    split: list[TimeShare] = []
    if "split" in m:
        for share in m["split"].items(1):
            s = share.mapping(("activity", "percent"))
            split.append(
                TimeShare(
                    text_of(s, "activity", NAME_MAX * 2),
                    get(s, "percent", lambda n: n.integer(1, 100), 0),
                )
            )
        total = sum(s.percent for s in split)
        if split and total != 100:
            m["split"].error(f"percentages add up to {total}, not 100")
    return LevelDimension(dim, source, text=text, points=points, split=tuple(split))


def read_areas(refs: References, doc: Node | None) -> tuple[Area, ...]:
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
        kind = text_of(m, "kind", 20)
        if kind and kind not in ("growth", "skill"):
            m["kind"].error(f"kind must be 'growth' or 'skill', not '{kind}'")
        summary, source = "", ""
        if "summary" in m:
            s = m["summary"].mapping(("source", "text"))
            summary = text_of(s, "text", PARAGRAPH_MAX)
            source = get(s, "source", refs.source, "")
        by_level: list[tuple[str, str]] = []
        by_level_source = ""
        if "by_level" in m:
            b = m["by_level"].mapping(("source",), tuple(refs.level_ids))
            if b is not None:
                by_level_source = get(b, "source", refs.source, "")
                by_level = [(lv, b[lv].text(POINT_MAX)) for lv in refs.level_ids if lv in b]
                if kind == "growth":
                    for lv in refs.level_ids:
                        if lv not in b:
                            m["by_level"].child(lv, None).error(f"missing level '{lv}' for a growth area")
        elif kind == "growth":
            node.child("by_level", None).error("a growth area needs by_level for every level")
        areas.append(
            Area(
                id=ident_of(m, "id"),
                kind=kind,
                name=text_of(m, "name", NAME_MAX),
                aliases=_aliases(m.get("aliases")),
                summary=summary,
                source=source,
                by_level=tuple(by_level),
                by_level_source=by_level_source,
            )
        )
    refs.unique([(n, a.id) for n, a in zip(nodes, areas, strict=False)], "area id")
    return tuple(areas)


def read_transitions(refs: References, doc: Node | None) -> tuple[Transition, ...]:
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
            from_level=get(m, "from", refs.level_ref, ""),
            to_level=get(m, "to", refs.level_ref, ""),
            source=get(m, "source", refs.source, ""),
            summary=text_of(m, "summary", PARAGRAPH_MAX),
            shifts=texts_of(m, "shifts", POINT_MAX),
        )
        order = refs.level_ids
        if (
            item.from_level in order
            and item.to_level in order
            and order.index(item.to_level) <= order.index(item.from_level)
        ):
            node.error(f"'{item.to_level}' is not above '{item.from_level}'")
        out.append(item)
    refs.unique([(n, f"{t.from_level}->{t.to_level}") for n, t in zip(nodes, out, strict=False)], "transition")
    return tuple(out)


def read_responsibilities(
    refs: References, doc: Node | None
) -> tuple[tuple[str, ...], str, tuple[Responsibility, ...]]:
    """The core responsibilities, their source, and the responsibilities tagged by level."""
    if doc is None:
        return (), "", ()
    top = doc.mapping((), ("core", "tagged"))
    if top is None:
        return (), "", ()
    core: tuple[str, ...] = ()
    core_source = ""
    if "core" in top:
        c = top["core"].mapping(("source", "points"))
        core_source = get(c, "source", refs.source, "")
        core = texts_of(c, "points", POINT_MAX)
    tagged: list[Responsibility] = []
    nodes = top["tagged"].items() if "tagged" in top else []
    for node in nodes:
        m = node.mapping(("id", "category", "from", "source", "text"))
        if m is None:
            continue
        category = text_of(m, "category", 20)
        if category and category not in ("technical", "leadership", "business"):
            m["category"].error("category must be technical, leadership or business")
        tagged.append(
            Responsibility(
                id=ident_of(m, "id"),
                category=category,
                from_level=get(m, "from", refs.level_ref, ""),
                text=text_of(m, "text", POINT_MAX),
                source=get(m, "source", refs.source, ""),
            )
        )
    refs.unique([(n, r.id) for n, r in zip(nodes, tagged, strict=False)], "responsibility id")
    return core, core_source, tuple(tagged)


def read_roadmap(refs: References, doc: Node | None) -> tuple[RoadmapStage, ...]:
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
                id=ident_of(m, "id"),
                name=text_of(m, "name", NAME_MAX),
                years=text_of(m, "years", 20),
                levels=tuple(refs.level_ref(x) for x in (m["levels"].items(1) if "levels" in m else [])),
                source=get(m, "source", refs.source, ""),
                focus=text_of(m, "focus", POINT_MAX),
                key_skills=texts_of(m, "key_skills", NAME_MAX),
                mindset=text_of(m, "mindset", POINT_MAX),
            )
        )
    refs.unique([(n, s.id) for n, s in zip(nodes, out, strict=False)], "stage id")
    return tuple(out)


def read_interview(refs: References, doc: Node | None) -> tuple[tuple[Topic, ...], tuple[Question, ...]]:
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
                id=ident_of(m, "id"),
                name=text_of(m, "name", NAME_MAX),
                aliases=_aliases(m.get("aliases") if m else None),
                from_level=get(m, "from", refs.level_ref, ""),
            )
        )
    refs.unique([(n, t.id) for n, t in zip(topic_nodes, topics, strict=False)], "topic id")
    topic_ids = {t.id for t in topics}
    topic_from = {t.id: t.from_level for t in topics}

    questions: list[Question] = []
    q_nodes = top["questions"].items(1) if "questions" in top else []
    for node in q_nodes:
        m = node.mapping(("id", "origin", "source", "topic", "question", "strong"))
        if m is None:
            continue
        origin = text_of(m, "origin", 20)
        if origin and origin not in ("seed", "ladderbot"):
            m["origin"].error("origin must be 'seed' or 'ladderbot'")
        topic = text_of(m, "topic", 40)
        if topic and topic not in topic_ids:
            m["topic"].error(f"unknown topic '{topic}'")
        strong: list[tuple[str, str]] = []
        if "strong" in m:
            s = m["strong"].mapping((), tuple(refs.level_ids))
            if s is not None:
                if not s:
                    m["strong"].error("needs at least one level")
                strong = [(lv, s[lv].text(PARAGRAPH_MAX)) for lv in refs.level_ids if lv in s]
                floor = topic_from.get(topic, "")
                if floor in refs.level_ids:
                    for lv, _ in strong:
                        if refs.level_ids.index(lv) < refs.level_ids.index(floor):
                            s[lv].error(f"topic '{topic}' starts at level '{floor}'")
        questions.append(
            Question(
                id=ident_of(m, "id"),
                origin=origin,
                source=get(m, "source", refs.source, ""),
                topic=topic,
                question=text_of(m, "question", POINT_MAX),
                strong=tuple(strong),
            )
        )
    refs.unique([(n, q.id) for n, q in zip(q_nodes, questions, strict=False)], "question id")
    return tuple(topics), tuple(questions)


def read_prompts(refs: References, doc: Node | None, area_ids: set[str]) -> tuple[Prompt, ...]:
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
        area = text_of(m, "area", 40)
        if area and area not in area_ids:
            m["area"].error(f"unknown area '{area}'")
        out.append(
            Prompt(
                id=ident_of(m, "id"),
                source=get(m, "source", refs.source, ""),
                text=text_of(m, "text", POINT_MAX),
                why=text_of(m, "why", POINT_MAX),
                area=area,
                level=get(m, "level", refs.level_ref, ""),
                from_level=get(m, "from", refs.level_ref, ""),
                to_level=get(m, "to", refs.level_ref, ""),
            )
        )
    refs.unique([(n, p.id) for n, p in zip(nodes, out, strict=False)], "prompt id")
    return tuple(out)
