"""The `ladderbot` command (also `python -m bot`).

The commands that serve, run the clock or touch the database import what they need when they run:
`preview`, `content check` and `fake-slack` start in about 0.1 s because they never load Slack's SDK,
SQLAlchemy, Alembic or matplotlib (about 2 s together). That is the only reason for an import inside
a function here; none of them hides a cycle (lint-imports checks the layers either way).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.blocks.kit import Message, message_problems
from bot.blocks.preview import message_to_text
from bot.config import DEFAULT_CONTENT_DIR, ConfigError, Settings
from bot.content.loader import load_content
from bot.content.validate import ContentError
from bot.ladder.answers import Answers
from bot.testing.fakeslack import FakeSlack, RateModel

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.install import Installs
    from bot.web.server import LadderbotWSGI
    from bot.web.socket_mode import SocketModeWSGI


def _setup_logging(settings: Settings) -> None:
    """LOG_LEVEL and LOG_FORMAT, with every token, secret and key in the settings kept out of the lines."""
    from bot import logs

    logs.configure(settings.log_level, settings.log_format, logs.hidden_values(settings))


def _prepare_metrics_dir(settings: Settings) -> None:
    """gunicorn's processes keep their Prometheus counters in one folder for /metrics to add up: empty the
    configured one (an earlier run's counts would be added again) or make a fresh one that goes with this
    server. Before anything imports prometheus_client, which reads PROMETHEUS_MULTIPROC_DIR once."""
    import atexit
    import os
    import shutil
    import tempfile

    if settings.metrics_dir:
        folder = Path(settings.metrics_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="ladderbot-metrics-"))
        arbiter = os.getpid()

        def remove_folder() -> None:
            if os.getpid() == arbiter:  # only the process that made it (workers inherit this handler)
                shutil.rmtree(folder, ignore_errors=True)

        atexit.register(remove_folder)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def _fail(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


def _cannot_start(command: str, exc: ConfigError | ContentError) -> int:
    """A wrong setting or a broken content folder: say what, on stderr, and exit 2."""
    if isinstance(exc, ContentError):
        return _fail(f"ladderbot {command} cannot start: the content folder is invalid\n  " + "\n  ".join(exc.problems))
    return _fail(f"ladderbot {command} cannot start:\n{exc}")


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        if args.port:
            settings = Settings(**{**settings.__dict__, "port": args.port})
        content = load_content(settings.content_dir)
    except (ConfigError, ContentError) as exc:
        return _cannot_start("serve", exc)
    _setup_logging(settings)
    _prepare_metrics_dir(settings)
    from bot.storage import engine as db

    # once, in the arbiter before any worker exists (PostgreSQL is migrated by `ladderbot migrate`)
    db.migrate_if_embedded(settings.database_url)
    from bot.web.clockseat import ClockSeat

    seat = None if args.no_clock else ClockSeat.create()
    if settings.slack_app_token:  # Socket Mode: a link per process; the envelopes are recorded in the database
        from bot.web.socket_mode import warn_about_links

        warn_about_links(settings)  # once per server, before the fork

    def wsgi_factory() -> LadderbotWSGI | SocketModeWSGI:
        from bot.app import create_app
        from bot.clock import start_scheduler
        from bot.services import build_services
        from bot.web.server import LadderbotWSGI

        # in each worker, after the fork: its own engine, Slack client and clock, shared with no other process
        engine = db.make_engine(settings.database_url)
        services = build_services(settings, content, engine, db.make_session_factory(engine))
        app = create_app(services)
        if seat is not None:

            def start_clock() -> Callable[[], None]:
                scheduler = start_scheduler(services.clock, blocking=False)
                return lambda: scheduler.shutdown(wait=False)

            seat.runs(start_clock)  # started only in the one worker that holds the seat
        wsgi = LadderbotWSGI(app, services, seat)
        if settings.slack_app_token:  # Socket Mode: this process's own link to Slack; /healthz stays on PORT
            from bot.web.socket_mode import connect_socket_mode

            return connect_socket_mode(app, settings, wsgi, services.session_factory)
        return wsgi

    from bot.web.server import run_gunicorn

    run_gunicorn(
        wsgi_factory,
        port=settings.port,
        threads=settings.web_threads,
        workers=settings.web_concurrency,
        log_level=settings.log_level,
        clock_seat=seat,
    )
    return 0


def _clock_from_env() -> Clock:
    from bot.services import build_clock
    from bot.storage import engine as db

    settings = Settings.from_env()
    content = load_content(settings.content_dir)
    _setup_logging(settings)
    db.migrate_if_embedded(settings.database_url)
    engine = db.make_engine(settings.database_url)
    return build_clock(settings, content, db.make_session_factory(engine))


def cmd_clock(args: argparse.Namespace) -> int:
    try:
        clock = _clock_from_env()
    except (ConfigError, ContentError) as exc:
        return _cannot_start("clock", exc)
    from bot.clock import start_scheduler

    settings = Settings.from_env()
    if settings.metrics_port:  # its counters on its own port: a clock process serves nothing else
        from bot.storage import engine as db
        from bot.web.metrics import serve_clock_metrics

        serve_clock_metrics(db.make_engine(settings.database_url, pooled=False), settings.metrics_port)
    logging.getLogger(__name__).info("clock started: one nudge pass a minute")
    try:
        start_scheduler(clock, blocking=True)
    except (KeyboardInterrupt, SystemExit):
        return 0  # Ctrl-C or SIGTERM: a normal way to stop the clock
    return 0


def cmd_run_due(args: argparse.Namespace) -> int:
    try:
        clock = _clock_from_env()
    except (ConfigError, ContentError) as exc:
        return _cannot_start("nudges run-due", exc)
    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        except ValueError:
            return _fail(f"--at takes an ISO time such as 2026-11-30T09:00:00Z, got {args.at!r}")
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    report = clock.run_pass(at, dry_run=args.dry_run)
    if args.dry_run:
        for user, week, prompt in report.would_send:
            print(f"{user}\t{week}\t{prompt}")
        print(f"{len(report.would_send)} due (dry run: nothing sent)")
    else:
        print(
            f"scheduled {report.scheduled}, sent {report.sent}, recovered {report.recovered}, "
            f"retrying {report.retrying}, failed {report.failed}, missed {report.missed}, "
            f"reminders {report.reminders}; digests sent {report.digests_sent}, failed {report.digests_failed}, "
            f"missed {report.digests_missed}; paced {report.paced} (of them Slack's 429s {report.rate_limited})"
        )
        print(report.lateness_text())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(require_slack=False)
    except ConfigError as exc:
        return _cannot_start("migrate", exc)
    _setup_logging(settings)
    from bot.storage import engine as db

    db.migrate(settings.database_url, args.revision)
    print(f"database is at revision {args.revision}")
    return 0


def _installs_from_env(command: str) -> Installs | int:
    """The installations of a several-workspace bot, or the exit code of a clear refusal."""
    try:
        settings = Settings.from_env(require_slack=False)
    except ConfigError as exc:
        return _cannot_start(command, exc)
    if not settings.token_encryption_keys:
        return _fail(
            f"ladderbot {command} cannot start: SLACK_TOKEN_ENCRYPTION_KEYS is not set (several workspaces over "
            "OAuth keep their tokens encrypted with it; see README.md, 'Several workspaces (OAuth)')."
        )
    from bot.install import Installs
    from bot.services import make_web_client
    from bot.storage import engine as db

    db.migrate_if_embedded(settings.database_url)
    engine = db.make_engine(settings.database_url)
    return Installs(settings, db.make_session_factory(engine), make_web_client(settings))


def cmd_workspace_forget(args: argparse.Namespace) -> int:
    installs = _installs_from_env("workspace forget")
    if isinstance(installs, int):
        return installs
    team = args.team.strip()
    if not team.isalnum() or not team.isupper() or not team.startswith(("T", "E")):
        return _fail(f"ladderbot workspace forget: {args.team!r} is not a team id (T...) or organisation id (E...).")
    forgotten = installs.forget(team)
    print(f"forgot {forgotten.install_key}: its installation and {forgotten.workspaces} workspace(s) of data")
    return 0


def cmd_tokens_reencrypt(args: argparse.Namespace) -> int:
    installs = _installs_from_env("tokens reencrypt")
    if isinstance(installs, int):
        return installs
    from bot.install import TokenKeyError

    try:
        rows, tokens = installs.reencrypt()
    except TokenKeyError as exc:
        return _fail(f"ladderbot tokens reencrypt: {exc}; nothing was changed. Put the old key back in the list.", 1)
    print(f"re-encrypted {tokens} token(s) in {rows} installation(s) under the newest key")
    return 0


def cmd_tokens_new_key(args: argparse.Namespace) -> int:
    from bot.install import new_key

    print(new_key())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.doctor import run_checks

    checks = run_checks()
    for check in checks:
        print(check.line(), flush=True)
    return 1 if any(check.status == "FAIL" for check in checks) else 0


def cmd_preview(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(require_slack=False)
        content = load_content(args.content or settings.content_dir)
    except (ConfigError, ContentError) as exc:
        return _cannot_start("preview", exc)
    answers = Answers(
        content,
        show_compensation=settings.show_compensation,
        rng=random.Random(args.seed) if args.seed is not None else None,
    )
    line = " ".join(args.command).strip()
    name, _, text = line.partition(" ")
    name = "/" + name.lstrip("/")
    if name == "/ladder":
        message = answers.ladder(text)
    elif name == "/interview":
        message = answers.interview(text)
    else:
        return _fail(f"unknown command {name!r}: preview knows /ladder and /interview")
    if args.json:
        print(json.dumps({"text": message.text, "blocks": list(message.blocks)}, indent=2, ensure_ascii=False))
    else:
        print(message_to_text(message), end="")
    return 0


def cmd_content_check(args: argparse.Namespace) -> int:
    directory = Path(args.directory or DEFAULT_CONTENT_DIR)
    try:
        content = load_content(directory)
    except ContentError as exc:
        print(f"{len(exc.problems)} problem(s) in {directory}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    # Render every view once so a text that fits the schema but not Slack's limits is caught too.
    answers = Answers(content, show_compensation=True)
    problems: list[str] = []
    for request, message in answers_for_every_view(answers):
        problems.extend(f"{directory}: rendering {request!r}: {p}" for p in message_problems(message))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(
        f"{directory}: OK: {len(content.levels)} levels, {len(content.areas)} areas, "
        f"{len(content.transitions)} transitions, {len(content.topics)} topics, {len(content.questions)} questions"
    )
    return 0


def answers_for_every_view(answers: Answers) -> list[tuple[str, Message]]:
    """(command text, message) for every /ladder and /interview view the content allows."""
    content = answers.content
    texts = ["", "help", "areas", "roadmap", "responsibilities"]
    for level in content.levels:
        texts.append(level.id)
        texts.append(f"responsibilities {level.id}")
        texts.extend(f"{level.id} {d.id}" for d in content.dimensions)
        texts.extend(f"{level.id} {a.id}" for a in content.areas)
        texts.extend(f"compare {level.id} {other.id}" for other in content.levels if other.rank > level.rank)
    texts.extend(f"area {a.id}" for a in content.areas)
    out: list[tuple[str, Message]] = [(f"/ladder {t}", answers.ladder(t)) for t in texts]
    out.append(("/interview topics", answers.interview("topics")))
    out.append(("/interview help", answers.interview("help")))
    for level in content.levels:
        out.append((f"/interview {level.id} 10", answers.interview(f"{level.id} 10")))
        for topic in content.topics_for(level.id):
            out.append((f"/interview {level.id} {topic.id} 10", answers.interview(f"{level.id} {topic.id} 10")))
    return out


def _positive_number(text: str) -> float:
    """An argparse type: a number above zero (a rate or a scale)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def cmd_fake_slack(args: argparse.Namespace) -> int:
    shaping = {"time_scale": args.time_scale, "workspace_messages_per_minute": args.messages_per_minute}
    given = {name: value for name, value in shaping.items() if value is not None}
    if given and not args.rate_model:
        return _fail("ladderbot fake-slack: --time-scale and --messages-per-minute need --rate-model")
    rate_model = RateModel(**given) if args.rate_model else None
    fake = FakeSlack(port=args.port, rate_model=rate_model)
    fake.start()
    print(f"fake Slack Web API on {fake.url} (set SLACK_API_URL to this); Ctrl-C to stop", flush=True)
    if rate_model is not None:
        model = rate_model
        print(
            f"Slack's rate limits on: tiers per method, chat.postMessage {model.channel_per_second:g}/s per channel"
            f" and {model.workspace_messages_per_minute:g}/min per workspace, all rates x{model.time_scale:g};"
            f" counts at {fake.base}/_fake/rates",
            flush=True,
        )
    try:
        fake.wait()
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how this command is meant to stop
    finally:
        fake.stop()
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """The bot, a fake Slack and a page that plays Slack's client, on loopback: try ladderbot with no workspace."""
    try:
        settings = Settings.from_env(require_slack=False)
        content = load_content(settings.content_dir)
    except (ConfigError, ContentError) as exc:
        return _cannot_start("sandbox", exc)
    _setup_logging(settings)
    from bot.sandbox.server import DEFAULT_DATABASE, DatabaseRefused, SandboxOptions, start

    options = SandboxOptions(
        host=args.host,
        port=args.port or settings.port,
        database=Path(args.database) if args.database else DEFAULT_DATABASE,
        demo=not args.empty,
    )
    try:
        running = start(settings, content, options)
    except DatabaseRefused as exc:
        return _fail(f"ladderbot sandbox cannot start: {exc}")
    except OSError as exc:
        return _fail(f"ladderbot sandbox cannot start: cannot listen on {options.host}:{options.port}: {exc.strerror}")
    print(
        f"ladderbot sandbox: open {running.url} in a browser (no Slack needed; data in {running.database},"
        " replaced at every start); Ctrl-C to stop",
        flush=True,
    )
    if options.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: listening on {options.host}: anyone who reaches this port can act as any demo person", flush=True)
    try:
        running.wait()
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how the sandbox is meant to stop
    finally:
        running.stop()
    return 0


def cmd_manifest(args: argparse.Namespace) -> int:
    from bot.web.manifest import ManifestError, read_manifest, render_manifest

    try:
        print(render_manifest(read_manifest(), socket_mode=args.socket, url=args.url, oauth=args.oauth), end="")
    except ManifestError as exc:
        return _fail(f"ladderbot manifest: {exc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ladderbot", description="Self-hosted Slack bot for engineering growth.")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("serve", help="run the HTTP server for Slack (POST /slack/events, GET /healthz)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: $PORT or 3000)")
    p.add_argument(
        "--no-clock",
        action="store_true",
        help="run no nudge clock in this server (by default one of its processes does)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("manifest", help="print the Slack app manifest for Socket Mode (--socket) or HTTP (--url)")
    p.add_argument("--socket", action="store_true", help="Socket Mode: no request URLs (set SLACK_APP_TOKEN to serve)")
    p.add_argument("--url", help="the server's public https URL, for the request URLs (HTTP mode)")
    p.add_argument(
        "--oauth",
        action="store_true",
        help="several workspaces: add the OAuth redirect URL on --url and allow org-wide installs",
    )
    p.set_defaults(func=cmd_manifest)

    p = sub.add_parser("clock", help="run the nudge clock (one pass a minute)")
    p.set_defaults(func=cmd_clock)

    p = sub.add_parser("nudges", help="nudge tools")
    nudges_sub = p.add_subparsers(dest="nudges_cmd", required=True)
    c = nudges_sub.add_parser("run-due", help="run one nudge pass now")
    c.add_argument("--at", help="pretend it is this UTC time (ISO 8601)")
    c.add_argument("--dry-run", action="store_true", help="list who would get what; send nothing")
    c.set_defaults(func=cmd_run_due)

    p = sub.add_parser("migrate", help="upgrade the database schema (Alembic)")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("workspace", help="several workspaces (OAuth): workspace tools")
    workspace_sub = p.add_subparsers(dest="workspace_cmd", required=True)
    c = workspace_sub.add_parser("forget", help="delete a workspace's installation and all its data now")
    c.add_argument("team", help="the workspace's team id (T...), or the organisation's (E...) for an org-wide install")
    c.set_defaults(func=cmd_workspace_forget)

    p = sub.add_parser("tokens", help="several workspaces (OAuth): token encryption tools")
    tokens_sub = p.add_subparsers(dest="tokens_cmd", required=True)
    c = tokens_sub.add_parser("reencrypt", help="re-encrypt every stored token under the newest key")
    c.set_defaults(func=cmd_tokens_reencrypt)
    c = tokens_sub.add_parser("new-key", help="print a new key for SLACK_TOKEN_ENCRYPTION_KEYS")
    c.set_defaults(func=cmd_tokens_new_key)

    p = sub.add_parser(
        "doctor", help="check the setup: settings, database and migrations, Slack token and scopes, mode, clock"
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("preview", help='print what a command answers, e.g. ladderbot preview "/ladder senior"')
    p.add_argument("command", nargs="+", help="the command line as typed in Slack")
    p.add_argument("--json", action="store_true", help="print the raw Block Kit JSON")
    p.add_argument("--seed", type=int, help="seed for /interview's random choice")
    p.add_argument("--content", help="content folder (default: $CONTENT_DIR or the shipped content/)")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("content", help="content tools")
    content_sub = p.add_subparsers(dest="content_cmd", required=True)
    c = content_sub.add_parser("check", help="validate a content folder")
    c.add_argument("directory", nargs="?", help="content folder (default: the shipped content/)")
    c.set_defaults(func=cmd_content_check)

    p = sub.add_parser("fake-slack", help="run the fake Slack Web API locally (a sandbox for development)")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument(
        "--rate-model",
        action="store_true",
        help="enforce Slack's rate limits (429 with Retry-After), each workspace's token on its own",
    )
    p.add_argument(
        "--time-scale",
        type=_positive_number,
        help="with --rate-model: multiply every rate by this, to run benchmarks faster (default 1)",
    )
    p.add_argument(
        "--messages-per-minute",
        type=_positive_number,
        help="with --rate-model: chat.postMessage calls a workspace may make a minute, before scaling (default 600)",
    )
    p.set_defaults(func=cmd_fake_slack)

    p = sub.add_parser("sandbox", help="try the bot in a browser with no Slack workspace (a fake Slack and demo data)")
    p.add_argument("--port", type=int, default=0, help="port for the page and the bot (default: $PORT or 3000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--empty", action="store_true", help="start with no demo data")
    p.add_argument("--database", help="SQLite file for the sandbox (default: data/sandbox.sqlite3; replaced at start)")
    p.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    return command(args)
