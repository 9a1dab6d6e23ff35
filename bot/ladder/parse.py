"""Parsing `/ladder` and `/interview` text into plain request values.

Parsing is pure: text in, a frozen request out. Unknown words become an `Unknown` request with
suggestions, never an exception.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.blocks.ladder import MAX_QUESTION_COUNT, Unknown
from bot.content.records import Content
from bot.ladder.words import Spellings

MAX_TEXT = 500  # longer command text is cut; Slack itself allows far more than any real command
DEFAULT_QUESTION_COUNT = 5

_ARROWS = re.compile(r"\s*(?:->|→|⟶|=>|—>|-->)\s*")
_SPLIT = re.compile(r"[\s,;]+")
SEPARATORS = frozenset({"->", "to", "vs", "versus", "and", "v", "vs."})
HELP_WORDS = frozenset({"help", "?", "-h", "--help", "usage", "h"})


def normalise(text: str) -> list[str]:
    """Lower-case words of a command, with Slack's HTML escaping undone and arrows spaced out."""
    text = (text or "")[:MAX_TEXT]
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _ARROWS.sub(" -> ", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return [w for w in _SPLIT.split(text.lower().strip()) if w and w not in ('"', "'")]


@dataclass(frozen=True)
class Vocabulary:
    """Phrases (ids and aliases) that name levels, areas, dimensions and topics."""

    phrases: dict[str, dict[str, str]]  # kind -> phrase -> id
    longest: int

    @classmethod
    def from_content(cls, content: Content) -> Vocabulary:
        phrases: dict[str, dict[str, str]] = {"level": {}, "area": {}, "dimension": {}, "topic": {}}
        for kind, items in (
            ("level", content.levels),
            ("area", content.areas),
            ("dimension", content.dimensions),
            ("topic", content.topics),
        ):
            for item in items:
                for phrase in (item.id, item.id.replace("_", " "), item.id.replace("-", " "), item.name, *item.aliases):
                    phrases[kind].setdefault(" ".join(normalise(phrase)), item.id)
        longest = max((len(p.split()) for table in phrases.values() for p in table), default=1)
        return cls(phrases, longest)

    def match(self, kind: str, words: list[str], start: int = 0) -> tuple[str, int] | None:
        """Longest phrase of `kind` starting at words[start]: (id, number of words used)."""
        table = self.phrases[kind]
        for size in range(min(self.longest, len(words) - start), 0, -1):
            found = table.get(" ".join(words[start : start + size]))
            if found is not None:
                return found, size
        return None

    def match_all(self, kind: str, words: list[str]) -> str | None:
        hit = self.match(kind, words)
        return hit[0] if hit and hit[1] == len(words) else None

    def suggest(self, phrase: str, kinds: tuple[str, ...], extra: tuple[str, ...] = ()) -> list[str]:
        """Close matches for an unknown phrase, as words a person can type."""
        candidates: dict[str, str] = {}
        for kind in kinds:
            for alias, ident in self.phrases[kind].items():
                candidates.setdefault(alias, ident)
        for word in extra:
            candidates.setdefault(word, word)
        close = difflib.get_close_matches(phrase, list(candidates), n=6, cutoff=0.6)
        out: list[str] = []
        for alias in close:
            ident = candidates[alias]
            if ident not in out:
                out.append(ident)
        return out[:3]


# ---------------------------------------------------------------------------------------------
# /ladder
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderHelp:
    pass


@dataclass(frozen=True)
class LadderOverview:
    pass


@dataclass(frozen=True)
class LevelView:
    level: str
    dimension: str | None = None
    area: str | None = None


@dataclass(frozen=True)
class Compare:
    lower: str
    higher: str
    swapped: bool = False


@dataclass(frozen=True)
class AreaView:
    area: str


@dataclass(frozen=True)
class AreaList:
    pass


@dataclass(frozen=True)
class Roadmap:
    pass


@dataclass(frozen=True)
class Responsibilities:
    level: str | None = None


LadderRequest = (
    LadderHelp | LadderOverview | LevelView | Compare | AreaView | AreaList | Roadmap | Responsibilities | Unknown
)

# /ladder's subcommand words: the name each spelling stands for
LADDER_WORDS = Spellings(
    (
        ("help", HELP_WORDS),
        ("levels", ("levels", "list", "all", "overview", "ladder")),
        ("compare", ("compare", "diff", "delta", "difference", "versus", "vs")),
        ("area", ("area", "areas", "skill", "skills")),
        ("roadmap", ("roadmap", "path", "years")),
        ("responsibilities", ("responsibilities", "duties")),
    )
)
# offered by did-you-mean beside level and area names
LADDER_SUBCOMMANDS = ("help", "levels", "compare", "area", "areas", "roadmap", "responsibilities")


def parse_ladder(text: str, vocab: Vocabulary, level_order: list[str]) -> LadderRequest:
    words = normalise(text)
    if not words:
        return LadderOverview()
    verb = LADDER_WORDS.match(words[:1])
    rest = words[1:]
    match verb[0] if verb else None:
        case "help":
            return LadderHelp()
        case "levels":
            return LadderOverview()
        case "compare":
            return _parse_compare(rest, vocab, level_order)
        case "area" if not rest:
            return AreaList()
        case "area":
            area = vocab.match_all("area", rest)
            if area:
                return AreaView(area)
            phrase = " ".join(rest)
            return Unknown(f"I don't know the area “{phrase}”.", tuple(vocab.suggest(phrase, ("area",))))
        case "roadmap":
            return Roadmap()
        case "responsibilities" if not rest:
            return Responsibilities()
        case "responsibilities" if vocab.match_all("level", rest):
            return Responsibilities(vocab.match_all("level", rest))

    hit = vocab.match("level", words)
    if hit is None:
        area = vocab.match_all("area", words)
        if area:
            return AreaView(area)
        phrase = " ".join(words)
        head = words[0]
        suggestions = vocab.suggest(phrase, ("level", "area"), LADDER_SUBCOMMANDS)
        if not suggestions and phrase != head:
            suggestions = vocab.suggest(head, ("level", "area"), LADDER_SUBCOMMANDS)
        return Unknown(f"I don't know “{_clip(phrase)}”.", tuple(suggestions))

    level, used = hit
    rest = words[used:]
    if not rest:
        return LevelView(level)
    if rest[0] in SEPARATORS or vocab.match_all("level", rest):
        return _parse_compare(words, vocab, level_order)
    if vocab.match_all("dimension", rest):
        return LevelView(level, dimension=vocab.match_all("dimension", rest))
    if vocab.match_all("area", rest):
        return LevelView(level, area=vocab.match_all("area", rest))
    phrase = " ".join(rest)
    return Unknown(
        f"I know the level, but not “{_clip(phrase)}”.",
        tuple(f"{level} {s}" for s in vocab.suggest(phrase, ("dimension", "area"))),
    )


def _parse_compare(words: list[str], vocab: Vocabulary, level_order: list[str]) -> LadderRequest:
    found: list[str] = []
    i = 0
    while i < len(words):
        if words[i] in SEPARATORS:
            i += 1
            continue
        hit = vocab.match("level", words, i)
        if hit is None:
            phrase = words[i]
            return Unknown(
                f"To compare I need two levels, and “{_clip(phrase)}” is not one.",
                tuple(vocab.suggest(phrase, ("level",))),
            )
        found.append(hit[0])
        i += hit[1]
    if len(found) != 2:
        return Unknown("To compare I need exactly two levels, like `/ladder compare mid senior`.")
    a, b = found
    if a == b:
        return Unknown("Those are the same level; pick two different ones, like `/ladder compare mid senior`.")
    if level_order.index(a) > level_order.index(b):
        return Compare(b, a, swapped=True)
    return Compare(a, b)


# ---------------------------------------------------------------------------------------------
# /interview
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterviewHelp:
    pass


@dataclass(frozen=True)
class TopicList:
    level: str | None = None


@dataclass(frozen=True)
class QuestionSet:
    level: str
    topic: str | None = None
    count: int = DEFAULT_QUESTION_COUNT
    note: str = ""


InterviewRequest = InterviewHelp | TopicList | QuestionSet | Unknown


# /interview's subcommand words (anything else starts with a level)
INTERVIEW_WORDS = Spellings((("help", ("", *HELP_WORDS)), ("topics", ("topics", "topic", "list"))))


def parse_interview(text: str, vocab: Vocabulary) -> InterviewRequest:
    words = normalise(text)
    verb = INTERVIEW_WORDS.match(words[:1])
    if verb and verb[0] == "help":
        return InterviewHelp()
    if verb and verb[0] == "topics":
        level = vocab.match_all("level", words[1:]) if len(words) > 1 else None
        return TopicList(level)
    hit = vocab.match("level", words)
    if hit is None:
        phrase = words[0]
        suggestions = vocab.suggest(" ".join(words), ("level",)) or vocab.suggest(phrase, ("level",), ("topics",))
        return Unknown(f"I don't know the level “{_clip(phrase)}”.", tuple(suggestions), command="interview")
    level, used = hit
    rest = words[used:]
    count = DEFAULT_QUESTION_COUNT
    note = ""
    numbers = [w for w in rest if re.fullmatch(r"[+-]?\d+", w)]
    if numbers:
        rest = [w for w in rest if w not in numbers]
        requested = int(numbers[-1]) if len(numbers[-1]) < 6 else 10**6
        count = min(max(requested, 1), MAX_QUESTION_COUNT)
        if requested != count:
            note = f"I can show between 1 and {MAX_QUESTION_COUNT} questions at a time, so here are {count}."
    topic = None
    if rest:
        topic = vocab.match_all("topic", rest)
        if topic is None:
            phrase = " ".join(rest)
            return Unknown(
                f"I don't know the interview topic “{_clip(phrase)}”.",
                tuple(f"{level} {s}" for s in vocab.suggest(phrase, ("topic",))),
                command="interview",
            )
    return QuestionSet(level, topic, count, note)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
