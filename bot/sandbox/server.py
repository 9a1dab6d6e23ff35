"""The sandbox server: the real bot (build_services, create_app, LadderbotWSGI: production's code path) with
its Slack client pointed at the fake Slack in this process, a throwaway SQLite file, and the page that plays
Slack's client for it.

One WSGI app on one loopback port:
- `/` and `/static/*`: the page (bot/sandbox/static: plain HTML, JS and CSS, no build step)
- `/sandbox/api/*`: what the page asks for (`SandboxApi`): the person's conversation, modal and App Home
  rendered to HTML, and the person's commands, clicks, submissions and time jumps
- `/sandbox/files/<id>`: files the bot uploaded (the digest's chart, the promotion packet's .md and .pdf),
  with their type and name
- everything else (`/slack/events`, `/healthz`): the bot's own WSGI app, untouched

The page's commands and clicks become requests signed and shaped as Slack's (bot/sandbox/payloads.py),
posted over HTTP to this server's own /slack/events, so Bolt checks them exactly as it checks Slack's.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sqlalchemy import Engine

from bot.app import create_app
from bot.config import DEFAULT_DATA_DIR, PROJECT_ROOT, Settings
from bot.content.loader import read_slash_commands
from bot.content.records import Content
from bot.sandbox import demo
from bot.sandbox.api import SandboxApi
from bot.sandbox.botlink import BotLink
from bot.sandbox.render import STYLESHEET
from bot.sandbox.timecontrol import MessageTimes, SandboxTime
from bot.sandbox.workspace import BOT_USER, PEOPLE, TEAM_ID, Shortcut
from bot.services import build_services
from bot.storage import engine as db
from bot.storage.models import utcnow
from bot.testing.fakeslack import FakeSlack
from bot.web.server import LadderbotWSGI

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_DATABASE = DEFAULT_DATA_DIR / "sandbox.sqlite3"
MANIFEST = PROJECT_ROOT / "manifest.yml"
SANDBOX_TOKEN = "xoxb-sandbox"

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    database: Path = DEFAULT_DATABASE  # replaced at every start: the sandbox never keeps nor touches real data
    demo: bool = True
    tick: bool = True  # run a clock pass every minute at the sandbox's time


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 drops connections when a page loads many files at once


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass  # the page polls; a line per request would bury the bot's own log


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    start_response(status, headers)
    return [body]


def json_reply(start_response: StartResponse, body: Any, status: str = "200 OK") -> list[bytes]:
    return _reply(start_response, status, json.dumps(body).encode(), "application/json; charset=utf-8")


class SandboxWSGI:
    """Routes the page, its API and uploaded files; hands everything else to the bot."""

    def __init__(self, bot: LadderbotWSGI, api: SandboxApi, fake: FakeSlack, listen_host: str = "127.0.0.1") -> None:
        self.bot = bot
        self.api = api
        self.fake = fake
        # the names the page may be reached by; any when it listens on every interface (the person chose that)
        self.hosts = None if listen_host in ("0.0.0.0", "::", "") else {"127.0.0.1", "localhost", "[::1]", listen_host}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/sandbox/") and self.hosts is not None:
            # a page from another site whose name resolves to this machine (DNS rebinding) sends its own name
            host = environ.get("HTTP_HOST", "")
            if (host if host.endswith("]") else host.rsplit(":", 1)[0]) not in self.hosts:
                return json_reply(start_response, {"ok": False, "error": "unknown host"}, "421 Misdirected Request")
        if path.startswith("/sandbox/api/"):
            query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            body: dict[str, Any] = {}
            if method == "POST":
                # JSON only: a cross-site page cannot send it without a CORS preflight, which is never granted,
                # so another site open in the same browser cannot act in the sandbox
                if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
                    return json_reply(start_response, {"ok": False, "error": "send JSON"}, "415 Unsupported Media Type")
                try:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                    data = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
                except (ValueError, json.JSONDecodeError):
                    return json_reply(start_response, {"ok": False, "error": "send JSON"}, "400 Bad Request")
                body = data if isinstance(data, dict) else {}
            status, answer = self.api.handle(method, path[len("/sandbox/api/") :], query, body)
            return json_reply(start_response, answer, status)
        if path.startswith("/sandbox/files/") and method == "GET":
            return self.file(start_response, path[len("/sandbox/files/") :])
        if path == "/sandbox/blockkit.css" and method == "GET":
            return _reply(start_response, "200 OK", STYLESHEET.encode(), "text/css; charset=utf-8")
        if method == "GET" and (path == "/" or path.startswith("/static/")):
            return self.static(start_response, "index.html" if path == "/" else path[len("/static/") :])
        return self.bot(environ, start_response)

    def file(self, start_response: StartResponse, file_id: str) -> list[bytes]:
        """A file the bot uploaded, with its type and its name (images and PDFs open in the browser; anything
        else downloads). Only known, inert types are served as themselves: nothing uploaded runs on this page."""
        with self.fake.state.lock:
            data = self.fake.state.uploads.get(file_id)
            name = str((self.fake.state.files.get(file_id) or {}).get("name") or file_id)
        if data is None:
            return _reply(start_response, "404 Not Found", b"no such file", "text/plain")
        kind, inline = file_type(name, data)
        headers = [
            ("Content-Type", kind),
            ("Content-Length", str(len(data))),
            ("Content-Disposition", content_disposition(name, inline)),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
        ]
        start_response("200 OK", headers)
        return [data]

    def static(self, start_response: StartResponse, name: str) -> list[bytes]:
        file = (STATIC_DIR / name).resolve()
        if STATIC_DIR not in file.parents or not file.is_file():
            return _reply(start_response, "404 Not Found", b"not found", "text/plain")
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return _reply(start_response, "200 OK", file.read_bytes(), kind)


# what an uploaded file is served as, by its name's extension: (Content-Type, shown in the browser)
FILE_TYPES = {
    ".png": ("image/png", True),
    ".jpg": ("image/jpeg", True),
    ".jpeg": ("image/jpeg", True),
    ".gif": ("image/gif", True),
    ".webp": ("image/webp", True),
    ".pdf": ("application/pdf", True),
    ".md": ("text/markdown; charset=utf-8", False),
    ".txt": ("text/plain; charset=utf-8", False),
    ".csv": ("text/csv; charset=utf-8", False),
    ".json": ("application/json", False),
}


def file_type(name: str, data: bytes) -> tuple[str, bool]:
    """(Content-Type, inline) for an uploaded file: by its name's extension, a PNG by its bytes when the name
    says nothing; anything else (HTML and SVG included) is a download of application/octet-stream."""
    known = FILE_TYPES.get(Path(name).suffix.lower())
    if known is not None:
        return known
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", True
    return "application/octet-stream", False


def content_disposition(name: str, inline: bool) -> str:
    """inline or attachment, with the file's name: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "file"
    return f"{'inline' if inline else 'attachment'}; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


@dataclass
class RunningSandbox:
    """A started sandbox: its URL, its parts (tests reach into them), and stop()."""

    url: str
    fake: FakeSlack
    api: SandboxApi
    time: SandboxTime
    database: Path
    demo: demo.DemoSummary | None
    _server: WSGIServer
    _thread: threading.Thread
    _engine: Engine

    def wait(self) -> None:
        while self._thread.is_alive():
            self._thread.join(1)

    def stop(self) -> None:
        self.time.stop()
        self._server.shutdown()
        self._server.server_close()
        self.fake.stop()
        self._engine.dispose()


class DatabaseRefused(ValueError):
    """The sandbox will not replace this file: it is the bot's own database, or not a sandbox's."""


# PRAGMA application_id of a sandbox database ("LBSX"): the sandbox replaces only a file that carries it
SANDBOX_APPLICATION_ID = 0x4C425358


def check_database(database: Path, database_url: str) -> None:
    """Refuse (DatabaseRefused) to replace `database` when it is the SQLite file of DATABASE_URL (the bot's
    real data), or when it exists and is not a sandbox database (no SANDBOX_APPLICATION_ID): the sandbox
    deletes its file at every start, so it must never be pointed at anything else. An empty file is fine."""
    real = sqlite_file(database_url)
    if real is not None and _same_file(database, real):
        raise DatabaseRefused(
            f"{database} is the bot's own database (DATABASE_URL); the sandbox replaces its file at every start, "
            "so give it another one (--database data/sandbox.sqlite3, the default)"
        )
    if not database.exists() or (database.is_file() and database.stat().st_size == 0):
        return
    if not database.is_file() or not _made_by_the_sandbox(database):
        raise DatabaseRefused(
            f"{database} exists and is not a sandbox database; the sandbox replaces its file at every start, so "
            "it only takes a new file or one it made itself (move that file, or pick another path)"
        )


def sqlite_file(database_url: str) -> Path | None:
    """The file of an SQLite URL (sqlite:///relative or sqlite:////absolute); None for anything else."""
    if not database_url.startswith("sqlite:///"):
        return None
    path = database_url[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _same_file(one: Path, other: Path) -> bool:
    try:
        if one.exists() and other.exists():
            return one.samefile(other)
        return one.resolve() == other.resolve()
    except OSError:
        return False


def _made_by_the_sandbox(database: Path) -> bool:
    """The file carries the sandbox's application_id, or (made before the mark) holds the sandbox's workspace
    and no other. Read only, without changing the file; False when it is not an SQLite database."""
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if connection.execute("PRAGMA application_id").fetchone()[0] == SANDBOX_APPLICATION_ID:
                return True
            teams = {row[0] for row in connection.execute("SELECT team_id FROM workspaces")}
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return teams == {TEAM_ID}


def start(settings: Settings, content: Content, options: SandboxOptions) -> RunningSandbox:
    """Start the fake Slack, a fresh sandbox database (with the demo year unless options.demo is off), the bot
    and the page; return once all of them answer. A database path the sandbox must not replace is refused
    (DatabaseRefused) and the port is taken first (a busy one fails with OSError), both before anything else
    has started or been written."""
    check_database(options.database, settings.database_url)
    server = make_server(options.host, options.port, _not_yet, _ThreadingWSGIServer, _QuietHandler)
    try:
        return _serve(server, settings, content, options)
    except BaseException:
        server.server_close()
        raise


def read_message_shortcuts(manifest: Path) -> tuple[Shortcut, ...]:
    """The app's message shortcuts (manifest.yml features.shortcuts of type message), for the page's message
    menu; none when the file is missing or declares none. Only the content loader may read YAML (the import
    contracts), so this reads the block-style list of scalar fields Slack's manifests use for shortcuts."""
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    items: list[dict[str, str]] = []
    inside: int | None = None  # the indentation of "shortcuts:" while reading its list
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if inside is None:
            if stripped == "shortcuts:":
                inside = indent
            continue
        if indent <= inside and not stripped.startswith("- "):
            break
        if stripped.startswith("- "):
            items.append({})
            stripped = stripped[2:].strip()
        key, colon, value = stripped.partition(":")
        if items and colon:
            items[-1][key.strip()] = value.split(" #", 1)[0].strip().strip("\"'")
    return tuple(
        Shortcut(i["name"], i["callback_id"], i.get("description", ""))
        for i in items
        if i.get("type") == "message" and i.get("name") and i.get("callback_id")
    )


def _not_yet(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """The app until the sandbox is ready (never served: the server starts serving after set_app)."""
    return _reply(start_response, "503 Service Unavailable", b"starting", "text/plain")


def fake_workspace() -> FakeSlack:
    """A fake Slack that knows the demo workspace's members (bot/sandbox/workspace.py) and the bot user."""
    fake = FakeSlack(team_id=TEAM_ID).start()
    fake.add_user(BOT_USER, name="ladderbot", real_name="ladderbot", is_bot=True)
    for person in PEOPLE:
        fake.add_user(
            person.user_id,
            name=person.name,
            real_name=person.real_name,
            tz=person.tz,
            email=f"{person.name}@sandbox.example",
            is_admin=person.is_admin,
            is_owner=person.is_admin,
            presence="away" if person.away else "active",
            status_text="On leave" if person.away else "",
            status_emoji=":palm_tree:" if person.away else "",
        )
    return fake


def _fresh_database(database: Path) -> str:
    """An empty SQLite file at `database` migrated to head (whatever was there before is removed); its URL."""
    database.parent.mkdir(parents=True, exist_ok=True)
    for stale in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    db.migrate(url)
    connection = sqlite3.connect(database)
    try:
        connection.execute(f"PRAGMA application_id = {SANDBOX_APPLICATION_ID}")  # the mark check_database wants
        connection.commit()
    finally:
        connection.close()
    return url


def _serve(server: WSGIServer, settings: Settings, content: Content, options: SandboxOptions) -> RunningSandbox:
    url = _fresh_database(options.database)
    fake = fake_workspace()
    settings = replace(
        settings,
        slack_bot_token=SANDBOX_TOKEN,
        slack_signing_secret=secrets.token_hex(16),  # a new one each start: only this process signs requests
        slack_api_url=fake.url,
        database_url=url,
        port=options.port,
        slack_app_token="",  # Slack's own settings from the environment never reach the sandbox
        slack_client_id="",
        slack_client_secret="",
    )
    engine = db.make_engine(url)
    services = build_services(settings, content, engine, db.make_session_factory(engine))
    bot = LadderbotWSGI(create_app(services), services)
    summary = demo.seed(services.session_factory, content, utcnow()) if options.demo else None

    sandbox_time = SandboxTime(services.session_factory, services.clock, TEAM_ID)
    stamps = MessageTimes(sandbox_time)
    fake.state.next_ts = stamps.watch(fake.state.next_ts)  # type: ignore[method-assign] # every ts, stamped
    port = int(server.server_address[1])
    host = options.host if options.host not in ("0.0.0.0", "::", "") else "127.0.0.1"  # where this process reaches it
    api = SandboxApi(
        fake,
        BotLink(host, port, settings.slack_signing_secret),
        sandbox_time,
        read_slash_commands(MANIFEST),
        read_message_shortcuts(MANIFEST),
        stamps,
    )
    server.set_app(SandboxWSGI(bot, api, fake, options.host))
    thread = threading.Thread(target=server.serve_forever, name="sandbox-http", daemon=True)
    thread.start()
    running = RunningSandbox(
        f"http://{host}:{port}/", fake, api, sandbox_time, options.database, summary, server, thread, engine
    )
    if summary is not None:
        api.invite_on_start(summary.pending_invites)
    if options.tick:
        sandbox_time.start_ticking()
    return running
