"""Which expectations a piece of text shows: a small, explainable scorer built from the ladder content.

Each expectation gets a profile of weighted word stems, all taken from the content:
- its own words (weight 3);
- for a growth area: its name and aliases (3), what it does at the level (3), its summary (1), and the
  text of its weekly prompts for the level and the one below (0.5);
- for a dimension's point: its dimension's name (1); for every area (growth or skill) that the point
  names by an alias (such as "monitoring" or "security"), that area's aliases (2) and summary (1); and
  the prompts for the step into the level and the transition's shifts whose words are closest to the
  point's (1), such as "Name one technical risk ... and raise it with a proposal" for "Finds technical
  risks early and deals with them".
Further skill areas that no point names (containers, reliability, messaging...) lend their aliases (2) and
summary (1) to the expectation whose profile shares most of their words. Aliases of two words count as a
phrase ("data architecture"), never as loose words. The weights were set on the ten sample messages in
tests/evidence_samples.py; eight messages written afterwards and never tuned on (HELD_OUT there) measure how
it does on words the ladder does not use.
A text's score for an expectation is the sum, over the distinct stems the text and the profile share, of
the profile's weight times the stem's rarity across the level's profiles (inverse document frequency), so
"design" (in many profiles) counts less than "mentor" (in one). The matched stems are kept: they are the
explanation the modal shows ("you mentioned: mentor, junior").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from bot.content.records import Area, Content, Level, Prompt
from bot.evidence.expectations import Expectation, expectations_for

WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset(
    """a about above after again all also an and any are as at be been before being both but by can could did
    do does doing done down during each even every few for from further get gets got had has have having he her
    here him his how i if in into is it its just let like made make makes many may me might more most much my
    new no nor not now of off on once one only or other our out over own per same she should so some such than
    that the their them then there these they this those through to too under until up upon us very via was we
    week were what when where which while who whom why will with within without would yes yet you your team
    teams work works thing things today yesterday tomorrow really real lot lots able well way""".split()
)
SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ers", "er", "ed", "es", "s", "ly", "al")
MIN_SCORE = 4.0  # below this, a text is not taken to show an expectation (reflections, nudges, /growth ... add)


def stem(word: str) -> str:
    """A crude suffix stripper: enough for "mentoring", "mentors" and "mentor" to meet."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith(("e", "y")) and len(word) > 4 else word


def stems(text: str) -> list[str]:
    return [stem(w) for w in WORD.findall(text.lower().replace("ci/cd", "cicd")) if w not in STOP and len(w) > 1]


def terms(text: str) -> set[str]:
    """The stems of a text and its two-stem phrases ("system design" is `system+design`), so an alias of
    two words counts as the phrase, not as two loose words ("data architecture" is not "architecture")."""
    found = stems(text)
    return set(found) | {f"{a}+{b}" for a, b in zip(found, found[1:], strict=False)}


def _alias_terms(aliases: tuple[str, ...]) -> str:
    """The single-word aliases as words, the longer ones as phrases."""
    return " ".join(a for a in aliases if len(stems(a)) == 1)


@dataclass(frozen=True, slots=True)
class Suggestion:
    key: str
    score: float
    words: tuple[str, ...]  # the matched stems, strongest first


@dataclass(frozen=True)
class Scorer:
    """The profiles of one level's expectations, with each stem's rarity among them."""

    expectations: tuple[Expectation, ...]
    profiles: tuple[dict[str, float], ...]
    rarity: dict[str, float]

    def rank(self, text: str, limit: int = 3, min_score: float = 0.0) -> list[Suggestion]:
        """The best expectations for `text`, highest score first (ties: the ladder's order)."""
        present = terms(text)
        scored: list[tuple[float, int, Suggestion]] = []
        for index, (expectation, profile) in enumerate(zip(self.expectations, self.profiles, strict=True)):
            parts = sorted(
                ((profile[s] * self.rarity[s], s) for s in present if s in profile), key=lambda p: (-p[0], p[1])
            )
            score = sum(p for p, _ in parts)
            if score > 0 and score >= min_score:
                scored.append((-score, index, Suggestion(expectation.key, round(score, 2), tuple(s for _, s in parts))))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [s for _, _, s in scored[:limit]]

    def best(self, text: str) -> Suggestion | None:
        found = self.rank(text, limit=1, min_score=MIN_SCORE)
        return found[0] if found else None


def _add(profile: dict[str, float], text: str, weight: float) -> None:
    for s in set(stems(text)):
        profile[s] = max(profile.get(s, 0.0), weight)


def _add_phrases(profile: dict[str, float], phrases: tuple[str, ...], weight: float) -> None:
    for phrase in phrases:
        words = stems(phrase)
        if len(words) > 1:
            for a, b in zip(words, words[1:], strict=False):
                profile[f"{a}+{b}"] = max(profile.get(f"{a}+{b}", 0.0), weight)


def _named_areas(content: Content, text: str) -> list[Area]:
    words = f" {' '.join(WORD.findall(text.lower()))} "
    return [a for a in content.areas if any(f" {alias.lower()} " in words for alias in a.aliases)]


def _area_prompts(content: Content, area_id: str, level: Level) -> list[Prompt]:
    below = content.levels[level.rank - 1].id if level.rank > 0 else level.id
    return [p for p in content.prompts if p.area == area_id and p.level in (level.id, below)]


def _step_texts(content: Content, level: Level, expectations: tuple[Expectation, ...]) -> dict[str, list[str]]:
    """Each prompt for the step into `level` and each shift of that transition, given to the dimension
    point whose words it shares most (none when it shares none)."""
    texts = [p.text + " " + p.why for p in content.prompts if p.to_level == level.id]
    texts += [shift for t in content.transitions if t.to_level == level.id for shift in t.shifts]
    points = [e for e in expectations if e.kind == "dimension"]
    given: dict[str, list[str]] = {}
    for text in texts:
        words = set(stems(text))
        overlap, key = max(((len(words & set(stems(e.text))), e.key) for e in points), default=(0, ""))
        if overlap:
            given.setdefault(key, []).append(text)
    return given


def _link_skill_areas(
    content: Content, expectations: tuple[Expectation, ...], profiles: list[dict[str, float]]
) -> None:
    """Each further skill area (observability, containers, reliability...) that no point names lends its
    words to the expectation whose profile shares most of them (two at least), so "Kubernetes" reaches the
    infrastructure area and "SLO" the point about monitoring."""
    named = {a.id for e in expectations if e.kind == "dimension" for a in _named_areas(content, e.text)}
    for area in content.areas:
        if area.kind != "skill" or area.id in named:
            continue
        words = set(stems(area.summary + " " + " ".join(area.aliases)))
        overlap, index = max((len(words & set(p)), i) for i, p in enumerate(profiles))
        if overlap >= 2:
            _add(profiles[index], _alias_terms(area.aliases), 2)
            _add_phrases(profiles[index], area.aliases, 2)
            _add(profiles[index], area.summary, 1)


@lru_cache(maxsize=32)
def scorer_for(content: Content, level_id: str) -> Scorer:
    """Built once per content and level (the content is frozen and shared by every thread)."""
    level: Level = content.level(level_id)
    expectations = expectations_for(content, level)
    steps = _step_texts(content, level, expectations)
    profiles: list[dict[str, float]] = []
    for expectation in expectations:
        profile: dict[str, float] = {}
        if expectation.kind == "area":
            area = content.area(expectation.group)
            for prompt in _area_prompts(content, area.id, level):
                _add(profile, prompt.text, 1 if prompt.level == level.id else 0.5)
            _add(profile, area.summary, 1)
            _add(profile, _alias_terms(area.aliases), 3)
            _add_phrases(profile, area.aliases + (area.name,), 3)
        else:
            _add(profile, expectation.group_name, 1)
            for text in steps.get(expectation.key, ()):
                _add(profile, text, 2)
            for area in _named_areas(content, expectation.text):
                _add(profile, area.summary, 1)
                _add(profile, _alias_terms(area.aliases), 2)
                _add_phrases(profile, area.aliases, 2)
        _add(profile, expectation.text, 3)
        profiles.append(profile)
    _link_skill_areas(content, expectations, profiles)
    documents = Counter(s for profile in profiles for s in profile)
    rarity = {s: math.log(1 + len(profiles) / n) for s, n in documents.items()}
    return Scorer(expectations, tuple(profiles), rarity)


def prompt_for_gap(content: Content, level: Level, expectation: Expectation) -> str:
    """One concrete thing to do from the ladder content to show `expectation`: a weekly prompt of its area
    at the level, else the prompt (for the step into the level, or of any area at it) closest to its words,
    else the transition's shift, else the expectation itself."""
    candidates = [p for p in content.prompts if p.to_level == level.id or p.level == level.id]
    if expectation.kind == "area":
        own = content.prompts_at(expectation.group, level.id)
        if own:
            return own[0].text
    wanted = set(stems(expectation.text))
    best: tuple[int, str] | None = None
    for prompt in candidates:
        overlap = len(wanted & set(stems(prompt.text + " " + prompt.why)))
        if overlap and (best is None or overlap > best[0]):
            best = (overlap, prompt.text)
    if best is not None:
        return best[1]
    below = [t for t in content.transitions if t.to_level == level.id]
    if below and below[0].shifts:
        return below[0].shifts[0]
    return f"Find one piece of work this month that shows: {expectation.text}"
