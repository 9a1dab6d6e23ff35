"""Buttons on answers: share in channel, open another view, different questions.

Each acks at once; the reply goes through the response_url in a lazy listener, off the ack path.
"""

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.ids import ActionId
from bot.services import Services
from handlers.payload import action_value


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, services: Services) -> None:
    def share(body: dict[str, Any], respond: Respond) -> None:
        user = (body.get("user") or {}).get("id", "")
        shared = services.answers.shared_by(action_value(body), user)
        if shared is None:
            respond(
                text="That answer can no longer be shared; run the command again.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        respond(text=shared.text, blocks=list(shared.blocks), response_type="in_channel", replace_original=False)

    def open_view(body: dict[str, Any], respond: Respond) -> None:
        message = services.answers.ladder(action_value(body))
        respond(text=message.text, blocks=list(message.blocks), replace_original=True)

    def more_questions(body: dict[str, Any], respond: Respond) -> None:
        message = services.answers.interview(action_value(body))
        respond(text=message.text, blocks=list(message.blocks), replace_original=True)

    app.action(ActionId.SHARE)(ack=_ack, lazy=[share])
    app.action(ActionId.LADDER_OPEN)(ack=_ack, lazy=[open_view])
    app.action(ActionId.INTERVIEW_MORE)(ack=_ack, lazy=[more_questions])
