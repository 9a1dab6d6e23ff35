"""Workspaces leaving (several workspaces over OAuth only): `app_uninstalled` and `tokens_revoked` remove the
installation at once, so nothing more is sent with it; its data goes after the grace period (bot.install).
`team_access_revoked` takes workspaces out of an organisation's org-wide install, which stays for the others:
each is removed the same way, and its people are sorted by the clock (Slack is asked who is still in another
of its workspaces; the others move out of the organisation's reach); `team_access_granted` brings them back."""

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.install import Installs
from bot.install.routing import request_install_key
from bot.services import Services


def register(app: App, services: Services) -> None:
    install = services.install
    if install is None:
        return  # one workspace with a static token: nothing to install or remove

    @app.event("app_uninstalled")
    def uninstalled(ack: Ack, context: BoltContext) -> None:
        _remove(install, context, "app_uninstalled")
        ack()

    @app.event("tokens_revoked")
    def tokens_revoked(ack: Ack, context: BoltContext, event: dict[str, Any]) -> None:
        if (event.get("tokens") or {}).get("bot"):  # a user token alone leaves the bot installed
            _remove(install, context, "tokens_revoked")
        ack()

    # Bolt skips authorization for team_access_revoked (as for the two above); the organisation's id is the
    # request's, the workspaces are the event's. Sorting the organisation's people is the clock's (before it
    # sends, on every pass until done): recorded here in the removals' transaction, so no crash can lose it
    @app.event("team_access_revoked")
    def access_revoked(ack: Ack, context: BoltContext, event: dict[str, Any]) -> None:
        if context.enterprise_id:
            install.teams_revoked(context.enterprise_id, _teams(event))
        ack()

    @app.event("team_access_granted")
    def access_granted(ack: Ack, context: BoltContext, event: dict[str, Any]) -> None:
        if context.enterprise_id:
            install.teams_granted(context.enterprise_id, _teams(event))
        ack()


def _remove(install: Installs, context: BoltContext, reason: str) -> None:
    key = request_install_key(context)
    if key:
        install.removed(key, reason)


def _teams(event: dict[str, Any]) -> list[str]:
    return [str(team) for team in event.get("team_ids") or [] if team]
