"""Logging for every ladderbot process: plain text or, with LOG_FORMAT=json, one JSON object per line, each
with the request, team and user ids of the Slack request it was written for.

What never reaches a log line, at any level (`Redactor`, on the handler every record goes through):
- a Slack token (xoxb-, xoxp-, xapp-, xoxe-...), the signing secret, the OAuth client secret or an
  encryption key: known values are replaced by "[redacted]", and token-shaped words too;
- what people write (reflections, evidence, nudge answers): ladderbot's own code logs ids and kinds only,
  and the libraries that log payloads or SQL parameters (Bolt and slack_sdk log request bodies at INFO and
  DEBUG, SQLAlchemy logs statement parameters at INFO) are cut below WARNING whatever LOG_LEVEL says; what
  they log at WARNING and above has its "text" and "value" fields blanked.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"
# Slack's token shapes: bot, user, app-level, refresh and configuration tokens
TOKEN_PATTERN = re.compile(r"\b(?:xox[abposre]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]{6,}")
BEARER_PATTERN = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?bearer\s+)[^\s'\",}]+")
# loggers that log request bodies, API payloads or SQL parameters below WARNING
PAYLOAD_LOGGERS = ("slack_bolt", "slack_sdk", "slack", "sqlalchemy", "urllib3", "websocket", "aiohttp")
# a payload field that may hold what a person wrote, as a Python or JSON literal: its value is blanked
TEXT_FIELD_PATTERN = re.compile(
    r"""(['"](?:text|value|plain_text|reflection|note)['"]\s*:\s*)(['"])(?:\\.|(?!\2).)*\2"""
)

_request: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "ladderbot_request", default=None
)


def request_ids(body: Mapping[str, Any] | None) -> dict[str, str | None]:
    """A new request id, and the team and user ids a Slack payload names (wherever its kind keeps them)."""
    body = body if isinstance(body, Mapping) else {}
    team = body.get("team") if isinstance(body.get("team"), Mapping) else {}
    user = body.get("user") if isinstance(body.get("user"), Mapping) else {}
    event = body.get("event") if isinstance(body.get("event"), Mapping) else {}
    assert isinstance(team, Mapping) and isinstance(user, Mapping) and isinstance(event, Mapping)
    event_user = event.get("user")
    team_id = body.get("team_id") or team.get("id") or user.get("team_id")
    user_id = body.get("user_id") or user.get("id") or (event_user if isinstance(event_user, str) else None)
    return {
        "request_id": uuid.uuid4().hex[:12],
        "team_id": str(team_id) if team_id else None,
        "user_id": str(user_id) if user_id else None,
    }


@contextlib.contextmanager
def request_context(body: Mapping[str, Any] | None) -> Iterator[dict[str, str | None]]:
    """Within this block, every log line of this thread carries the request's ids."""
    ids = request_ids(body)
    token = _request.set(ids)
    try:
        yield ids
    finally:
        _request.reset(token)


def current_request() -> dict[str, str | None]:
    return _request.get() or {}


class Redactor(logging.Filter):
    """Drops the payload loggers' records below WARNING and takes secrets and people's words out of the rest."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str, *, payload: bool = False) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = TOKEN_PATTERN.sub(REDACTED, text)
        text = BEARER_PATTERN.sub(lambda m: m.group(1) + REDACTED, text)
        if payload:
            text = TEXT_FIELD_PATTERN.sub(lambda m: m.group(1) + '"…"', text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        payload = record.name.split(".", 1)[0] in PAYLOAD_LOGGERS
        if payload and record.levelno < logging.WARNING:
            return False
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string still gets logged, as its template
            message = str(record.msg)
        cleaned = self.redact(message, payload=payload)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # the exception's text (SlackApiError carries Slack's answer) is formatted later: format it now, cleaned
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info), payload=True)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the request's ids, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        ids = current_request()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": ids.get("request_id"),
            "team_id": ids.get("team_id"),
            "user_id": ids.get("user_id"),
            "process": record.process,
        }
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = current_request()
        if ids.get("request_id"):
            text += f" [request {ids['request_id']} team {ids.get('team_id')} user {ids.get('user_id')}]"
        return text


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(level: str, log_format: str = "text", secrets: Iterable[str] = ()) -> logging.Handler:
    """Send every log record to stderr in `log_format` through one Redactor. Like logging.basicConfig, it
    leaves a root logger that something else already set up (a test runner, a host program) with its own
    handlers, only adding the Redactor to them. A second call replaces the first's handler. The payload
    loggers are kept at WARNING so they do not build messages that would be dropped anyway."""
    redactor = Redactor(secrets)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "ladderbot", False)]:
        root.removeHandler(old)
    root.setLevel(level)
    if root.handlers:
        for other in root.handlers:
            for earlier in [f for f in other.filters if isinstance(f, Redactor)]:
                other.removeFilter(earlier)
            other.addFilter(redactor)
        return root.handlers[0]
    handler = logging.StreamHandler(sys.stderr)
    handler.ladderbot = True  # type: ignore[attr-defined] # marks the handler a later call replaces
    handler.setFormatter(formatter(log_format))
    handler.addFilter(redactor)
    root.addHandler(handler)
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
    return handler


def adopt(logger_names: Iterable[str]) -> None:
    """Make these loggers (gunicorn's) write through the root handler, so their lines get the same format and
    the same redaction as ours."""
    for name in logger_names:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True


def hidden_values(settings: Any) -> list[str]:
    """The values of a settings dataclass's fields kept out of its repr (tokens, secrets, keys): what the
    Redactor must never let through."""
    values: list[str] = []
    for item in dataclasses.fields(settings):
        if not item.repr:
            value = getattr(settings, item.name)
            values.extend([value] if isinstance(value, str) else [str(v) for v in value or ()])
    return values
