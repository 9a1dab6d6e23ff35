"""Installations seen from the rest of the bot: the OAuth settings Bolt runs on, each workspace's token for
the clock and the request path, and what happens when a workspace leaves (`app_uninstalled`, `tokens_revoked`):
its installation goes at once, so nothing more is sent with it, and its data after GRACE (`forget_due`), or
at once with `ladderbot workspace forget TEAM`.

A workspace taken out of an organisation's org-wide install (`team_access_revoked`) leaves the same way, though
the organisation's installation stays for its other workspaces. The organisation's people are kept under the
organisation (one person across its workspaces, handlers.payload.workspace_key), so those whom Slack lists only
in workspaces taken out are moved to a workspace row of their own, under the first of those: the clock sends
nothing for it (bot.storage.people.still_installed sees its removal) and `forget_due` deletes it after GRACE. People
still in another workspace of the organisation stay as they are. The event records the removals and the sort
of the organisation's people in one transaction; the clock does the sorting (bot.clock.sorting), at Slack's
pace and before it sends, so a crash or a 429 only leaves the rest for its next pass. `team_access_granted`
moves them back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.install.crypto import TokenCipher
from bot.install.pages import failure_page, success_page
from bot.install.store import DatabaseStateStore, EncryptedInstallationStore, make_rotator
from bot.storage.models import Installation, OrgSort, Person, SendShare, Workspace, WorkspaceRemoval, utcnow
from bot.storage.people import ensure_workspace
from bot.storage.upsert import insert_ignoring_conflict

logger = logging.getLogger(__name__)

GRACE = timedelta(days=30)  # how long a removed workspace's data is kept (the README says so)
STATE_SECONDS = 600  # an install link's life (Bolt's default)
TEAM_ACCESS_REVOKED = "team_access_revoked"  # the reason a removal of a workspace of an org-wide install gives


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
        oauth.authorize = GrantedTeamsAuthorize(
            self.access_revoked,
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

    # workspaces of an org-wide install -------------------------------------------------------------

    def access_revoked(self, team_id: str) -> bool:
        """Whether an org admin took `team_id` out of its organisation's org-wide install (and has not given it
        back): its requests are refused (GrantedTeamsAuthorize)."""
        with self.session_factory() as session:
            removal = session.get(WorkspaceRemoval, team_id)
        return removal is not None and removal.reason == TEAM_ACCESS_REVOKED

    def teams_revoked(self, enterprise_id: str, team_ids: Iterable[str], now: datetime | None = None) -> list[str]:
        """`team_access_revoked`: the workspaces of `enterprise_id`'s org-wide install that are out of it now;
        each gets a removal, as an uninstalled workspace does (its requests are refused from now on, its data is
        deleted after the grace period) and the workspace row its people are moved to. In the same transaction
        the organisation's people are marked to be sorted (an OrgSort, from the first person again if a sort
        was under way): the clock's next pass asks Slack about each, before it sends anything, and whatever a
        crash or a 429 leaves is sorted on a later pass (bot.clock.sorting). A workspace with an installation
        of its own is not part of the org-wide one and is left alone. The teams recorded."""
        now = now or utcnow()
        recorded: list[str] = []
        with self.session_factory.begin() as session:
            org = session.execute(
                select(Installation.id).where(
                    Installation.install_key == enterprise_id, Installation.is_enterprise_install
                )
            ).scalar_one_or_none()
            if org is None:
                logger.info("%s: %s has no org-wide installation here", TEAM_ACCESS_REVOKED, enterprise_id)
                return []
            for team_id in dict.fromkeys(team_ids):
                own = session.execute(select(Installation.id).where(Installation.install_key == team_id)).first()
                if own is not None or not team_id or team_id == enterprise_id:
                    continue
                ensure_workspace(session, team_id)
                if session.get(WorkspaceRemoval, team_id) is None:
                    session.add(
                        WorkspaceRemoval(
                            install_key=team_id,
                            reason=TEAM_ACCESS_REVOKED,
                            removed_at=now,
                            forget_after=now + self.grace,
                            enterprise_id=enterprise_id,
                        )
                    )
                recorded.append(team_id)
            if recorded:
                sort_again(session, enterprise_id, now)
        if recorded:
            logger.info(
                "%s: %s took %s out of its org-wide install; their people's data is deleted after %s",
                TEAM_ACCESS_REVOKED,
                enterprise_id,
                ", ".join(recorded),
                now + self.grace,
            )
        return recorded

    def teams_granted(self, enterprise_id: str, team_ids: Iterable[str]) -> int:
        """`team_access_granted`: workspaces of `enterprise_id`'s org-wide install that are back in it end their
        removal (as a reinstall does) and their people return to the organisation's row. How many people."""
        returned = 0
        with self.session_factory.begin() as session:
            org_workspace_id: int | None = None
            for team_id in dict.fromkeys(team_ids):
                removal = session.get(WorkspaceRemoval, team_id)
                if removal is None or removal.reason != TEAM_ACCESS_REVOKED:
                    continue
                if removal.enterprise_id not in (None, enterprise_id):  # another organisation's: not ours to end
                    continue
                session.delete(removal)
                parked = session.execute(select(Workspace).where(Workspace.team_id == team_id)).scalar_one_or_none()
                if parked is None:
                    continue
                if org_workspace_id is None:
                    org_workspace_id = ensure_workspace(session, enterprise_id)
                back = select(Person.user_id).where(Person.workspace_id == org_workspace_id)
                result = session.execute(
                    update(Person)
                    .where(Person.workspace_id == parked.id, Person.user_id.not_in(back))
                    .values(workspace_id=org_workspace_id)
                )
                assert isinstance(result, CursorResult)  # an UPDATE's result: it carries the row count
                returned += result.rowcount or 0
                left = session.execute(select(Person.id).where(Person.workspace_id == parked.id)).first()
                if left is None:
                    session.delete(parked)
        logger.info("team_access_granted: %d people of %s are back", returned, enterprise_id)
        return returned

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
            session.execute(delete(OrgSort).where(OrgSort.enterprise_id == key))
            count = getattr(deleted, "rowcount", 0) or 0
        logger.info("forgot %s: %d workspace(s) and everything in them", key, count)
        return Forgotten(key, count)


def sort_again(session: Session, enterprise_id: str, now: datetime) -> None:
    """Mark the organisation's people to be sorted from the first: those checked before were checked against
    fewer workspaces taken out."""
    values = {"enterprise_id": enterprise_id, "generation": 0, "after_person_id": 0, "requested_at": now}
    insert_ignoring_conflict(session, OrgSort, values, ["enterprise_id"])
    session.execute(
        update(OrgSort)
        .where(OrgSort.enterprise_id == enterprise_id)
        .values(generation=OrgSort.generation + 1, after_person_id=0, requested_at=now, sorted_at=None)
    )


class GrantedTeamsAuthorize(InstallationStoreAuthorize):
    """Bolt's authorization on our store, aware of the workspaces of an org-wide install. Someone acting from a
    workspace an org admin took out of the install (its installation, keyed by the organisation, is still there
    for the others) is refused: Bolt answers with its reinstall message, through the response URL when there is
    one, never a 500. A request with no one behind it (the organisation's own events: team_access_granted)
    is authorized with the organisation's installation whichever workspace its payload names."""

    def __init__(self, revoked: Callable[[str], bool], **kwargs: Any):
        super().__init__(**kwargs)
        self.revoked = revoked

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        grid_workspace = bool(enterprise_id and team_id and team_id != enterprise_id)
        if grid_workspace and user_id and self.revoked(str(team_id)):
            logger.info("refused a request from %s: taken out of %s's org-wide install", team_id, enterprise_id)
            return None
        actors: dict[str, Any] = {
            "actor_enterprise_id": actor_enterprise_id,
            "actor_team_id": actor_team_id,
            "actor_user_id": actor_user_id,
        }
        found = super().__call__(
            context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, **actors
        )
        if found is None and grid_workspace and not user_id:
            return super().__call__(context=context, enterprise_id=enterprise_id, team_id=None, user_id=None, **actors)
        return found
