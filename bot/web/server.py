"""The HTTP server: a WSGI app (Slack events + health check) run by gunicorn: WEB_CONCURRENCY processes of
WEB_THREADS threads each, and the clock in exactly one of them (bot/web/clockseat.py)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot import logs
from bot.services import Services
from bot.storage.engine import database_ok
from bot.web import metrics
from bot.web.clockseat import ClockSeat
from bot.web.metrics import METRICS_PATH

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1_000_000  # Slack's payloads are far smaller; anything bigger is not from Slack

Environ = dict[str, Any]
StartResponse = Callable[..., Any]  # PEP 3333's start_response(status, headers, exc_info=None)
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
NEWER_GUNICORN_ONLY = frozenset({"control_socket_disable"})


def _reply(
    start_response: StartResponse, status: str, body: dict[str, Any] | str, content_type: str = "application/json"
) -> list[bytes]:
    data = (json.dumps(body) if isinstance(body, dict) else body).encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


class LadderbotWSGI:
    """Routes /slack/events to Bolt and /healthz to a database check; refuses everything else
    with a 4xx, and turns any failure to read a request into a 400 rather than a 500."""

    def __init__(self, app: App, services: Services, clock_seat: ClockSeat | None = None):
        self.bolt = SlackRequestHandler(app, path=EVENTS_PATH)
        self.services = services
        self.clock_seat = clock_seat
        self.started = time.time()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH:
            if method not in ("GET", "HEAD"):
                return _reply(start_response, "405 Method Not Allowed", {"error": "use GET"})
            return self.health(start_response)
        if path == METRICS_PATH:
            if method not in ("GET", "HEAD"):
                return _reply(start_response, "405 Method Not Allowed", {"error": "use GET"})
            return _reply(start_response, "200 OK", metrics.render(self.services.engine).decode(), metrics.CONTENT_TYPE)
        flow = self.bolt.app.oauth_flow  # several workspaces: Bolt serves the install pages (bot.install)
        if flow is not None and method == "GET" and path in (flow.install_path, flow.redirect_uri_path):
            return self.bolt(environ, start_response)
        if path != EVENTS_PATH:
            return _reply(start_response, "404 Not Found", {"error": "not found"})
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", {"error": "Slack sends POST requests here"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, "400 Bad Request", {"error": "bad Content-Length"})
        if length > MAX_BODY_BYTES:
            return _reply(start_response, "413 Payload Too Large", {"error": "request body too large"})
        try:
            answer: Iterable[bytes] = self.bolt(environ, start_response)
            return answer
        except Exception as exc:  # noqa: BLE001 - a request we cannot parse is the sender's fault
            logger.warning("refused a malformed request to %s: %s", path, type(exc).__name__)
            return _reply(start_response, "400 Bad Request", {"error": "malformed request"})

    def health(self, start_response: StartResponse) -> Iterable[bytes]:
        ok, detail = database_ok(self.services.engine)
        content = self.services.content
        body = {
            "status": "ok" if ok else "unhealthy",
            "database": {"ok": ok, "backend": self.services.engine.dialect.name, "detail": detail},
            "content": {"track": content.track.id, "levels": len(content.levels), "questions": len(content.questions)},
            "uptime_seconds": round(time.time() - self.started, 1),
            # which server process answered, and whether it is the one running the clock
            "process": {"pid": os.getpid(), "clock": self.clock_seat is not None and self.clock_seat.held},
        }
        return _reply(start_response, "200 OK" if ok else "503 Service Unavailable", body)


class _RootLogger(glogging.Logger):  # type: ignore[misc] # gunicorn ships no type hints
    """gunicorn's own lines (workers booting, timeouts) go through ladderbot's handler: the same format
    (LOG_FORMAT) and the same redaction (bot.logs)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        logs.adopt(["gunicorn.error"])


class _GunicornServer(BaseApplication):  # type: ignore[misc] # gunicorn ships no type hints
    """gunicorn configured in code: the gthread worker, loopback-safe limits, no access log."""

    def __init__(self, wsgi_factory: Callable[[], WSGIApp], options: dict[str, Any]) -> None:
        self.wsgi_factory = wsgi_factory
        self.options = options
        super().__init__()  # calls load_config, so the options are set first

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in NEWER_GUNICORN_ONLY and key not in self.cfg.settings:
                continue  # an older gunicorn (pyproject allows 22) has no such setting, nor the feature it turns off
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return self.wsgi_factory()


def run_gunicorn(
    wsgi_factory: Callable[[], WSGIApp],
    *,
    port: int,
    threads: int,
    workers: int = 1,
    log_level: str = "info",
    clock_seat: ClockSeat | None = None,
) -> None:
    """Serve with gunicorn's threaded worker. The app is built inside each worker, after the fork, so no
    engine, connection or thread is shared between processes; a clock seat is offered to every worker once it
    serves, and its lock file is removed when the arbiter exits."""
    options: dict[str, Any] = {
        "bind": f"0.0.0.0:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "loglevel": log_level.lower(),
        "accesslog": None,
        "logger_class": _RootLogger,
        "limit_request_line": 8190,
        # gunicorn 23+ listens on a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): two servers
        # on one machine would take it from each other, and nothing here uses it
        "control_socket_disable": True,
    }
    # a dead worker's live gauges leave /metrics; its counters stay in the sums (bot.web.metrics)
    options["child_exit"] = lambda _arbiter, worker: metrics.forget_process(worker.pid)
    if clock_seat is not None:
        seat = clock_seat
        options["post_worker_init"] = lambda worker: seat.take_when_free(lambda: bool(worker.alive))
        options["worker_exit"] = lambda _arbiter, _worker: seat.leave()
        options["on_exit"] = lambda _arbiter: seat.remove()
    _GunicornServer(wsgi_factory, options).run()
