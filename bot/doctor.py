"""`ladderbot doctor`: is this installation set up right? One line per check, OK or FAIL with what to do
(SKIP when an earlier failure leaves nothing to check), and exit 1 if anything failed.

Checks, in the order a person fixes them: the settings, the content folder, the mode (HTTP or Socket Mode,
one workspace or several), the database (reachable, migrations at head), Slack (auth.test with the bot token,
the scopes Slack granted against those manifest.yml asks for; with several workspaces, both for each stored
installation with its own token, one line per workspace; the app-level token of Socket Mode), and the
clock (how late the oldest due nudge or digest is).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.config import PROJECT_ROOT, ConfigError, Settings
from bot.content.loader import load_content, read_bot_scopes
from bot.content.validate import ContentError
from bot.install import TokenCipher, TokenKeyError
from bot.storage import engine as db
from bot.storage.models import Installation
from bot.web.metrics import read_backlog

MANIFEST = PROJECT_ROOT / "manifest.yml"
CLOCK_LAG_LIMIT = 300.0  # seconds: a pass runs every minute; five minutes late means no clock is running
SLACK_TIMEOUT = 10


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, FAIL or SKIP
    detail: str

    def line(self) -> str:
        return f"{self.status:<4} {self.name}: {self.detail}"


def ok(name: str, detail: str) -> Check:
    return Check(name, "OK", detail)


def fail(name: str, detail: str) -> Check:
    return Check(name, "FAIL", detail)


def skip(name: str, detail: str) -> Check:
    return Check(name, "SKIP", detail)


def _slack_client(settings: Settings, token: str) -> WebClient:
    return WebClient(token=token, base_url=settings.slack_api_url, timeout=SLACK_TIMEOUT)


def check_mode(settings: Settings) -> Check:
    transport = (
        "Socket Mode (SLACK_APP_TOKEN: no public URL; /healthz and /metrics on PORT)"
        if settings.slack_app_token
        else "HTTP (Slack sends requests to https://<your host>/slack/events)"
    )
    workspaces = (
        "several workspaces over OAuth (SLACK_CLIENT_ID; install at /slack/install)"
        if settings.multi_workspace
        else "one workspace (SLACK_BOT_TOKEN)"
    )
    return ok("mode", f"{transport}; {workspaces}")


def check_database(engine: Engine) -> Iterator[Check]:
    """Reachable, then the schema's revision against the code's newest migration."""
    backend = engine.dialect.name
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            has_version = inspect(connection).has_table("alembic_version")
            current = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar() if has_version else None
            )
    except SQLAlchemyError as exc:
        yield fail(
            "database",
            f"cannot connect to the {backend} database ({type(exc).__name__}): check DATABASE_URL (host, port, "
            "user, password) and that the server is running",
        )
        yield skip("migrations", "the database is not reachable")
        return
    yield ok("database", f"{backend} reachable")
    head = db.head_revision()
    if current is None:
        yield fail("migrations", f"the database has no schema yet: run `ladderbot migrate` (to {head})")
    elif current != head:
        yield fail("migrations", f"the database is at {current}, this version needs {head}: run `ladderbot migrate`")
    else:
        yield ok("migrations", f"at head ({head})")


def check_slack(settings: Settings, manifest: Path = MANIFEST, engine: Engine | None = None) -> Iterator[Check]:
    """auth.test with the bot token, and the scopes Slack says it granted (auth.test's x-oauth-scopes header)
    against those the manifest asks for. Several workspaces: the same for each stored installation, with its
    own token, one line per workspace (`engine`: the database they are stored in, None if it is not ready)."""
    if settings.multi_workspace:
        yield from check_installations(settings, manifest, engine)
    else:
        try:
            answer = _slack_client(settings, settings.slack_bot_token).auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error")
            yield fail(
                "slack auth",
                f"auth.test answered {error!r}: set SLACK_BOT_TOKEN to the Bot User OAuth Token under OAuth & "
                "Permissions (reinstall the app if it was revoked)",
            )
            yield skip("scopes", "auth.test failed")
        except OSError as exc:
            yield fail("slack auth", f"cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__})")
            yield skip("scopes", "Slack is not reachable")
        else:
            yield ok(
                "slack auth",
                f"bot {answer.get('user')!r} in workspace {answer.get('team')!r} ({answer.get('team_id')})",
            )
            yield check_scopes(answer.headers, manifest)
    if settings.slack_app_token:
        try:
            _slack_client(settings, settings.slack_app_token).apps_connections_open(app_token=settings.slack_app_token)
        except SlackApiError as exc:
            error = exc.response.get("error")
            yield fail(
                "socket mode",
                f"apps.connections.open answered {error!r}: set SLACK_APP_TOKEN to an app-level token with the "
                "connections:write scope (Basic Information), and turn Socket Mode on in the app's settings",
            )
        except OSError as exc:
            yield fail("socket mode", f"cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__})")
        else:
            yield ok("socket mode", "the app-level token opens a Socket Mode connection")


def check_installations(settings: Settings, manifest: Path, engine: Engine | None) -> Iterator[Check]:
    """Several workspaces: a summary line, then one line per stored installation (a workspace, or an Enterprise
    Grid organisation installed org-wide): auth.test with its own token, and its scopes against the manifest's.
    Read only: an expiring token is not refreshed here (the bot does that when it next uses it)."""
    if engine is None:
        yield skip("slack auth", "the database is not ready: the installations are stored there")
        return
    with Session(engine) as session:
        rows = list(session.execute(select(Installation).order_by(Installation.install_key)).scalars())
    if not rows:
        yield fail(
            "slack auth",
            "no workspace has installed ladderbot yet: open https://<your server>/slack/install and choose "
            "Add to Slack",
        )
        return
    yield ok("slack auth", f"{len(rows)} installation(s), each checked with its own token below")
    cipher = TokenCipher(settings.token_encryption_keys)
    for row in rows:
        yield check_installation(settings, manifest, cipher, row)


def check_installation(settings: Settings, manifest: Path, cipher: TokenCipher, row: Installation) -> Check:
    name = f"workspace {row.install_key}"
    label = row.enterprise_name if row.is_enterprise_install else row.team_name
    try:
        token = cipher.open(row.bot_token_encrypted)
    except TokenKeyError:
        return fail(
            name,
            "its token cannot be decrypted with SLACK_TOKEN_ENCRYPTION_KEYS: put back the key it was sealed "
            "with (keys are newest first; keep an old one until `ladderbot tokens reencrypt` has run)",
        )
    if not token:
        return fail(name, "no bot token is stored: reinstall the app to this workspace from /slack/install")
    try:
        answer = _slack_client(settings, token).auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        return fail(
            name,
            f"auth.test answered {error!r} for {label or row.install_key}: its token no longer works; reinstall "
            "the app to it from /slack/install (an uninstall event may not have reached the bot)",
        )
    except OSError as exc:
        return fail(name, f"cannot reach Slack at {settings.slack_api_url} ({type(exc).__name__})")
    scopes = check_scopes(answer.headers, manifest, stored=row.bot_scopes)
    who = f"bot {answer.get('user')!r} in {label or answer.get('team')!r}"
    if scopes.status != "OK":
        return fail(name, f"{who}, but {scopes.detail}")
    return ok(name, f"{who}; {scopes.detail}")


def check_scopes(headers: dict[str, str | list[str]], manifest: Path, stored: str | None = None) -> Check:
    """The scopes Slack says the token has (x-oauth-scopes), else those `stored` at install, against the
    manifest's."""
    wanted = read_bot_scopes(manifest)
    raw = next((value for name, value in headers.items() if name.lower() == "x-oauth-scopes"), None)
    if raw is None and stored is not None:
        raw = stored
    if raw is None:
        return fail("scopes", "Slack did not say which scopes the token has (no x-oauth-scopes header)")
    text_value = raw[0] if isinstance(raw, list) else raw
    granted = {scope.strip() for scope in text_value.split(",") if scope.strip()}
    missing = [scope for scope in wanted if scope not in granted]
    if missing:
        return fail(
            "scopes",
            f"the token lacks {', '.join(missing)}: add them under OAuth & Permissions -> Bot Token Scopes (or "
            "paste manifest.yml into the app's manifest again), then reinstall the app to the workspace",
        )
    return ok("scopes", f"all {len(wanted)} scopes manifest.yml asks for are granted")


def check_clock(engine: Engine, limit: float = CLOCK_LAG_LIMIT) -> Check:
    with Session(engine) as session:
        backlog = read_backlog(session)
    waiting = f"{backlog.nudges_pending} nudges and {backlog.digests_pending} digests pending"
    if backlog.lag_seconds > limit:
        return fail(
            "clock",
            f"the oldest due nudge or digest is {backlog.lag_seconds / 60:.0f} minutes late ({waiting}): is a clock "
            "running? Start `ladderbot clock`, or `ladderbot serve` without --no-clock",
        )
    return ok("clock", f"lag {backlog.lag_seconds:.0f} s ({waiting})")


def run_checks(env: dict[str, str] | None = None, manifest: Path = MANIFEST) -> list[Check]:
    """Every check, in order; later checks are skipped when what they need failed."""
    checks: list[Check] = []
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        problems = [line for line in str(exc).splitlines() if line.strip()]
        checks.append(fail("configuration", " ".join(problems)))
        return checks + [skip(name, "fix the configuration first") for name in ("database", "slack auth", "clock")]
    checks.append(ok("configuration", "settings read"))
    try:
        content = load_content(settings.content_dir)
        checks.append(
            ok("content", f"{settings.content_dir}: {len(content.levels)} levels, {len(content.questions)} questions")
        )
    except ContentError as exc:
        checks.append(
            fail("content", f"{exc.problems[0]} (and {len(exc.problems) - 1} more): run `ladderbot content check`")
        )
    checks.append(check_mode(settings))
    engine = db.make_engine(settings.database_url, pooled=False)
    try:
        database = list(check_database(engine))
        checks.extend(database)
        ready = all(check.status == "OK" for check in database)
        checks.extend(check_slack(settings, manifest, engine if ready else None))
        if ready:
            try:
                checks.append(check_clock(engine))
            except SQLAlchemyError as exc:
                checks.append(fail("clock", f"cannot read the clock's tables ({type(exc).__name__})"))
        else:
            checks.append(skip("clock", "the database is not ready"))
    finally:
        engine.dispose()
    return checks
