"""A declarative table of slash-command subcommands: matched longest first, parsed once per request,
with the help text and the did-you-mean answer generated from the same entries.

The table knows nothing about databases or Slack: each entry's `run` takes a context of the caller's
choosing (a session and ids for /growth) and the parsed input, and returns the answer for the ack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from slack_sdk import WebClient

from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.ladder.parse import normalise
from bot.ladder.words import Spellings

Ctx = TypeVar("Ctx")


@dataclass(frozen=True, slots=True)
class CommandInput:
    """One request's text, parsed once: the matched subcommand's name ("" for the bare command),
    the words after it, and the raw text after it (mentions keep their case and brackets)."""

    text: str
    name: str
    args: tuple[str, ...]
    rest: str
    known: bool = True


@dataclass(frozen=True, slots=True)
class Reply:
    """The ack's message, and whether this request needs the entry's follow-up after the ack."""

    message: Message
    follow_up: bool = False


@dataclass(frozen=True, slots=True)
class FollowUpRequest:
    """What a follow-up (Web API work after the ack) gets: who asked, the parsed input, a client."""

    team_id: str
    user_id: str
    trigger_id: str
    command: CommandInput
    client: WebClient


@dataclass(frozen=True, slots=True)
class FollowUpAnswer:
    """A follow-up's answer, sent through the response_url; `replace` replaces the ack's message."""

    message: Message
    replace: bool = True


FollowUp = Callable[[FollowUpRequest], FollowUpAnswer | None]


@dataclass(frozen=True, slots=True)
class Subcommand(Generic[Ctx]):
    """One subcommand: `name` may be several words (`team add`); `usage` is how help shows it and
    `forms` other accepted shapes; `follow_up` is the Web API work some requests need after the ack."""

    name: str
    usage: str
    about: str
    run: Callable[[Ctx, CommandInput], Reply]
    aliases: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    follow_up: FollowUp | None = None
    listed: bool = True


class CommandTable(Generic[Ctx]):
    """Subcommands of one slash command. `help` is built in, from the entries themselves."""

    def __init__(
        self,
        command: str,
        entries: Iterable[Subcommand[Ctx]],
        *,
        title: str,
        footer: str,
    ) -> None:
        self.command = command
        self.title = title
        self.footer = footer
        self.entries: tuple[Subcommand[Ctx], ...] = (
            Subcommand("help", f"`{command} help`", "this list", self._help_reply, listed=False),
            *entries,
        )
        self._by_name = {e.name: e for e in self.entries}
        if len(self._by_name) != len(self.entries):
            raise ValueError(f"{command}: two subcommands share a name")
        self.spellings = Spellings((e.name, (e.name, *e.aliases)) for e in self.entries)

    def entry(self, name: str) -> Subcommand[Ctx]:
        return self._by_name[name]

    def parse(self, text: str) -> CommandInput:
        """The subcommand the text names (longest spelling first), and what follows it."""
        words = tuple(normalise(text))
        found = self.spellings.match(words)
        if found is None:
            return CommandInput(text or "", words[0], words[1:], rest_of(text, 1), known=False)
        name, used = found
        return CommandInput(text or "", name, words[used:], rest_of(text, used))

    def run(self, context: Ctx, command: CommandInput) -> Reply:
        if not command.known:
            return Reply(self.unknown(command.name))
        return self._by_name[command.name].run(context, command)

    def suggest(self, word: str) -> list[str]:
        """Up to two subcommands close to an unknown word (an alias leads to its subcommand)."""
        return self.spellings.suggest(word)

    def unknown(self, word: str) -> Message:
        hint = " or ".join(f"`{self.command} {name}`" for name in self.suggest(word))
        text = f"I don't know “{bk.clip(word, 40)}”." + (
            f" Did you mean {hint}?" if hint else f" Try `{self.command} help`."
        )
        return Message(text, (bk.section(bk.escape(text)),))

    def help_lines(self) -> list[str]:
        """One line per listed subcommand; the usages of `team add` and the like join `team`'s line."""
        heads: dict[str, str] = {}
        extras: dict[str, list[str]] = {}
        for entry in self.entries:
            head = entry.name.split(" ")[0]
            if head == entry.name:
                if entry.listed:
                    heads[head] = f"{entry.usage}: {entry.about}"
                extras.setdefault(head, []).extend(entry.forms)
            else:
                extras.setdefault(head, []).extend((entry.usage, *entry.forms))
        return [
            f"• {line}" + ("; " + ", ".join(extras[head]) if extras.get(head) else "") for head, line in heads.items()
        ]

    def help(self) -> Message:
        return Message(
            f"How to use {self.command}",
            (
                bk.header(self.title),
                bk.section("\n".join(self.help_lines())),
                bk.context(self.footer),
            ),
        )

    def _help_reply(self, context: Ctx, command: CommandInput) -> Reply:
        return Reply(self.help())


def rest_of(text: str, words: int) -> str:
    """The raw text after the first `words` words (mentions keep their case and brackets)."""
    parts = (text or "").strip().split(None, words)
    return parts[words] if len(parts) > words else ""


def text_reply(text: str) -> Reply:
    """A one-section answer, for usage lines and refusals."""
    return Reply(Message(text, (bk.section(bk.escape(text)),)))
