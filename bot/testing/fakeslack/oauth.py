"""The fake Slack's OAuth side: the `oauth/v2/authorize` page a person allows or cancels an install on,
`oauth.v2.access` (codes for tokens, and refresh tokens for new ones when the app rotates tokens), and the
identity of each token it handed out (`auth.test` answers with that token's workspace; a revoked token gets
`token_revoked`).

A test registers workspaces (`add_workspace`), optionally an Enterprise Grid organisation, and says which one
the next install goes to (`choose`); a browser on the authorize page picks from a list. With
`token_lifetime` set, tokens rotate as Slack's do: `expires_in` and a `refresh_token`, and a refresh token
works once.
"""

from __future__ import annotations

import base64
import itertools
import threading
import weakref
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlencode

from bot.testing.fakeslack.state import SlackState

AUTHORIZE_PATH = "/oauth/v2/authorize"
DECIDE_PATH = "/oauth/v2/authorize/decide"
APP_ID = "AFAKEAPP"


@dataclass(frozen=True)
class FakeWorkspace:
    """A workspace (or, org-wide, an Enterprise Grid organisation) an install can go to."""

    team_id: str | None
    name: str
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    is_enterprise_install: bool = False

    @property
    def key(self) -> str:
        return (self.enterprise_id or "") if self.is_enterprise_install else (self.team_id or "")


@dataclass
class IssuedToken:
    workspace: FakeWorkspace
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class Grant:
    workspace: FakeWorkspace
    installer: str
    scopes: str
    redirect_uri: str


@dataclass
class FakeOAuth:
    """What the fake's OAuth side knows. Thread-safe (one lock)."""

    client_id: str = "1234.5678"
    client_secret: str = "fake-client-secret"
    redirect_url: str = ""  # the app's configured redirect URL, used when the authorize URL names none
    token_lifetime: int | None = None  # seconds; None: tokens that never expire (no rotation)
    workspaces: dict[str, FakeWorkspace] = field(default_factory=dict)
    chosen: str | None = None  # key of the workspace the next install goes to
    installer: str = "UINSTALLER"
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> the access token it renews
    used_refresh_tokens: set[str] = field(default_factory=set)
    refreshes: int = 0  # successful refresh-token exchanges
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # scripting -----------------------------------------------------------------------------------

    def add_workspace(
        self,
        team_id: str | None,
        name: str,
        *,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        org_wide: bool = False,
    ) -> FakeWorkspace:
        workspace = FakeWorkspace(team_id, name, enterprise_id, enterprise_name, org_wide)
        with self.lock:
            self.workspaces[workspace.key] = workspace
        return workspace

    def choose(self, key: str) -> None:
        """The workspace (or organisation) the next install goes to, as if the person picked it in Slack."""
        with self.lock:
            self.chosen = key

    def revoke(self, key: str) -> list[str]:
        """Revoke every token of a workspace (as an uninstall does); the tokens revoked."""
        with self.lock:
            revoked = [t for t, issued in self.tokens.items() if issued.workspace.key == key and not issued.revoked]
            for token in revoked:
                self.tokens[token].revoked = True
            return revoked

    def tokens_of(self, key: str) -> list[str]:
        with self.lock:
            return [t for t, issued in self.tokens.items() if issued.workspace.key == key]

    def workspace_of(self, token: str) -> FakeWorkspace | None:
        with self.lock:
            issued = self.tokens.get(token)
            return issued.workspace if issued else None

    def reset(self) -> None:
        with self.lock:
            self.workspaces.clear()
            self.codes.clear()
            self.tokens.clear()
            self.refresh_tokens.clear()
            self.used_refresh_tokens.clear()
            self.chosen = None
            self.token_lifetime = None
            self.refreshes = 0

    # the authorize page --------------------------------------------------------------------------

    def authorize(self, path: str, query: str) -> tuple[int, str, dict[str, str]]:
        """(status, HTML, headers) for GET /oauth/v2/authorize (the page) and /oauth/v2/authorize/decide
        (Allow or Cancel: a redirect back to the app with a code and the state, or error=access_denied)."""
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if params.get("client_id") != self.client_id:
            return 400, _page("Slack", "<p>This app link is not valid (unknown client_id).</p>"), {}
        redirect = params.get("redirect_uri") or self.redirect_url
        if not redirect:
            return 400, _page("Slack", "<p>The app has no redirect URL.</p>"), {}
        if path == DECIDE_PATH:
            return self._decide(params, redirect)
        with self.lock:
            choices = list(self.workspaces.values())
            chosen = self.chosen
        options = "".join(
            f'<option value="{escape(w.key, quote=True)}"{" selected" if w.key == chosen else ""}>'
            f"{escape(w.name)}</option>"
            for w in choices
        )
        hidden = "".join(
            f'<input type="hidden" name="{escape(k, quote=True)}" value="{escape(v, quote=True)}">'
            for k, v in params.items()
        )
        body = (
            f"<p>ladderbot is requesting permission to access your workspace ({escape(params.get('scope', ''))}).</p>"
            f'<form method="get" action="{DECIDE_PATH}">{hidden}'
            f'<label>Workspace <select name="workspace" id="workspace">{options}</select></label> '
            '<button type="submit" name="decision" value="allow" id="allow">Allow</button> '
            '<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button></form>'
        )
        return 200, _page("Install ladderbot", body), {}

    def _decide(self, params: dict[str, str], redirect: str) -> tuple[int, str, dict[str, str]]:
        state = params.get("state", "")
        back = {"state": state} if state else {}
        if params.get("decision") != "allow":
            return 302, "", {"Location": _with_query(redirect, {"error": "access_denied", **back})}
        with self.lock:
            key = params.get("workspace") or self.chosen or next(iter(self.workspaces), "")
            workspace = self.workspaces.get(key)
            if workspace is None:
                return 400, _page("Slack", "<p>No such workspace.</p>"), {}
            code = f"code-{next(self._ids)}-{key}"
            self.codes[code] = Grant(workspace, self.installer, params.get("scope", ""), redirect)
        return 302, "", {"Location": _with_query(redirect, {"code": code, **back})}

    # oauth.v2.access -----------------------------------------------------------------------------

    def access(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        client_id, client_secret = str(params.get("client_id") or ""), str(params.get("client_secret") or "")
        basic = headers.get("authorization", "")
        if basic.startswith("Basic "):  # how slack_sdk sends them
            client_id, _, client_secret = base64.b64decode(basic[len("Basic ") :]).decode().partition(":")
        if client_id != self.client_id:
            return {"ok": False, "error": "invalid_client_id"}
        if client_secret != self.client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        with self.lock:
            if params.get("grant_type") == "refresh_token":
                return self._refresh(str(params.get("refresh_token") or ""))
            grant = self.codes.pop(str(params.get("code") or ""), None)  # a code works once
            if grant is None:
                return {"ok": False, "error": "invalid_code"}
            if params.get("redirect_uri") and params["redirect_uri"] != grant.redirect_uri:
                return {"ok": False, "error": "bad_redirect_uri"}
            token, extra = self._issue(grant.workspace)
            workspace = grant.workspace
            return {
                "ok": True,
                "app_id": APP_ID,
                "authed_user": {"id": grant.installer},
                "scope": grant.scopes,
                "token_type": "bot",
                "access_token": token,
                "bot_user_id": "UBOT",
                "team": {"id": workspace.team_id, "name": workspace.name} if workspace.team_id else None,
                "enterprise": (
                    {"id": workspace.enterprise_id, "name": workspace.enterprise_name}
                    if workspace.enterprise_id
                    else None
                ),
                "is_enterprise_install": workspace.is_enterprise_install,
                **extra,
            }

    def _issue(self, workspace: FakeWorkspace) -> tuple[str, dict[str, Any]]:
        n = next(self._ids)
        token = f"xoxb-{workspace.key}-{n}"
        extra: dict[str, Any] = {}
        refresh = None
        if self.token_lifetime is not None:
            refresh = f"xoxe-1-{workspace.key}-{n}"
            self.refresh_tokens[refresh] = token
            extra = {"expires_in": self.token_lifetime, "refresh_token": refresh}
        self.tokens[token] = IssuedToken(workspace, refresh)
        return token, extra

    def _refresh(self, refresh_token: str) -> dict[str, Any]:
        old = self.refresh_tokens.get(refresh_token)
        if old is None or refresh_token in self.used_refresh_tokens or self.tokens[old].revoked:
            return {"ok": False, "error": "invalid_refresh_token"}
        self.used_refresh_tokens.add(refresh_token)  # Slack revokes a refresh token once it is used
        workspace = self.tokens[old].workspace
        token, extra = self._issue(workspace)
        self.refreshes += 1
        return {
            "ok": True,
            "app_id": APP_ID,
            "token_type": "bot",
            "access_token": token,
            "scope": "",
            "team": {"id": workspace.team_id, "name": workspace.name} if workspace.team_id else None,
            "enterprise": {"id": workspace.enterprise_id} if workspace.enterprise_id else None,
            "is_enterprise_install": workspace.is_enterprise_install,
            **extra,
        }

    # other methods, by token ---------------------------------------------------------------------

    def answer(self, method: str, token: str, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any] | None:
        """The OAuth side's answer to a Web API call, or None to let the fake's methods answer it."""
        if method == "oauth.v2.access":
            return self.access(params, headers)
        with self.lock:
            issued = self.tokens.get(token)
        if issued is None:
            return None
        if issued.revoked:
            return {"ok": False, "error": "token_revoked"}
        if method == "auth.test":
            workspace = issued.workspace
            return {
                "ok": True,
                "url": f"https://{(workspace.team_id or workspace.enterprise_id or '').lower()}.fake.slack.test/",
                "team": workspace.name,
                "user": "ladderbot",
                "team_id": workspace.team_id,
                "enterprise_id": workspace.enterprise_id,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "is_enterprise_install": workspace.is_enterprise_install,
            }
        return None


_OAUTH: weakref.WeakKeyDictionary[SlackState, FakeOAuth] = weakref.WeakKeyDictionary()
_OAUTH_LOCK = threading.Lock()


def oauth_of(state: SlackState) -> FakeOAuth:
    """The OAuth side of one fake Slack (made on first use)."""
    with _OAUTH_LOCK:
        oauth = _OAUTH.get(state)
        if oauth is None:
            oauth = _OAUTH[state] = FakeOAuth()
        return oauth


def oauth_answer(
    state: SlackState, method: str, token: str, params: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any] | None:
    return oauth_of(state).answer(method, token, params, headers)


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
