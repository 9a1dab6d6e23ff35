"""Configuration, read from environment variables in this one module."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT_DIR = PROJECT_ROOT / "content"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
SETUP_HINT = "See README.md, section 'Set up the Slack app'."
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
MAX_WEB_CONCURRENCY = 64  # server processes; far beyond any one machine's cores, low enough to catch a typo


class ConfigError(Exception):
    """A missing or wrong setting; the message says what to set."""


def _masked(value: str) -> str:
    return value[:5] + "…" if value else ""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str = field(default="", repr=False)
    slack_signing_secret: str = field(default="", repr=False)
    # Socket Mode (bot.web.socket_mode): an app-level token (xapp-...) makes `serve` connect out to Slack, no public URL
    slack_app_token: str = field(default="", repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = ""
    port: int = 3000
    content_dir: str = str(DEFAULT_CONTENT_DIR)
    log_level: str = "INFO"
    log_format: str = "text"  # text, or json: one object per line (bot.logs)
    # where gunicorn's processes keep their Prometheus counters for /metrics to add up (bot.web.metrics);
    # empty: `ladderbot serve` makes a fresh temporary folder
    metrics_dir: str = ""
    metrics_port: int = 0  # `ladderbot clock` serves /metrics and /healthz here when set (0: it serves nothing)
    show_compensation: bool = False
    web_threads: int = 8
    web_concurrency: int = 1  # server processes (gunicorn workers), each with web_threads threads
    admin_user_ids: frozenset[str] = frozenset()  # may see /growth org besides Slack's admins and owners
    # chat.postMessage per minute across a workspace: Slack does not publish this limit; the pacer starts here,
    # slows down on a 429 and creeps back up to it (bot.clock.pacing)
    slack_messages_per_minute: float = 600.0
    slack_rate_scale: float = 1.0
    # Several workspaces over OAuth (bot.install): set SLACK_CLIENT_ID to use it instead of SLACK_BOT_TOKEN
    slack_client_id: str = ""
    slack_client_secret: str = field(default="", repr=False)
    slack_scopes: tuple[str, ...] = ()
    slack_redirect_uri: str = ""
    token_encryption_keys: tuple[str, ...] = field(default=(), repr=False)  # Fernet keys, newest first

    @property
    def multi_workspace(self) -> bool:
        """OAuth mode: each workspace's token comes from its installation, not from SLACK_BOT_TOKEN."""
        return bool(self.slack_client_id)

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        return (
            f"Settings(slack_bot_token={_masked(self.slack_bot_token)!r}, slack_signing_secret='***', "
            f"slack_api_url={self.slack_api_url!r}, database_url={_redact_url(self.database_url)!r}, "
            f"port={self.port}, content_dir={self.content_dir!r}, log_level={self.log_level!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_slack: bool = True) -> Settings:
        """Read settings; raise ConfigError naming the variable when one is missing or wrong."""
        env = os.environ if env is None else env
        problems: list[str] = []

        token = env.get("SLACK_BOT_TOKEN", "").strip()
        secret = env.get("SLACK_SIGNING_SECRET", "").strip()
        app_token = env.get("SLACK_APP_TOKEN", "").strip()
        if app_token and not app_token.startswith("xapp-"):
            problems.append(
                "SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' (Basic Information -> App-Level "
                "Tokens, with the connections:write scope), or unset to receive Slack's requests over HTTP."
            )
        oauth = read_oauth_settings(env, problems)
        if require_slack and oauth["slack_client_id"]:
            if token:
                problems.append(
                    "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: set SLACK_BOT_TOKEN for one workspace, or "
                    "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_TOKEN_ENCRYPTION_KEYS for several (OAuth)."
                )
            if not secret:
                problems.append(
                    "SLACK_SIGNING_SECRET is not set: set it to the app's Signing Secret (Basic Information)."
                )
        elif require_slack:
            if not token:
                problems.append("SLACK_BOT_TOKEN is not set: set it to the app's Bot User OAuth Token (xoxb-...).")
            elif not token.startswith("xoxb-"):
                problems.append("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'.")
            if not secret and not app_token:  # Socket Mode requests come over our own link and are not signed
                problems.append(
                    "SLACK_SIGNING_SECRET is not set: set it to the app's Signing Secret (Basic Information)."
                )

        api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
        if not api_url.startswith(("http://", "https://")):
            problems.append(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}.")
        if not api_url.endswith("/"):
            api_url += "/"

        port_text = env.get("PORT", "").strip() or "3000"
        port = 0
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            problems.append(f"PORT must be a port number from 1 to 65535, got {port_text!r}.")
        else:
            port = int(port_text)

        threads_text = env.get("WEB_THREADS", "").strip() or "8"
        threads = (
            int(threads_text)
            if threads_text.isascii() and threads_text.isdigit() and 0 < int(threads_text) <= 256
            else 0
        )
        if not threads:
            problems.append(f"WEB_THREADS must be a whole number from 1 to 256, got {threads_text!r}.")

        processes_text = env.get("WEB_CONCURRENCY", "").strip() or "1"
        processes = int(processes_text) if re.fullmatch(r"[0-9]{1,4}", processes_text) else 0
        if not 0 < processes <= MAX_WEB_CONCURRENCY:
            problems.append(
                f"WEB_CONCURRENCY must be a whole number from 1 to {MAX_WEB_CONCURRENCY} (server processes), "
                f"got {processes_text!r}."
            )

        level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if level not in LOG_LEVELS:
            problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}.")

        log_format = env.get("LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in LOG_FORMATS:
            problems.append(f"LOG_FORMAT must be text or json, got {log_format!r}.")
        metrics_dir = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
        if metrics_dir and Path(metrics_dir).exists() and not Path(metrics_dir).is_dir():
            problems.append(f"PROMETHEUS_MULTIPROC_DIR points to {metrics_dir!r}, which is not a folder.")
        metrics_port_text = env.get("METRICS_PORT", "").strip() or "0"
        metrics_port = int(metrics_port_text) if re.fullmatch(r"[0-9]{1,5}", metrics_port_text) else -1
        if not 0 <= metrics_port < 65536:
            problems.append(f"METRICS_PORT must be a port number from 1 to 65535, got {metrics_port_text!r}.")

        content_dir = env.get("CONTENT_DIR", "").strip() or str(DEFAULT_CONTENT_DIR)
        if not Path(content_dir).is_dir():
            problems.append(f"CONTENT_DIR points to {content_dir!r}, which is not a folder.")

        show_comp_text = env.get("SHOW_COMPENSATION", "").strip().lower() or "false"
        if show_comp_text not in ("true", "false", "1", "0", "yes", "no"):
            problems.append(f"SHOW_COMPENSATION must be true or false, got {show_comp_text!r}.")

        admins_text = env.get("ADMIN_USER_IDS", "")
        admins = frozenset(a.strip() for a in admins_text.replace(" ", ",").split(",") if a.strip())
        bad_admins = sorted(a for a in admins if not re.fullmatch(r"[UW][A-Z0-9]{2,20}", a))
        if bad_admins:
            problems.append(
                "ADMIN_USER_IDS must be Slack user ids separated by commas (like U012AB3CD), got "
                + ", ".join(repr(a) for a in bad_admins[:3])
                + "."
            )

        messages_per_minute = _decimal(
            env,
            "SLACK_MESSAGES_PER_MINUTE",
            "600",
            (1, 1_000_000),
            "a number of messages a minute from 1 to 1000000 (the workspace-wide pace of chat.postMessage)",
            problems,
        )
        rate_scale = _decimal(
            env,
            "SLACK_RATE_SCALE",
            "1",
            (0.01, 10_000),
            "a number from 0.01 to 10000 (how many times Slack's published rates the bot paces itself at; 1 for Slack)",
            problems,
        )

        try:
            database_url = normalise_database_url(env.get("DATABASE_URL", ""))
        except ConfigError as exc:
            problems.append(str(exc))
            database_url = ""

        if problems:
            raise ConfigError("\n".join(problems) + "\n" + SETUP_HINT)
        return cls(
            slack_bot_token=token,
            slack_signing_secret=secret,
            slack_app_token=app_token,
            slack_api_url=api_url,
            database_url=database_url,
            port=port,
            content_dir=content_dir,
            log_level=level,
            log_format=log_format,
            metrics_dir=metrics_dir,
            metrics_port=metrics_port,
            show_compensation=show_comp_text in ("true", "1", "yes"),
            web_threads=threads,
            web_concurrency=processes,
            admin_user_ids=admins,
            slack_messages_per_minute=messages_per_minute,
            slack_rate_scale=rate_scale,
            **oauth,
        )


DEFAULT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "users:read", "users:read.email", "files:write")


def _decimal(
    env: Mapping[str, str], name: str, default: str, bounds: tuple[float, float], what: str, problems: list[str]
) -> float:
    """A plain decimal number (ASCII digits and an optional fraction) within `bounds`, or a problem saying so."""
    text = env.get(name, "").strip() or default
    value = float(text) if re.fullmatch(r"[0-9]{1,7}(\.[0-9]+)?", text) else 0.0
    if not bounds[0] <= value <= bounds[1]:
        problems.append(f"{name} must be {what}, got {text!r}.")
    return value


def read_oauth_settings(env: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """The OAuth (several workspaces) settings; with SLACK_CLIENT_ID set, the secret and at least one token
    encryption key are required: tokens are never stored in clear."""
    client_id = env.get("SLACK_CLIENT_ID", "").strip()
    client_secret = env.get("SLACK_CLIENT_SECRET", "").strip()
    scopes_text = env.get("SLACK_SCOPES", "").strip()
    scopes = tuple(s.strip() for s in scopes_text.split(",") if s.strip()) if scopes_text else DEFAULT_SCOPES
    redirect_uri = env.get("SLACK_REDIRECT_URI", "").strip()
    keys = tuple(k.strip() for k in env.get("SLACK_TOKEN_ENCRYPTION_KEYS", "").split(",") if k.strip())
    if client_id:
        if not client_secret:
            problems.append("SLACK_CLIENT_SECRET is not set: set it to the app's Client Secret (Basic Information).")
        if not keys:
            problems.append(
                "SLACK_TOKEN_ENCRYPTION_KEYS is not set: OAuth mode stores each workspace's token encrypted. Make a "
                "key with `ladderbot tokens new-key` and set SLACK_TOKEN_ENCRYPTION_KEYS to it (several keys, newest "
                "first and separated by commas, while rotating)."
            )
        bad = [i + 1 for i, key in enumerate(keys) if not _is_fernet_key(key)]
        if bad:
            problems.append(
                "SLACK_TOKEN_ENCRYPTION_KEYS must be Fernet keys (32 bytes in url-safe base64, as `ladderbot tokens "
                f"new-key` prints) separated by commas; key number {', '.join(map(str, bad))} is not."
            )
        if redirect_uri and not redirect_uri.startswith(("http://", "https://")):
            problems.append(f"SLACK_REDIRECT_URI must be an http(s) URL, got {redirect_uri!r}.")
    return {
        "slack_client_id": client_id,
        "slack_client_secret": client_secret,
        "slack_scopes": scopes,
        "slack_redirect_uri": redirect_uri,
        "token_encryption_keys": keys,
    }


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError):
        return False


def normalise_database_url(url: str) -> str:
    """Default to an SQLite file; map postgres:// and postgresql:// to the psycopg 3 driver."""
    url = url.strip()
    if not url:
        DEFAULT_DATA_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DEFAULT_DATA_DIR / 'ladderbot.sqlite3'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("sqlite:", "postgresql+")):
        raise ConfigError(f"DATABASE_URL must start with sqlite:/// or postgresql://, got {_redact_url(url)!r}.")
    return url


def _redact_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url
