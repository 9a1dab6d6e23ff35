"""The installation and OAuth state stores Bolt's OAuth flow uses, on our own tables (bot.storage.models) so that
Alembic creates them, tokens are encrypted at rest and a refresh can lock its row.

slack_sdk's SQLAlchemyInstallationStore keeps tokens in clear in String(200) columns and a row per install;
ours keeps one row per workspace (or per Grid organisation for an org-wide install), its tokens sealed by
`TokenCipher`. Token rotation happens here only, in `fresh_row`, under a row lock, so that of all the web
and clock processes exactly one uses a refresh token (Slack takes each once). Bolt's authorize step rotates by
itself any installation it is handed that carries a refresh token, outside our lock (and with the refresh token
this store just failed to use, after Slack refused a refresh): so the installations it is handed carry none.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot, InstallationStore
from slack_sdk.oauth.installation_store import Installation as SlackInstallation
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.install.crypto import TokenCipher
from bot.storage.models import Installation, OAuthState, WorkspaceRemoval, utcnow

logger = logging.getLogger(__name__)

REFRESH_BEFORE = timedelta(minutes=120)  # Bolt's default: refresh a rotating token two hours before it expires


def install_key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> str:
    """The row an installation lives in: the organisation for an org-wide install, else the workspace."""
    if is_enterprise_install or not team_id:
        return enterprise_id or ""
    return team_id


def _when(value: int | float | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


class EncryptedInstallationStore(InstallationStore):
    """slack_sdk's InstallationStore on the `installations` table, tokens sealed with `cipher`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        cipher: TokenCipher,
        rotator: TokenRotator | None = None,
        refresh_before: timedelta = REFRESH_BEFORE,
    ):
        self.session_factory = session_factory
        self.cipher = cipher
        self.rotator = rotator
        self.refresh_before = refresh_before
        self.refreshes = 0  # refresh calls this process made (for tests and the log)

    @property
    def logger(self) -> logging.Logger:
        return logger

    # writing -------------------------------------------------------------------------------------

    def save(self, installation: SlackInstallation) -> None:
        key = install_key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)
        values: dict[str, Any] = {
            "enterprise_id": installation.enterprise_id,
            "enterprise_name": installation.enterprise_name,
            "enterprise_url": installation.enterprise_url,
            "team_id": None if installation.is_enterprise_install else installation.team_id,
            "team_name": installation.team_name,
            "is_enterprise_install": bool(installation.is_enterprise_install),
            "app_id": installation.app_id,
            "bot_id": installation.bot_id,
            "bot_user_id": installation.bot_user_id,
            "bot_scopes": ",".join(installation.bot_scopes or []),
            "bot_token_encrypted": self.cipher.seal(installation.bot_token),
            "bot_refresh_token_encrypted": self.cipher.seal(installation.bot_refresh_token),
            "bot_token_expires_at": _when(installation.bot_token_expires_at),
            "installer_user_id": installation.user_id or "",
            "user_token_encrypted": self.cipher.seal(installation.user_token),
            "user_refresh_token_encrypted": self.cipher.seal(installation.user_refresh_token),
            "user_token_expires_at": _when(installation.user_token_expires_at),
            "user_scopes": ",".join(installation.user_scopes or []),
            "token_type": installation.token_type,
        }
        with self.session_factory.begin() as session:
            row = session.execute(select(Installation).where(Installation.install_key == key)).scalar_one_or_none()
            if row is None:
                session.add(Installation(install_key=key, installed_at=utcnow(), **values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                row.installed_at = utcnow()
            # installing again cancels a pending forget of the workspace's data
            session.execute(delete(WorkspaceRemoval).where(WorkspaceRemoval.install_key == key))

    def save_bot(self, bot: Bot) -> None:
        key = install_key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        with self.session_factory.begin() as session:
            session.execute(
                update(Installation)
                .where(Installation.install_key == key)
                .values(
                    bot_token_encrypted=self.cipher.seal(bot.bot_token),
                    bot_refresh_token_encrypted=self.cipher.seal(bot.bot_refresh_token),
                    bot_token_expires_at=_when(bot.bot_token_expires_at),
                    refreshed_at=utcnow(),
                )
            )

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is not None:
            return  # one bot installation per workspace: a user's revocation leaves it in place
        self.delete_key(install_key(enterprise_id, team_id, is_enterprise_install=not team_id))

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_key(install_key(enterprise_id, team_id, is_enterprise_install=not team_id))

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_key(install_key(enterprise_id, team_id, is_enterprise_install=not team_id))

    def delete_key(self, key: str) -> bool:
        with self.session_factory.begin() as session:
            result = session.execute(delete(Installation).where(Installation.install_key == key))
            assert isinstance(result, CursorResult)
            return bool(result.rowcount)

    # reading -------------------------------------------------------------------------------------

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> SlackInstallation | None:
        key = install_key(enterprise_id, team_id, is_enterprise_install)
        if user_id is not None:  # someone else's installation: none (and no refresh spent on finding that out)
            row = self.row(key)
            if row is None or user_id != row.installer_user_id:
                return None
        row = self.fresh_row(key)
        if row is None or (user_id is not None and user_id != row.installer_user_id):
            return None
        return self._handed_out(row)

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        row = self.fresh_row(install_key(enterprise_id, team_id, is_enterprise_install))
        return None if row is None or row.bot_token_encrypted is None else self._handed_out(row).to_bot()

    def row(self, key: str) -> Installation | None:
        with self.session_factory() as session:
            return session.execute(select(Installation).where(Installation.install_key == key)).scalar_one_or_none()

    def bot_token(self, key: str) -> str | None:
        """The workspace's (or organisation's) bot token, refreshed first if it is about to expire."""
        row = self.fresh_row(key)
        return None if row is None else self.cipher.open(row.bot_token_encrypted)

    # rotation ------------------------------------------------------------------------------------

    def _expiring(self, row: Installation, now: datetime) -> bool:
        expires = row.bot_token_expires_at
        return (
            row.bot_refresh_token_encrypted is not None and expires is not None and expires <= now + self.refresh_before
        )

    def fresh_row(self, key: str) -> Installation | None:
        """The installation row, its bot token first refreshed when it expires within `refresh_before`.
        Only one process refreshes a row at a time: it takes the row's lock (FOR UPDATE on PostgreSQL, the
        database's write lock on SQLite), then looks again, so a second one finds the token already fresh."""
        row = self.row(key)
        if row is None or self.rotator is None or not self._expiring(row, utcnow()):
            return row
        with self.session_factory.begin() as session:
            locked = _locked_row(session, key)
            if locked is None or not self._expiring(locked, utcnow()):
                return locked  # removed meanwhile, or another process refreshed it while we waited
            refreshed = self._refresh(locked)
            if refreshed is None:
                return locked
            locked.bot_token_encrypted = self.cipher.seal(refreshed.bot_token)
            locked.bot_refresh_token_encrypted = self.cipher.seal(refreshed.bot_refresh_token)
            locked.bot_token_expires_at = _when(refreshed.bot_token_expires_at)
            locked.refreshed_at = utcnow()
            return locked

    def _refresh(self, row: Installation) -> Bot | None:
        assert self.rotator is not None
        bot = self._installation(row).to_bot()
        try:
            refreshed = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=int(self.refresh_before.total_seconds() // 60)
            )
        except SlackTokenRotationError as exc:
            metrics.token_refreshed(ok=False)
            logger.error("token refresh for %s failed: %s", row.install_key, exc.api_error.response.get("error"))
            return None
        if refreshed is not None:
            self.refreshes += 1
            metrics.token_refreshed(ok=True)
            logger.info("refreshed the bot token of %s", row.install_key)
        return refreshed

    def _handed_out(self, row: Installation) -> SlackInstallation:
        """The installation as Bolt gets it: without its refresh tokens. Bolt's InstallationStoreAuthorize
        refreshes by itself, outside our lock, any installation carrying one whose token expires within its
        window: after `fresh_row`'s refresh was refused, with the very refresh token another process may be
        using under the lock. Without them it never rotates, and every refresh is `fresh_row`'s."""
        installation = self._installation(row)
        installation.bot_refresh_token = None
        installation.user_refresh_token = None
        return installation

    def _installation(self, row: Installation) -> SlackInstallation:
        return SlackInstallation(
            app_id=row.app_id,
            enterprise_id=row.enterprise_id,
            enterprise_name=row.enterprise_name,
            enterprise_url=row.enterprise_url,
            team_id=row.team_id,
            team_name=row.team_name,
            bot_token=self.cipher.open(row.bot_token_encrypted),
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            bot_refresh_token=self.cipher.open(row.bot_refresh_token_encrypted),
            bot_token_expires_at=_epoch(row.bot_token_expires_at),
            user_id=row.installer_user_id,
            user_token=self.cipher.open(row.user_token_encrypted),
            user_scopes=row.user_scopes,
            user_refresh_token=self.cipher.open(row.user_refresh_token_encrypted),
            user_token_expires_at=_epoch(row.user_token_expires_at),
            is_enterprise_install=row.is_enterprise_install,
            token_type=row.token_type,
            installed_at=row.installed_at.timestamp(),
        )


def _locked_row(session: Session, key: str) -> Installation | None:
    """The row, locked until `session` commits. SQLite has no row locks (SQLAlchemy drops FOR UPDATE there):
    a no-op UPDATE takes the database's write lock instead, which other writers wait on (busy_timeout)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Installation).where(Installation.install_key == key).values(install_key=Installation.install_key)
        )
        query = select(Installation).where(Installation.install_key == key)
    else:
        query = select(Installation).where(Installation.install_key == key).with_for_update()
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def make_rotator(client_id: str, client_secret: str, client: WebClient) -> TokenRotator:
    """slack_sdk's TokenRotator calling oauth.v2.access through `client` (its SLACK_API_URL)."""
    return TokenRotator(client_id=client_id, client_secret=client_secret, client=client)


class DatabaseStateStore(OAuthStateStore):
    """OAuth states in the `oauth_states` table: each is consumed at most once, and only before it expires,
    by any of the server processes."""

    def __init__(self, session_factory: sessionmaker[Session], expiration_seconds: int = 600):
        self.session_factory = session_factory
        self.expiration = timedelta(seconds=expiration_seconds)

    @property
    def logger(self) -> logging.Logger:
        return logger

    def issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = utcnow()
        with self.session_factory.begin() as session:
            session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))  # expired ones: sweep
            session.add(OAuthState(state=state, expires_at=now + self.expiration))
        return state

    def consume(self, state: str) -> bool:
        """True for exactly one caller, for a state we issued that has not expired; it is gone afterwards."""
        if not state or len(state) > 64:
            return False
        with self.session_factory.begin() as session:
            result = session.execute(
                delete(OAuthState).where(OAuthState.state == state, OAuthState.expires_at > utcnow())
            )
            assert isinstance(result, CursorResult)
            return result.rowcount == 1
