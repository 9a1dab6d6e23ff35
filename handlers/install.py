"""Workspaces leaving (several workspaces over OAuth only): `app_uninstalled` and `tokens_revoked` remove the
installation at once, so nothing more is sent with it; its data goes after the grace period (bot.install)."""

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


def _remove(install: Installs, context: BoltContext, reason: str) -> None:
    key = request_install_key(context)
    if key:
        install.removed(key, reason)
