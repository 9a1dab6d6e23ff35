"""The Slack app manifest for the way Slack reaches this server: `ladderbot manifest --socket` (Socket Mode: no
request URL anywhere) or `ladderbot manifest --url https://bot.example.com` (HTTP: every request URL on that
server).

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


class ManifestError(ValueError):
    """A --url that cannot be a request URL."""


def server_url(url: str) -> str:
    """The public base URL, checked: https (Slack calls only https request URLs) with a host, no query."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ManifestError(f"--url must be the server's public https URL, like https://bot.example.com, got {url!r}")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def render_manifest(text: str, *, socket_mode: bool, url: str | None) -> str:
    """manifest.yml for one mode: with `socket_mode`, socket_mode_enabled true and no request URL (Slack
    rejects a Socket Mode manifest whose URLs nobody serves); otherwise every request URL on `url`."""
    base = server_url(url) if url else None
    if not socket_mode and base is None:
        raise ManifestError("give --socket (Socket Mode) or --url https://your.server (HTTP request URLs)")
    header = (
        "# Slack app manifest for Socket Mode (made by `ladderbot manifest --socket`): create the app from it at\n"
        "# https://api.slack.com/apps, then make an app-level token with connections:write for SLACK_APP_TOKEN.\n"
        if socket_mode
        else f"# Slack app manifest for HTTP request URLs on {base} (made by `ladderbot manifest --url`): create the\n"
        "# app from it at https://api.slack.com/apps.\n"
    )
    out: list[str] = []
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    for line in lines[start:]:
        setting = _SOCKET_SETTING.match(line)
        if setting:
            out.append(f"{setting.group(1)}socket_mode_enabled: {'true' if socket_mode else 'false'}")
            continue
        request_url = _REQUEST_URL.match(line)
        if request_url and socket_mode:
            if request_url.group(2):  # a list item that is only a url: keep the item, for the keys below it
                raise ManifestError(f"manifest.yml: cannot drop a list item that holds only a URL: {line.strip()}")
            continue
        if base is not None:
            line = line.replace(PLACEHOLDER, base)
        out.append(line)
    return header + "\n".join(out) + "\n"


def read_manifest(path: Path = MANIFEST) -> str:
    return path.read_text(encoding="utf-8")
