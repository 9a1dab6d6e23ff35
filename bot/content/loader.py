"""Ladder content: loaded once from YAML into frozen, validated records.

This is the only module that reads YAML. Every problem found is reported with the file and the path
inside it (``content/levels.yaml: levels[2].dimensions.scope.points[4]: empty text``), and all
problems are collected before failing so one run of ``ladderbot content check`` shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import yaml

from bot.content import readers
from bot.content.records import Content
from bot.content.validate import ContentError, Node, Problems, References

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _YAMLLoader
except ImportError:  # pragma: no cover - depends on the platform's PyYAML build
    from yaml import SafeLoader as _YAMLLoader  # type: ignore[assignment]

REQUIRED_FILES = ("track.yaml", "levels.yaml", "areas.yaml", "interview.yaml")
OPTIONAL_FILES = ("transitions.yaml", "responsibilities.yaml", "roadmap.yaml", "nudges.yaml")


class Named(Protocol):
    """A record people name in commands: levels, areas, dimensions and topics."""

    @property
    def id(self) -> str: ...

    @property
    def aliases(self) -> tuple[str, ...]: ...


def load_content(directory: str | Path) -> Content:
    """Load and validate a content folder; raise ContentError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ContentError([f"{directory}: not a folder"])
    refs = References()
    docs = {
        name: _read_yaml(directory, name, refs.problems, required=name in REQUIRED_FILES)
        for name in REQUIRED_FILES + OPTIONAL_FILES
    }

    track, sources, dimensions, comp_note, comp_source = readers.read_track(refs, docs["track.yaml"])
    levels = readers.read_levels(refs, docs["levels.yaml"], dimensions)
    areas = readers.read_areas(refs, docs["areas.yaml"])
    transitions = readers.read_transitions(refs, docs["transitions.yaml"])
    core, core_source, tagged = readers.read_responsibilities(refs, docs["responsibilities.yaml"])
    roadmap = readers.read_roadmap(refs, docs["roadmap.yaml"])
    topics, questions = readers.read_interview(refs, docs["interview.yaml"])
    prompts = readers.read_prompts(refs, docs["nudges.yaml"], {a.id for a in areas})
    vocabularies: list[tuple[str, str, str, Iterable[Named]]] = [
        ("levels.yaml", "level", "levels", levels),
        ("areas.yaml", "area", "areas", areas),
        ("track.yaml", "dimension", "dimensions", dimensions),
        ("interview.yaml", "topic", "topics", topics),
    ]
    for file, kind, list_key, items in vocabularies:
        doc = docs[file]
        if doc is not None:
            _check_vocabulary(refs.problems, doc.file, kind, list_key, items)

    if refs.problems.items:
        raise ContentError(refs.problems.items)
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


def _read_yaml(directory: Path, name: str, problems: Problems, *, required: bool) -> Node | None:
    """The parsed file as the root node, or None (with a problem recorded) when missing or unreadable."""
    path = directory / name
    label = str(path)
    if not path.exists():
        if required:
            problems.add(label, "", "file is missing")
        return None
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAMLLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.add(label, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(label, "", f"cannot read: {exc}")
        return None
    return Node(problems, label, "", data)


def _check_vocabulary(problems: Problems, file: str, kind: str, list_key: str, items: Iterable[Named]) -> None:
    """Aliases must point at one thing each within its kind, or commands would be ambiguous."""
    owner: dict[str, str] = {}
    for index, item in enumerate(items):
        for word in (item.id, *item.aliases):
            prior = owner.get(word)
            if prior is not None and prior != item.id:
                problems.add(file, f"{list_key}[{index}].aliases", f"'{word}' already names {kind} '{prior}'")
            owner.setdefault(word, item.id)


def read_slash_commands(manifest: str | Path) -> tuple[tuple[str, str, str], ...]:
    """(command, description, usage hint) for each slash command a Slack app manifest declares, for the
    sandbox's composer (bot/sandbox); empty when the file is missing or not a manifest."""
    try:
        data = yaml.load(Path(manifest).read_text(encoding="utf-8"), Loader=_YAMLLoader)
        commands = data["features"]["slash_commands"]
        return tuple(
            (str(c["command"]), str(c.get("description") or ""), str(c.get("usage_hint") or "")) for c in commands
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError):
        return ()


def read_bot_scopes(manifest: str | Path) -> tuple[str, ...]:
    """The bot scopes a Slack app manifest asks for (oauth_config.scopes.bot), for `ladderbot doctor`;
    empty when the file is missing or not a manifest."""
    try:
        data = yaml.load(Path(manifest).read_text(encoding="utf-8"), Loader=_YAMLLoader)
        return tuple(str(scope) for scope in data["oauth_config"]["scopes"]["bot"])
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError):
        return ()
