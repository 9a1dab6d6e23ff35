"""The fake's HTTP side and its face to tests: `FakeSlack` starts a threaded server on loopback,
scripts faults and answers questions about what was called."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from bot.testing.fakeslack.methods import answer
from bot.testing.fakeslack.oauth import AUTHORIZE_PATH, oauth_of
from bot.testing.fakeslack.ratelimit import RateLimiter, RateModel
from bot.testing.fakeslack.socketmode import SocketModeHub
from bot.testing.fakeslack.state import Call, Fault, SlackState, User
from bot.testing.fakeslack.wire import parse_body

JSON = "application/json; charset=utf-8"
# seconds between the server thread's looks for a stop: socketserver's 0.5 s made every stop wait that long, and
# the tests start and stop a fake Slack for each test
STOP_POLL = 0.05


class _HTTPServer(ThreadingHTTPServer):
    """A threaded server that carries the fake's state to its request handlers."""

    daemon_threads = True
    # socketserver listens with a backlog of 5: under load the accept thread falls behind, the kernel drops
    # connections past it, and each costs the client a retry after 1 s or more (seen as stalls in the tests)
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SlackState, rate_limiter: RateLimiter | None) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.rate_limiter = rate_limiter

    def reset(self) -> None:
        """Forget everything the fake recorded, and the rate model's counts and buckets."""
        self.state.reset()
        if self.rate_limiter is not None:
            self.rate_limiter.reset()


class _Handler(BaseHTTPRequestHandler):
    """Routes /api/<method> to the Web API and serves response URLs, uploads and /_fake/*."""

    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass  # keep test output quiet

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        parsed = urlparse(self.path)
        if parsed.path.startswith("/api/"):  # Slack accepts GET with query parameters too
            headers = {**dict(self.headers), "Content-Type": "application/x-www-form-urlencoded"}
            self._send(*answer(state, parsed.path[len("/api/") :], parsed.query.encode(), headers))
        elif parsed.path.startswith(AUTHORIZE_PATH):  # the OAuth install page (oauth.py)
            status, page, headers = oauth_of(state).authorize(parsed.path, parsed.query)
            self._send(status, page, headers, content_type="text/html; charset=utf-8")
        elif self.path.startswith("/_fake/calls"):
            with state.lock:
                data = [{"method": c.method, "params": c.params, "status": c.status} for c in state.calls]
            self._send(200, {"ok": True, "calls": data})
        elif parsed.path == "/_fake/rates":
            limiter = self.server.rate_limiter
            if limiter is None:
                self._send(404, {"ok": False, "error": "no_rate_model"})
            else:
                self._send(200, {"ok": True, "stats": limiter.stats()})
        else:
            self._send(404, {"ok": False, "error": "unknown_method"})

    def do_PUT(self) -> None:  # noqa: N802
        self.do_POST()

    def do_POST(self) -> None:  # noqa: N802
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urlparse(self.path).path
        if path.startswith("/api/"):
            self._send(*answer(state, path[len("/api/") :], raw, dict(self.headers)))
        elif path.startswith("/response/"):
            payload = parse_body(raw, self.headers.get("Content-Type", ""))
            state.record_response({"url_id": path.rsplit("/", 1)[-1], **payload})
            self._send(200, "ok", content_type="text/plain")
        elif path.startswith("/upload/"):
            with state.lock:
                state.uploads[path.rsplit("/", 1)[-1]] = raw
            self._send(200, "OK - uploaded", content_type="text/plain")
        elif path == "/_fake/reset":
            self.server.reset()
            self._send(200, {"ok": True})
        else:
            self._send(404, {"ok": False, "error": "unknown_method"})

    def _send(
        self,
        status: int,
        body: dict[str, Any] | str,
        headers: dict[str, str] | None = None,
        content_type: str = JSON,
    ) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed in a test)
            pass


class FakeSlack:
    """The fake server. Thread-safe; start() binds a free loopback port unless one is given.
    With a `rate_model` it answers calls over Slack's rate limits with 429 and Retry-After (ratelimit.py)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, team_id: str = "T0001", rate_model: RateModel | None = None
    ):
        self.state = SlackState(team_id)
        limiter = RateLimiter(rate_model) if rate_model is not None else None
        self.state.limiter = limiter
        self._server = _HTTPServer((host, port), self.state, limiter)
        bound_host, bound_port = self._server.server_address[:2]
        self.base = f"http://{bound_host!s}:{bound_port}"
        self.url = f"{self.base}/api/"
        self.state.base_url = self.base
        # Slack's Socket Mode side: apps.connections.open hands out links to it; tests deliver envelopes
        # through it and read the acks (fake.socket_mode.deliver / wait_ack / disconnect / drop)
        self.socket_mode = SocketModeHub(self.state, str(bound_host))
        self._thread: threading.Thread | None = None

    # what tests read (the state's own containers, so a reset empties them in place) ---------

    @property
    def team_id(self) -> str:
        return self.state.team_id

    @property
    def calls(self) -> list[Call]:
        return self.state.calls

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The rate model in force (its `stats()`, `reset()`), or None when calls are not rate limited."""
        return self._server.rate_limiter

    @property
    def responses(self) -> list[dict[str, Any]]:
        return self.state.responses

    @property
    def uploads(self) -> dict[str, bytes]:
        return self.state.uploads

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.state.files

    @property
    def users(self) -> dict[str, User]:
        return self.state.users

    @property
    def messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self.state.messages

    # lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": STOP_POLL}, name="fake-slack", daemon=True
        )
        self._thread.start()
        self.socket_mode.start()
        return self

    def wait(self) -> None:
        while self._thread and self._thread.is_alive():
            self._thread.join(1)

    def stop(self) -> None:
        self.socket_mode.stop()
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self._server.reset()

    # scripting ---------------------------------------------------------------------------------

    def add_user(self, user_id: str, **fields: Any) -> User:
        user = User(id=user_id, team_id=fields.pop("team_id", self.team_id), **fields)
        with self.state.lock:
            self.state.users[user_id] = user
        return user

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `times` calls of `method` with this fault (times=-1: until cleared).
        status 429 sends Retry-After (default 1); status 200 with error sends ok:false."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if status == 429 and error is None:
            error = "ratelimited"
        with self.state.lock:
            self.state.faults.setdefault(method, []).append(Fault(status, error, retry_after, times, delay))

    def clear_faults(self, method: str | None = None) -> None:
        with self.state.lock:
            if method:
                self.state.faults.pop(method, None)
            else:
                self.state.faults.clear()

    def slow(self, method: str, seconds: float) -> None:
        """Delay every answer to `method` (0 to stop)."""
        with self.state.lock:
            self.state.delays[method] = seconds

    def response_url(self) -> str:
        return f"{self.base}/response/{self.state.next_id()}"

    # inspection --------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self.state.lock:
            return [c for c in self.state.calls if c.method == method]

    def messages_to(self, channel: str) -> list[dict[str, Any]]:
        with self.state.lock:
            ordered = sorted(self.state.messages.items(), key=lambda kv: kv[0][1])
            return [m for (c, _), m in ordered if c == channel]

    def wait_for_responses(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Block until at least `count` response_url posts arrived (lazy listeners run in the background)."""
        deadline = time.monotonic() + timeout
        with self.state.changed:
            while len(self.state.responses) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.state.changed.wait(left)
            return list(self.state.responses)

    def wait_for_calls(
        self, method: str, count: int, timeout: float = 20.0, where: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        """Block until at least `count` calls to `method` (those `where` accepts, if given) arrived."""
        deadline = time.monotonic() + timeout
        with self.state.changed:
            while True:
                found = [c for c in self.state.calls if c.method == method and (where is None or where(c))]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self.state.changed.wait(left)
