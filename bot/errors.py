"""One hierarchy for requests we refuse: each error carries the message the person sees and, for a
form, the field it belongs to, so a modal ack can put the message under that field.

Start-up problems (ConfigError, ContentError) are not here: they stop the process, they are not
answers to a person.
"""

from __future__ import annotations


class RefusedError(Exception):
    """A request we refuse, with a message for the person and, on a form, the field it concerns."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotYours(RefusedError):
    """The thing exists, but belongs to someone else (a nudge, an invitation, a follow)."""


class NotFound(RefusedError):
    """The thing the request names does not exist (any more)."""


class InvalidPlan(RefusedError):
    """Plan values that do not fit the ladder or the rules (level, target, focus, schedule, pause)."""


class InvalidMention(RefusedError):
    """Text that should name people but names nobody we can resolve."""
