"""Subcommand words: which name each spelling (one word or several) stands for, matched longest
first, with did-you-mean over the same spellings. /ladder, /interview and the /growth command table
(bot.growth.table) all match their subcommand words with this, in a few dict lookups."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class Spellings:
    """Names, each reached by its spellings. An empty spelling matches only an empty command."""

    def __init__(self, entries: Iterable[tuple[str, Iterable[str]]]) -> None:
        self._names: dict[tuple[str, ...], str] = {}
        for name, spellings in entries:
            for spelling in spellings:
                words = tuple(spelling.split())
                if words in self._names:
                    raise ValueError(f"“{spelling}” spells both {self._names[words]!r} and {name!r}")
                self._names[words] = name
        self._sizes = sorted({len(words) for words in self._names}, reverse=True)

    def match(self, words: Sequence[str]) -> tuple[str, int] | None:
        """(name, number of words used) for the longest spelling the words start with."""
        for size in self._sizes:
            if size <= len(words) and (size or not words):
                name = self._names.get(tuple(words[:size]))
                if name is not None:
                    return name, size
        return None

    def suggest(self, word: str, limit: int = 2) -> list[str]:
        """Names whose spellings are close to an unknown word, closest first, each once (a nameless
        entry, like the bare command, is suggested by the spelling itself)."""
        # one-word spellings only: "teamm" means "team", not "team remove"
        spelled = {words[0]: name for words, name in self._names.items() if len(words) == 1}
        close = difflib.get_close_matches(word, list(spelled), n=limit, cutoff=0.6)
        return list(dict.fromkeys(spelled[c] or c for c in close))

    def spellings(self) -> list[str]:
        return [" ".join(words) for words in self._names if words]
