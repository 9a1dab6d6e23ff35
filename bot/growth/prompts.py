"""Choosing this week's prompt: deterministic given a person's plan and history."""

from __future__ import annotations

from collections import Counter

from bot.content.records import Content, Prompt

TRANSITION = "transition"


def fitting_prompts(content: Content, level: str, target: str, focus: list[str]) -> dict[str, list[Prompt]]:
    """Prompts that fit a plan, grouped in rotation order: each focus area at the target level, then the
    next step from the current level toward the target."""
    groups: dict[str, list[Prompt]] = {area: list(content.prompts_at(area, target)) for area in focus}
    levels = {lv.id: lv.rank for lv in content.levels}
    if level in levels and target in levels and levels[target] > levels[level]:
        step_to = content.levels[levels[level] + 1].id
        groups[TRANSITION] = list(content.step_prompts(level, step_to))
    return {group: prompts for group, prompts in groups.items() if prompts}


def choose_prompt(content: Content, level: str, target: str, focus: list[str], history: list[str]) -> Prompt | None:
    """The next prompt: rotate through the groups after the one last used, and take the first prompt seen
    the fewest times, so nothing repeats until everything that fits has been seen."""
    groups = fitting_prompts(content, level, target, focus)
    if not groups:
        return None
    seen = Counter(history)
    fewest = min(seen[p.id] for prompts in groups.values() for p in prompts)
    names = list(groups)
    last_group = None
    for prompt_id in reversed(history):
        for name, prompts in groups.items():
            if any(p.id == prompt_id for p in prompts):
                last_group = name
                break
        if last_group:
            break
    start = (names.index(last_group) + 1) % len(names) if last_group in names else 0
    for offset in range(len(names)):
        for prompt in groups[names[(start + offset) % len(names)]]:
            if seen[prompt.id] == fewest:
                return prompt
    return None  # pragma: no cover - fewest is always reached by some prompt
