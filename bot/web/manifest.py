"""The Slack app manifest for the way Slack reaches this server: `ladderbot manifest --socket` (Socket Mode: no
request URL anywhere) or `ladderbot manifest --url https://bot.example.com` (HTTP: every request URL on that
server); with `--oauth` (several workspaces), also the OAuth redirect URL on that server and org-wide installs
allowed (Enterprise Grid), with either.

It rewrites manifest.yml line by line rather than loading and dumping it (only bot/content/loader.py reads
YAML): the comments and key order an operator reads in the file are kept, and tests/test_socket_mode.py
parses what comes out and checks it against the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import PROJECT_ROOT

MANIFEST = PROJECT_ROOT / "manifest.yml"
PLACEHOLDER = "https://ladderbot.example.com"
_REQUEST_URL = re.compile(r"^(\s*)(-\s+)?(url|request_url):\s*\S+\s*$")
_SOCKET_SETTING = re.compile(r"^(\s*)socket_mode_enabled:\s*\S+\s*$")
_ORG_DEPLOY = re.compile(r"^(\s*)org_deploy_enabled:\s*\S+\s*$")
_OAUTH_CONFIG = re.compile(r"^oauth_config:\s*$")
REDIRECT_PATH = "/slack/oauth_redirect"  # Bolt's default, where bot.app serves the end of an install


class ManifestError(ValueError):
    """A --url that cannot be a request URL."""


def server_url(url: str) -> str:
    """The public base URL, checked: https (Slack calls only https request URLs) with a host, no query."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ManifestError(f"--url must be the server's public https URL, like https://bot.example.com, got {url!r}")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def render_manifest(text: str, *, socket_mode: bool, url: str | None, oauth: bool = False) -> str:
    """manifest.yml for one mode: with `socket_mode`, socket_mode_enabled true and no request URL (Slack
    rejects a Socket Mode manifest whose URLs nobody serves); otherwise every request URL on `url`. With `oauth`
    (several workspaces installed through /slack/install), oauth_config gains the redirect URL on `url` (needed
    in Socket Mode too: the installer's browser comes back there) and org_deploy_enabled is true, so an
    Enterprise Grid organisation can install the app org-wide."""
    base = server_url(url) if url else None
    if not socket_mode and base is None:
        raise ManifestError("give --socket (Socket Mode) or --url https://your.server (HTTP request URLs)")
    if oauth and base is None:
        raise ManifestError(
            f"--oauth needs --url https://your.server: Slack sends the installer back to <url>{REDIRECT_PATH}"
        )
    header = (
        "# Slack app manifest for Socket Mode (made by `ladderbot manifest --socket`): create the app from it at\n"
        "# https://api.slack.com/apps, then make an app-level token with connections:write for SLACK_APP_TOKEN.\n"
        if socket_mode
        else f"# Slack app manifest for HTTP request URLs on {base} (made by `ladderbot manifest --url`): create the\n"
        "# app from it at https://api.slack.com/apps.\n"
    )
    if oauth:
        header += (
            f"# Several workspaces (--oauth): installs come back to {base}{REDIRECT_PATH}; org-wide installs are\n"
            "# allowed. Set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_TOKEN_ENCRYPTION_KEYS (README).\n"
        )
    out: list[str] = []
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    for line in lines[start:]:
        setting = _SOCKET_SETTING.match(line)
        if setting:
            out.append(f"{setting.group(1)}socket_mode_enabled: {'true' if socket_mode else 'false'}")
            continue
        org = _ORG_DEPLOY.match(line)
        if org and oauth:
            out.append(f"{org.group(1)}org_deploy_enabled: true")
            continue
        request_url = _REQUEST_URL.match(line)
        if request_url and socket_mode:
            if request_url.group(2):  # a list item that is only a url: keep the item, for the keys below it
                raise ManifestError(f"manifest.yml: cannot drop a list item that holds only a URL: {line.strip()}")
            continue
        if base is not None:
            line = line.replace(PLACEHOLDER, base)
        out.append(line)
        if oauth and _OAUTH_CONFIG.match(line):
            out += ["  redirect_urls:", f"    - {base}{REDIRECT_PATH}"]
    if oauth and not any(_OAUTH_CONFIG.match(line) for line in out):
        raise ManifestError("manifest.yml has no top-level oauth_config: to add the redirect URL to")
    return header + "\n".join(out) + "\n"


def read_manifest(path: Path = MANIFEST) -> str:
    return path.read_text(encoding="utf-8")
