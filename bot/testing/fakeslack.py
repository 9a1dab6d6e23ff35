"""A fake Slack Web API: a real HTTP server on loopback for tests, benchmarks and local sandboxes.

Point the bot at it with SLACK_API_URL=<fake.url>. It answers Slack's method names with Slack's
response shapes and `ok: false` error codes, records every call, rejects oversize Block Kit the
way Slack does, and can be told to answer 429 (with Retry-After), 5xx or slowly.

Also served:
- POST /response/<id>: response_url targets (use `fake.response_url()` in test payloads)
- PUT/POST /upload/<file id>: the upload URL files.getUploadURLExternal hands out
- GET /_fake/calls, POST /_fake/reset: the recorded calls over HTTP, for sandbox use
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.blocks.kit import blocks_problems, total_text

MAX_MESSAGE_TEXT = 40_000
MAX_TOTAL_BLOCK_TEXT = 13_200  # where Slack was seen answering msg_blocks_too_long
MAX_VIEW_BLOCKS = 100
BAD_TOKENS = {"xoxb-invalid": "invalid_auth", "xoxb-revoked": "token_revoked"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class User:
    id: str
    team_id: str = "T0001"
    name: str = ""
    real_name: str = ""
    tz: str = "Europe/London"
    email: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False

    def as_slack(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name or self.id.lower(),
            "real_name": self.real_name or self.name or self.id,
            "deleted": self.deleted,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": 0,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_bot": self.is_bot,
            "profile": {
                "email": self.email,
                "real_name": self.real_name or self.name or self.id,
                "display_name": self.name or self.id.lower(),
            },
        }


@dataclass
class _Fault:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int  # -1: until cleared
    delay: float


class FakeSlack:
    """The fake server. Thread-safe; start() binds a free loopback port unless one is given."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, team_id: str = "T0001"):
        self.team_id = team_id
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # posts to response URLs
        self.uploads: dict[str, bytes] = {}
        self.files: dict[str, dict[str, Any]] = {}  # file id -> filename, title, channels, image size
        self.users: dict[str, User] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._changed = threading.Condition(self._lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parsed = urlparse(self.path)
                if parsed.path.startswith("/api/"):  # Slack accepts GET with query parameters too
                    query = parsed.query.encode()
                    headers = {**dict(self.headers), "Content-Type": "application/x-www-form-urlencoded"}
                    status, body, extra = fake._api(parsed.path[len("/api/") :], query, headers)
                    self._send(status, body, extra)
                elif self.path.startswith("/_fake/calls"):
                    with fake._lock:
                        data = [{"method": c.method, "params": c.params, "status": c.status} for c in fake.calls]
                    self._send(200, {"ok": True, "calls": data})
                else:
                    self._send(404, {"ok": False, "error": "unknown_method"})

            def do_PUT(self) -> None:  # noqa: N802
                self.do_POST()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlparse(self.path).path
                if path.startswith("/api/"):
                    status, body, headers = fake._api(path[len("/api/") :], raw, dict(self.headers))
                    self._send(status, body, headers)
                elif path.startswith("/response/"):
                    payload = _parse_body(raw, self.headers.get("Content-Type", ""))
                    with fake._changed:
                        fake.responses.append({"url_id": path.rsplit("/", 1)[-1], **payload})
                        fake._changed.notify_all()
                    self._send(200, "ok", content_type="text/plain")
                elif path.startswith("/upload/"):
                    with fake._lock:
                        fake.uploads[path.rsplit("/", 1)[-1]] = raw
                    self._send(200, "OK - uploaded", content_type="text/plain")
                elif path == "/_fake/reset":
                    fake.reset()
                    self._send(200, {"ok": True})
                else:
                    self._send(404, {"ok": False, "error": "unknown_method"})

            def _send(
                self,
                status: int,
                body: Any,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json; charset=utf-8",
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

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeSlack:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def wait(self) -> None:
        while self._thread and self._thread.is_alive():
            self._thread.join(1)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.responses.clear()
            self.uploads.clear()
            self.files.clear()
            self.messages.clear()
            self.users.clear()
            self._faults.clear()
            self._delays.clear()

    # scripting -------------------------------------------------------------------------------

    def add_user(self, user_id: str, **fields: Any) -> User:
        user = User(id=user_id, team_id=fields.pop("team_id", self.team_id), **fields)
        with self._lock:
            self.users[user_id] = user
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
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(status, error, retry_after, times, delay))

    def clear_faults(self, method: str | None = None) -> None:
        with self._lock:
            if method:
                self._faults.pop(method, None)
            else:
                self._faults.clear()

    def slow(self, method: str, seconds: float) -> None:
        """Delay every answer to `method` (0 to stop)."""
        with self._lock:
            self._delays[method] = seconds

    def response_url(self) -> str:
        return f"{self.base}/response/{next(self._ids)}"

    # inspection ------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for_responses(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least `count` response_url posts arrived (lazy listeners run in the background)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.responses) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.responses)

    def wait_for_calls(
        self, method: str, count: int, timeout: float = 5.0, where: Callable[[Call], bool] | None = None
    ) -> list[Call]:
        """Block until at least `count` calls to `method` (those `where` accepts, if given) arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if c.method == method and (where is None or where(c))]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._changed.wait(left)

    # the Web API -----------------------------------------------------------------------------

    def _api(self, method: str, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        lower = {k.lower(): v for k, v in headers.items()}
        params = _parse_body(raw, lower.get("content-type", ""))
        auth = lower.get("authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else str(params.pop("token", ""))

        with self._lock:
            fault = None
            queue = self._faults.get(method, [])
            if queue:
                fault = queue[0]
                if fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        queue.pop(0)
            delay = self._delays.get(method, 0.0) + (fault.delay if fault else 0.0)
        if delay:
            time.sleep(delay)

        extra_headers: dict[str, str] = {}
        if fault is not None and (fault.status != 200 or fault.error):
            status = fault.status
            body = {"ok": False, "error": fault.error or "internal_error"}
            if fault.retry_after is not None:
                extra_headers["Retry-After"] = str(fault.retry_after)
        elif not token:
            status, body = 200, {"ok": False, "error": "not_authed"}
        elif token in BAD_TOKENS or not token.startswith(("xoxb-", "xoxp-")):
            status, body = 200, {"ok": False, "error": BAD_TOKENS.get(token, "invalid_auth")}
        else:
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                status, body = 404, {"ok": False, "error": "unknown_method"}
            else:
                status, body = 200, handler(params)
        with self._changed:
            self.calls.append(Call(method, params, token, time.time(), status, body))
            self._changed.notify_all()
        return status, body, extra_headers

    def _ts_now(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _check_message(self, params: dict[str, Any]) -> dict[str, Any] | None:
        text = params.get("text") or ""
        blocks = _json_param(params.get("blocks"))
        if blocks is None and params.get("blocks") not in (None, ""):
            return {"ok": False, "error": "invalid_blocks_format"}
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if len(text) > MAX_MESSAGE_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if blocks:
            problems = blocks_problems(blocks, max_total_text=None)
            if problems:
                return {"ok": False, "error": "invalid_blocks", "errors": problems}
            if total_text(blocks) > MAX_TOTAL_BLOCK_TEXT:
                return {"ok": False, "error": "msg_blocks_too_long"}
        return None

    def _channel_for(self, params: dict[str, Any]) -> str | None:
        channel = str(params.get("channel") or "")
        if channel.startswith("U"):
            user = self.users.get(channel)
            if user is not None and (user.deleted or user.is_bot):
                return None
            return "D" + channel[1:]
        return channel or None

    def _m_api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": params}

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "ladderbot",
            "team_id": self.team_id,
            "user_id": "UBOT",
            "bot_id": "BBOT",
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - Slack's name
        channel = self._channel_for(params)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        problem = self._check_message(params)
        if problem:
            return problem
        ts = self._ts_now()
        message = {
            "type": "message",
            "text": params.get("text", ""),
            "blocks": _json_param(params.get("blocks")) or [],
            "ts": ts,
            "bot_id": "BBOT",
        }
        metadata = _json_param(params.get("metadata"))
        if metadata:
            message["metadata"] = metadata
        with self._lock:
            self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        problem = self._check_message(params)
        return problem or {"ok": True, "message_ts": self._ts_now()}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        with self._lock:
            message = self.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        problem = self._check_message(params)
        if problem:
            return problem
        message.update(text=params.get("text", ""), blocks=_json_param(params.get("blocks")) or [])
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if len(users) > 8:
            return {"ok": False, "error": "too_many_users"}
        for user_id in users:
            user = self.users.get(user_id)
            if user is not None and user.deleted:
                return {"ok": False, "error": "user_disabled"}
            if user is not None and user.is_bot:
                return {"ok": False, "error": "cannot_dm_bot"}
            if self.users and user is None:
                return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + users[0][1:]}}

    def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        limit = int(params.get("limit") or 100)
        with self._lock:
            found = [dict(m) for (c, _), m in self.messages.items() if c == channel]
        found.sort(key=lambda m: m["ts"], reverse=True)
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            for m in found:
                m.pop("metadata", None)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def messages_to(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for (c, _), m in sorted(self.messages.items(), key=lambda kv: kv[0][1]) if c == channel]

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user.as_slack()}

    def _m_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = int(params.get("limit") or 200)
        start = int(params.get("cursor") or 0)
        users = list(self.users.values())
        page = users[start : start + limit]
        cursor = str(start + limit) if start + limit < len(users) else ""
        return {"ok": True, "members": [u.as_slack() for u in page], "response_metadata": {"next_cursor": cursor}}

    def _m_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user.email.lower() == email and email:
                return {"ok": True, "user": user.as_slack()}
        return {"ok": False, "error": "users_not_found"}

    def _view(self, params: dict[str, Any], needs_trigger: bool) -> dict[str, Any]:
        view = _json_param(params.get("view"))
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if needs_trigger and not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        problems = blocks_problems(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS, max_total_text=None)
        if problems:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}
        if len(json.dumps(view)) > 250_000:
            return {"ok": False, "error": "view_too_large"}
        return {"ok": True, "view": {"id": f"V{next(self._ids):08d}", **view}}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._view(params, needs_trigger=True)

    def _m_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._view(params, needs_trigger=True)

    def _m_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._view(params, needs_trigger=False)

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._view(params, needs_trigger=False)

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        if not params.get("filename") or not params.get("length"):
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):08d}"
        with self._lock:
            self.files[file_id] = {"id": file_id, "name": str(params["filename"]), "title": "", "channels": []}
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        files = _json_param(params.get("files")) or []
        with self._lock:
            missing = [f.get("id") for f in files if f.get("id") not in self.uploads]
        if not files or missing:
            return {"ok": False, "error": "file_not_found"}
        channel = str(params.get("channel_id") or "")
        shared = []
        with self._lock:
            for f in files:
                info = self.files.setdefault(f["id"], {"id": f["id"], "name": "", "channels": []})
                info["title"] = f.get("title") or info["name"]
                info["image_size"] = png_size(self.uploads[f["id"]])  # None: not a PNG a viewer could open
                if channel:
                    info["channels"].append(channel)
                shared.append({k: info[k] for k in ("id", "name", "title")})
        if channel:  # Slack posts the share as a message in the channel
            ts = self._ts_now()
            message = {"ts": ts, "text": str(params.get("initial_comment") or ""), "files": shared}
            if params.get("thread_ts"):
                message["thread_ts"] = str(params["thread_ts"])
            with self._lock:
                self.messages[(channel, ts)] = message
        return {"ok": True, "files": shared}


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _json_param(value: Any) -> Any:
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if `data` is a PNG whose chunks and image data decode, else None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    position, size, compressed = 8, None, b""
    try:
        while position < len(data):
            length = int.from_bytes(data[position : position + 4], "big")
            kind = data[position + 4 : position + 8]
            body = data[position + 8 : position + 8 + length]
            crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
            if len(body) != length or zlib.crc32(kind + body) != crc:
                return None
            if kind == b"IHDR":
                size = (int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big"))
            elif kind == b"IDAT":
                compressed += body
            elif kind == b"IEND":
                break
            position += 12 + length
        if size is None or not compressed or not zlib.decompress(compressed):
            return None
    except (zlib.error, ValueError):
        return None
    return size
