"""Installations seen from the rest of the bot: the OAuth settings Bolt runs on, each workspace's token for
the clock and the request path, and what happens when a workspace leaves (`app_uninstalled`, `tokens_revoked`):
its installation goes at once, so nothing more is sent with it, and its data after GRACE (`forget_due`), or
at once with `ladderbot workspace forget TEAM`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from slack_bolt import BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.install.crypto import TokenCipher
from bot.install.pages import failure_page, success_page
from bot.install.store import DatabaseStateStore, EncryptedInstallationStore, make_rotator
from bot.storage.models import Installation, SendShare, Workspace, WorkspaceRemoval, utcnow

logger = logging.getLogger(__name__)

GRACE = timedelta(days=30)  # how long a removed workspace's data is kept (the README says so)
STATE_SECONDS = 600  # an install link's life (Bolt's default)


def authorize_url(settings: Settings) -> str:
    """Slack's authorize page, next to its Web API: https://slack.com/oauth/v2/authorize for the real Slack,
    the fake's own page when SLACK_API_URL points at it."""
    base = settings.slack_api_url.removesuffix("/").removesuffix("/api")
    return f"{base}/oauth/v2/authorize"


@dataclass(frozen=True)
class Forgotten:
    install_key: str
    workspaces: int


class Installs:
    """The installations of a multi-workspace (OAuth) bot."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], client: WebClient, *, grace: timedelta = GRACE
    ):
        self.settings = settings
        self.session_factory = session_factory
        self.client = client
        self.cipher = TokenCipher(settings.token_encryption_keys)
        rotator = make_rotator(settings.slack_client_id, settings.slack_client_secret, client)
        self.store = EncryptedInstallationStore(session_factory, self.cipher, rotator)
        self.states = DatabaseStateStore(session_factory, STATE_SECONDS)
        self.grace = grace

    # Bolt ----------------------------------------------------------------------------------------

    def oauth_settings(self) -> OAuthSettings:
        """Bolt's OAuth settings on our stores and pages. Authorization uses our client (SLACK_API_URL) for
        auth.test and any rotation, and caches auth.test per token (a rotated token is a new key)."""
        settings = self.settings
        oauth = OAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=list(settings.slack_scopes),
            user_scopes=[],
            redirect_uri=settings.slack_redirect_uri or None,
            authorization_url=authorize_url(settings),
            installation_store=self.store,
            state_store=self.states,
            state_expiration_seconds=STATE_SECONDS,
            callback_options=CallbackOptions(success=self._succeeded, failure=self._failed),
            logger=logging.getLogger("slack_bolt"),
        )
        oauth.authorize = InstallationStoreAuthorize(
            logger=logging.getLogger("slack_bolt"),
            installation_store=self.store,
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            client=self.client,
            cache_enabled=True,
        )
        return oauth

    def _succeeded(self, args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        name = installation.enterprise_name if installation.is_enterprise_install else installation.team_name
        logger.info(
            "installed in %s",
            installation.enterprise_id if installation.is_enterprise_install else installation.team_id,
        )
        cookie = args.settings.state_utils.build_set_cookie_for_deletion()
        return BoltResponse(
            status=200,
            body=success_page(name or "your workspace"),
            headers={"Content-Type": "text/html; charset=utf-8", "Set-Cookie": cookie},
        )

    def _failed(self, args: FailureArgs) -> BoltResponse:
        logger.info("an install ended without installing: %s", args.reason)
        status = args.suggested_status_code if args.reason != "access_denied" else 200
        return BoltResponse(
            status=status,
            body=failure_page(args.reason, args.settings.install_path),
            headers={"Content-Type": "text/html; charset=utf-8"},
        )

    # tokens --------------------------------------------------------------------------------------

    def token_for(self, team_id: str) -> str:
        """The bot token to send to `team_id` (a workspace, or an organisation with an org-wide install: the
        key its people are stored under) with; "" when it has none, e.g. removed: Slack then answers
        not_authed and nothing is sent."""
        return self.store.bot_token(team_id) or ""

    def reencrypt(self) -> tuple[int, int]:
        """(rows, tokens) re-sealed under the newest key; rows already under it are left alone."""
        rows = tokens = 0
        columns = (
            "bot_token_encrypted",
            "bot_refresh_token_encrypted",
            "user_token_encrypted",
            "user_refresh_token_encrypted",
        )
        with self.session_factory.begin() as session:
            for row in session.execute(select(Installation).with_for_update()).scalars():
                changed = False
                for column in columns:
                    sealed = getattr(row, column)
                    resealed = self.cipher.reseal(sealed)
                    if resealed != sealed:
                        setattr(row, column, resealed)
                        tokens += 1
                        changed = True
                rows += changed
        return rows, tokens

    # leaving -------------------------------------------------------------------------------------

    def removed(self, key: str, reason: str, now: datetime | None = None) -> None:
        """The app was uninstalled from `key` (a workspace or an organisation) or its bot token revoked: the
        installation goes now, the data when the grace period is over. Until then the clock sends nothing for
        it (bot.clock.outbox.still_installed); a new install ends the removal (EncryptedInstallationStore.save)
        and the clock sends again."""
        now = now or utcnow()
        # one transaction: the clock never sees the installation gone without the removal that stops its sends
        with self.session_factory.begin() as session:
            session.execute(delete(Installation).where(Installation.install_key == key))
            existing = session.get(WorkspaceRemoval, key)
            if existing is None:
                session.add(
                    WorkspaceRemoval(install_key=key, reason=reason, removed_at=now, forget_after=now + self.grace)
                )
        logger.info("%s: removed the installation of %s; its data is deleted after %s", reason, key, now + self.grace)

    def forget_due(self, now: datetime | None = None) -> list[Forgotten]:
        """Deletes the data of every workspace whose grace period is over."""
        now = now or utcnow()
        with self.session_factory() as session:
            keys = list(
                session.execute(
                    select(WorkspaceRemoval.install_key).where(WorkspaceRemoval.forget_after <= now)
                ).scalars()
            )
        return [self.forget(key) for key in keys]

    def forget(self, key: str) -> Forgotten:
        """Deletes a workspace's (or an organisation's) installation and all its data, now."""
        self.store.delete_key(key)
        with self.session_factory.begin() as session:
            deleted = session.execute(delete(Workspace).where(Workspace.team_id == key))
            session.execute(delete(SendShare).where(SendShare.team_id == key))
            session.execute(delete(WorkspaceRemoval).where(WorkspaceRemoval.install_key == key))
            count = getattr(deleted, "rowcount", 0) or 0
        logger.info("forgot %s: %d workspace(s) and everything in them", key, count)
        return Forgotten(key, count)
