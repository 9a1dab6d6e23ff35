"""The evidence log's listeners: the "Save as growth evidence" message shortcut, the Log a win buttons,
the save modal's submission, and the Share buttons (a packet, or one item from /growth evidence).
/growth evidence and /growth packet are /growth subcommands (handlers/growth.py runs them).

Each acks at once; the modal (which needs chat.getPermalink first) and the uploads run in lazy listeners.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.ids import ActionId, CallbackId
from bot.services import Services
from handlers.payload import action_value, request_ids

Payload = dict[str, Any]


def just_ack(ack: Ack) -> None:
    ack()


def register(app: App, services: Services) -> None:
    desk = services.evidence

    def open_from_message(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        channel = str((body.get("channel") or {}).get("id") or "")
        domain = str((body.get("team") or {}).get("domain") or "")  # for a link when chat.getPermalink fails
        message = body.get("message") or {}
        desk.open_save_modal(client, body["trigger_id"], team_id, user_id, message, channel, domain)
        services.people.seen(team_id, user_id)  # the shortcut can be a first use

    app.shortcut(CallbackId.SAVE_AS_EVIDENCE)(ack=just_ack, lazy=[open_from_message])

    def open_blank(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.open_save_modal(client, body["trigger_id"], team_id, user_id)

    app.action(ActionId.EVIDENCE_LOG_WIN)(ack=just_ack, lazy=[open_blank])

    def save_ack(ack: Ack, body: Payload, view: Payload) -> None:
        team_id, user_id = request_ids(body)
        errors = desk.save(
            team_id, user_id, view.get("state", {}).get("values", {}), view.get("private_metadata") or ""
        )
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    def refresh_home(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        services.growth.publish_home(client, team_id, user_id)

    app.view(CallbackId.EVIDENCE)(ack=save_ack, lazy=[refresh_home])

    def refresh_suggestion(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.refresh_suggestion(client, team_id, user_id, body.get("view") or {})

    app.action(ActionId.EVIDENCE_NOTE)(ack=just_ack, lazy=[refresh_suggestion])

    def share(body: Payload, client: WebClient, respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        answer = desk.share_packet(client, team_id, user_id, action_value(body))
        respond(text=answer, response_type="ephemeral", replace_original=False)

    app.action(ActionId.PACKET_SHARE)(ack=just_ack, lazy=[share])

    def share_item_choices(body: Payload, respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        message = desk.share_choices(team_id, user_id, action_value(body))
        respond(
            text=message.text, blocks=list(message.blocks) or None, response_type="ephemeral", replace_original=False
        )

    app.action(ActionId.EVIDENCE_SHARE)(ack=just_ack, lazy=[share_item_choices])

    def share_item(body: Payload, client: WebClient, respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        answer = desk.share_item(client, team_id, user_id, action_value(body))
        respond(text=answer, response_type="ephemeral", replace_original=False)

    app.action(ActionId.EVIDENCE_SHARE_TO)(ack=just_ack, lazy=[share_item])
