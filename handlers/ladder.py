"""/ladder: answered from the ack with local content."""

from typing import Any

from slack_bolt import Ack, App

from bot.services import Services
from handlers.payload import workspace_key


def register(app: App, services: Services) -> None:
    @app.command("/ladder")
    def ladder(ack: Ack, command: dict[str, Any]) -> None:
        ack(**services.answers.ladder(command.get("text", "")).as_ack())
        services.people.seen(workspace_key(command), command.get("user_id"), command.get("team_domain"))
