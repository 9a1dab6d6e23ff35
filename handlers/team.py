"""Invitation buttons (Accept / Decline) and "Stop sharing" from /growth managers.

The ack listener records the answer; the lazy listener updates the DM in place and tells the follower
about an acceptance (once), or redraws the list. bot.team.invitations decides who may change what; a
refusal is told to the clicker only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.errors import RefusedError
from bot.ids import ActionId
from bot.services import Services
from handlers.payload import action_value, request_ids


def clicked_message(body: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message whose button was clicked, when Slack says."""
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    return (str(channel), str(ts)) if channel and ts else None


def refuse(respond: Respond, refusal: RefusedError) -> None:
    respond(text=refusal.message, response_type="ephemeral", replace_original=False)


def register(app: App, services: Services) -> None:
    invitations = services.team.invitations

    def answer_ack(accept: bool) -> Callable[[Ack, dict[str, Any]], None]:
        def ack_answer(ack: Ack, body: dict[str, Any]) -> None:
            team_id, user_id = request_ids(body)
            invitations.answer(team_id, user_id, action_value(body), accept)
            ack()
            services.people.seen(team_id, user_id)  # answering an invitation can be a first use

        return ack_answer

    def answer_after(body: dict[str, Any], respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        try:
            invitations.after_answer(team_id, user_id, action_value(body), clicked_message(body))
        except RefusedError as refusal:
            refuse(respond, refusal)

    app.action(ActionId.FOLLOW_ACCEPT)(ack=answer_ack(True), lazy=[answer_after])
    app.action(ActionId.FOLLOW_DECLINE)(ack=answer_ack(False), lazy=[answer_after])

    def leave_ack(ack: Ack, body: dict[str, Any]) -> None:
        team_id, user_id = request_ids(body)
        invitations.leave(team_id, user_id, action_value(body))
        ack()

    def leave_after(body: dict[str, Any], respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        try:
            message = invitations.after_leave(team_id, user_id, action_value(body))
        except RefusedError as refusal:
            refuse(respond, refusal)
            return
        respond(text=message.text, blocks=list(message.blocks), replace_original=True)

    app.action(ActionId.FOLLOW_LEAVE)(ack=leave_ack, lazy=[leave_after])
