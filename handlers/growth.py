"""/growth, the nudge buttons, the setup and reflection modals, the App Home and user_change.

Each listener reads the payload, calls bot.growth, and answers. Writes happen in the ack listener, so
they are committed before Slack hears back; Web API calls (views.open, views.publish, chat.update,
sending) run in lazy listeners, off the ack path. /growth's text is parsed once, in the ack; the
lazy listener reads that parse from the context Bolt copies over to it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.growth.forms import NUDGE_ANSWERS
from bot.growth.table import CommandInput
from bot.ids import ActionId, CallbackId
from bot.services import Services
from handlers.payload import action_value, request_ids, workspace_key

PARSED = "growth_command"  # the context key for the ack's parse, when the request needs a follow-up

Payload = dict[str, Any]


def just_ack(ack: Ack) -> None:
    ack()


def register(app: App, services: Services) -> None:
    desk = services.growth

    # --- /growth --------------------------------------------------------------------------------

    def growth_ack(ack: Ack, command: Payload, context: BoltContext) -> None:
        team_id, user_id = request_ids(command)
        parsed, reply = services.growth_commands.answer(team_id, user_id, command.get("text", ""))
        if reply.follow_up:
            context[PARSED] = parsed
        ack(**reply.message.as_ack())
        services.people.seen(team_id, user_id, command.get("team_domain"))  # a first use: welcomed off the ack

    def growth_follow_up(command: Payload, context: BoltContext, client: WebClient, respond: Respond) -> None:
        team_id, user_id = request_ids(command)
        parsed: CommandInput | None = context.get(PARSED)
        answer = services.growth_commands.follow_up(team_id, user_id, command.get("trigger_id", ""), parsed, client)
        if answer is not None:
            message = answer.message
            respond(
                text=message.text,
                blocks=list(message.blocks) or None,
                response_type="ephemeral",
                replace_original=answer.replace,
            )

    app.command("/growth")(ack=growth_ack, lazy=[growth_follow_up])

    # --- nudge buttons --------------------------------------------------------------------------

    def answer_ack(ack: Ack, body: Payload) -> None:
        team_id, user_id = request_ids(body)
        desk.answer_nudge(team_id, user_id, action_value(body), NUDGE_ANSWERS[body["actions"][0]["action_id"]])
        ack()

    def answer_update(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        container = body.get("container") or {}
        desk.update_answered_nudge(
            client, team_id, user_id, action_value(body), container.get("channel_id"), container.get("message_ts")
        )

    for action_id in NUDGE_ANSWERS:
        app.action(action_id)(ack=answer_ack, lazy=[answer_update])

    def open_reflection(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.open_reflection(client, body["trigger_id"], team_id, user_id, action_value(body))

    app.action(ActionId.NUDGE_REFLECT)(ack=just_ack, lazy=[open_reflection])

    def reflection_ack(ack: Ack, body: Payload, view: Payload) -> None:
        team_id, user_id = request_ids(body)
        values = view.get("state", {}).get("values", {})
        errors = desk.save_reflection(team_id, user_id, values, view.get("private_metadata") or "")
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    def reflection_after(body: Payload, view: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.after_reflection(client, team_id, user_id, view.get("private_metadata") or "")

    app.view(CallbackId.REFLECTION)(ack=reflection_ack, lazy=[reflection_after])

    # --- setup modal ----------------------------------------------------------------------------

    def setup_open(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.open_setup(client, body["trigger_id"], team_id, user_id)
        services.people.seen(team_id, user_id)  # the App Home's button can be a first use

    app.action(ActionId.GROWTH_SETUP_OPEN)(ack=just_ack, lazy=[setup_open])

    def setup_ack(ack: Ack, body: Payload, view: Payload) -> None:
        team_id, user_id = request_ids(body)
        errors = desk.save_setup(team_id, user_id, view.get("state", {}).get("values", {}))
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    def setup_after(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.refresh_timezone(client, team_id, user_id)
        desk.publish_home(client, team_id, user_id)

    app.view(CallbackId.GROWTH_SETUP)(ack=setup_ack, lazy=[setup_after])

    # --- App Home buttons and forget ------------------------------------------------------------

    def pause_resume_ack(ack: Ack, body: Payload) -> None:
        team_id, user_id = request_ids(body)
        pause = body["actions"][0]["action_id"] == ActionId.GROWTH_PAUSE
        desk.pause_or_resume(team_id, user_id, pause=pause, weeks=action_value(body))
        ack()

    def refresh_home(body: Payload, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        desk.publish_home(client, team_id, user_id)

    app.action(ActionId.GROWTH_PAUSE)(ack=pause_resume_ack, lazy=[refresh_home])
    app.action(ActionId.GROWTH_RESUME)(ack=pause_resume_ack, lazy=[refresh_home])

    def forget_ack(ack: Ack, body: Payload) -> None:
        team_id, user_id = request_ids(body)
        desk.forget(team_id, user_id)
        services.people.forget(team_id, user_id)
        ack()

    def forget_done(respond: Respond) -> None:
        respond(text="Done: everything ladderbot stored about you is deleted.", replace_original=True)

    def forget_cancelled(respond: Respond) -> None:
        respond(text="Nothing was deleted.", replace_original=True)

    app.action(ActionId.GROWTH_FORGET_CONFIRM)(ack=forget_ack, lazy=[forget_done])
    app.action(ActionId.GROWTH_FORGET_CANCEL)(ack=just_ack, lazy=[forget_cancelled])

    # --- events ---------------------------------------------------------------------------------

    def home_opened(body: Payload, event: Payload, client: WebClient) -> None:
        if event.get("tab") == "home":
            team_id, user_id = workspace_key(body), str(event.get("user", ""))
            desk.publish_home(client, team_id, user_id)
            services.people.seen(team_id, user_id)  # opening the App Home can be a first use

    app.event("app_home_opened")(ack=just_ack, lazy=[home_opened])

    def user_changed(body: Payload, event: Payload) -> None:
        user = event.get("user") or {}
        tz = user.get("tz") or ""
        if tz and user.get("id"):
            key = workspace_key(body)  # an organisation (E...) under an org-wide install, else the workspace
            team_id = key if key.startswith("E") else str(user.get("team_id") or key)
            desk.set_timezone(team_id, str(user["id"]), tz)

    app.event("user_change")(ack=just_ack, lazy=[user_changed])
