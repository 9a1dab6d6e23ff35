"""Validation helpers for content files: typed reads of parsed YAML values that collect problems.

Every problem is recorded with the file and the path inside it
(``content/levels.yaml: levels[2].dimensions.scope.points[4]: empty text``), and reading goes on, so
one run of ``ladderbot content check`` shows them all; `ContentError` carries the whole list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

# Text limits. Names end up in headers (150) and buttons (75); points and summaries end up in
# section blocks (3000). The loader keeps every piece well inside those so any rendering fits.
NAME_MAX = 60
TITLE_MAX = 140
ALIAS_MAX = 40
POINT_MAX = 400
PARAGRAPH_MAX = 1200
SECTION_BUDGET = 2800  # a dimension's points together, leaving room for the heading in one section

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

T = TypeVar("T")


class ContentError(Exception):
    """Raised when a content folder is invalid; ``problems`` lists each one as 'file: path: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid content:\n  " + "\n  ".join(problems))


class Problems:
    """The problems found so far, each as 'file: path: message'."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, path: str, message: str) -> None:
        self.items.append(f"{file}: {path or '(top)'}: {message}")


@dataclass
class Node:
    """A value read from one file, with its path, for error messages."""

    problems: Problems
    file: str
    path: str
    value: Any

    def error(self, message: str) -> None:
        self.problems.add(self.file, self.path, message)

    def child(self, key: str | int, value: Any) -> Node:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return Node(self.problems, self.file, path, value)

    def mapping(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Node] | None:
        """The mapping's entries as nodes; unknown and missing keys are problems. None when not a mapping."""
        if not isinstance(self.value, dict):
            self.error(f"expected a mapping, got {kind_of(self.value)}")
            return None
        out: dict[str, Node] = {}
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

    def items(self, min_items: int = 0) -> list[Node]:
        if not isinstance(self.value, list):
            self.error(f"expected a list, got {kind_of(self.value)}")
            return []
        if len(self.value) < min_items:
            self.error(f"needs at least {min_items} item(s), has {len(self.value)}")
        return [self.child(i, v) for i, v in enumerate(self.value)]

    def text(self, limit: int) -> str:
        """The value as one line of text (whitespace collapsed), non-empty and within `limit`."""
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(f"expected text, got {kind_of(value)}")
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
            self.error(f"expected a whole number, got {kind_of(self.value)}")
            return 0
        if not low <= self.value <= high:
            self.error(f"{self.value} is outside {low}..{high}")
        return self.value


def kind_of(value: Any) -> str:
    """What a parsed YAML value is, in words for an error message."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(type(value), type(value).__name__)


def get(nodes: dict[str, Node] | None, key: str, read: Callable[[Node], T], default: T) -> T:
    """`read` applied to the entry `key`, or `default` when the mapping or the entry is missing."""
    if nodes is None or key not in nodes:
        return default
    return read(nodes[key])


def text_of(nodes: dict[str, Node] | None, key: str, limit: int) -> str:
    """The entry `key` as one line of text within `limit`; "" when missing."""
    return get(nodes, key, lambda n: n.text(limit), "")


def texts_of(nodes: dict[str, Node] | None, key: str, limit: int) -> tuple[str, ...]:
    """The entry `key` as a non-empty list of texts, each within `limit`; () when missing."""
    return get(nodes, key, lambda n: n.texts(limit), ())


def ident_of(nodes: dict[str, Node] | None, key: str) -> str:
    """The entry `key` as an id; "" when missing."""
    return get(nodes, key, Node.ident, "")


@dataclass
class References:
    """What later files may refer to (sources from track.yaml, levels from levels.yaml), and the problems
    found so far. Reads of one file add their ids here before the next file is read."""

    problems: Problems = field(default_factory=Problems)
    sources: set[str] = field(default_factory=set)
    level_ids: list[str] = field(default_factory=list)

    def source(self, node: Node) -> str:
        value = node.text(200)
        if value and self.sources and value not in self.sources:
            node.error(f"unknown source '{value}' (declare it under sources in track.yaml)")
        return value

    def level_ref(self, node: Node) -> str:
        value = node.text(40)
        if value and self.level_ids and value not in self.level_ids:
            node.error(f"unknown level '{value}' (levels: {', '.join(self.level_ids)})")
        return value

    def unique(self, nodes_and_ids: list[tuple[Node, str]], what: str) -> None:
        seen: set[str] = set()
        for node, ident in nodes_and_ids:
            if ident and ident in seen:
                node.error(f"duplicate {what} '{ident}'")
            seen.add(ident)
