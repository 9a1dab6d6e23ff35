"""/growth, the nudge buttons, the setup and reflection modals, the App Home and user_change.

Writes happen in the ack listener, so they are committed before Slack hears back; Web API calls
(views.open, views.publish, chat.update, sending) run in lazy listeners, off the ack path.
"""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.blocks import growth as rg
from bot.errors import RefusedError
from bot.growth import plans as growth
from bot.growth.commands import follow_up_for, rest_of, run_growth_command
from bot.growth.onboarding import slack_timezone
from bot.ids import ActionId, BlockId, CallbackId
from bot.services import Services
from bot.storage import people as repo
from bot.storage.models import Delivery, utcnow
from bot.team import follows as team
from handlers.payload import action_value, request_ids

logger = logging.getLogger(__name__)
SETUP_BLOCKS = {"level": BlockId.SETUP_LEVEL, "target": BlockId.SETUP_TARGET, "focus": BlockId.SETUP_FOCUS}
ANSWERS = {ActionId.NUDGE_DONE: "done", ActionId.NUDGE_SKIP: "skipped", ActionId.NUDGE_SNOOZE: "snoozed"}


def register(app: App, services: Services) -> None:
    content = services.content
    vocab = services.answers.vocab

    # --- shared helpers (closures over services) ------------------------------------------------

    def publish_home(client: WebClient, team_id: str, user_id: str) -> None:
        now = utcnow()
        with services.session_factory.begin() as session:
            person = growth.ensure_person(session, team_id, user_id)
            plan = growth.get_plan(session, person)
            deliveries = growth.deliveries_of(session, person, limit=60)
            streak = growth.streak(deliveries, growth.reflected_delivery_ids(session, person), now)
            reflections = [r.text for r in growth.reflections_of(session, person, limit=3)]
            followers, following = team.home_counts(session, person)
            view = rg.build_home(
                content, growth.view_of(plan, now) if plan else None, streak, reflections, followers, following
            )
        client.views_publish(user_id=user_id, view=view)

    def refresh_timezone(client: WebClient, team_id: str, user_id: str) -> None:
        # get_person, never ensure_person: a /growth forget that landed meanwhile must not be undone
        with services.session_factory() as session:
            person = repo.get_person(session, team_id, user_id)
            known = person.tz if person else "forgotten"
        if known:
            return
        tz = slack_timezone(client, user_id)
        if tz:
            with services.session_factory.begin() as session:
                person = repo.get_person(session, team_id, user_id, lock=True)
                if person is not None:
                    growth.set_timezone(session, person, tz)

    def open_setup(client: WebClient, trigger_id: str, team_id: str, user_id: str) -> None:
        with services.session_factory() as session:
            person = growth.ensure_person(session, team_id, user_id)
            plan = growth.get_plan(session, person)
            view = rg.build_setup_modal(content, growth.view_of(plan, utcnow()) if plan else None)
        client.views_open(trigger_id=trigger_id, view=view)

    def update_nudge_message(client: WebClient, delivery_id: int, channel: str | None, ts: str | None) -> None:
        with services.session_factory() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            prompt = content.prompt(delivery.prompt_id)
            reflected = growth.has_reflection(session, delivery_id)
            answer = delivery.answer
            channel = channel or delivery.channel_id
            ts = ts or delivery.message_ts
        if prompt is None or not channel or not ts:
            return
        message = rg.build_nudge(content, prompt, delivery_id, answer=answer or "", reflected=reflected)
        client.chat_update(channel=channel, ts=ts, text=message.text, blocks=list(message.blocks))

    # --- /growth --------------------------------------------------------------------------------

    def growth_ack(ack: Ack, command: dict) -> None:
        with services.session_factory.begin() as session:
            reply = run_growth_command(
                session, content, vocab, command.get("team_id", ""), command.get("user_id", ""), command.get("text", "")
            )
        ack(**reply.message.as_ack())

    def growth_follow_up(command: dict, client: WebClient, respond: Respond) -> None:
        team_id, user_id = command.get("team_id", ""), command.get("user_id", "")
        follow_up = follow_up_for(command.get("text", ""))
        if follow_up == "open_setup":
            open_setup(client, command.get("trigger_id", ""), team_id, user_id)
            return
        text = command.get("text", "")
        team_work = {
            "team_add": lambda: services.team.add(team_id, user_id, rest_of(text, 2)),
            "team_remove": lambda: services.team.remove(team_id, user_id, rest_of(text, 2)),
            "team_show": lambda: services.team.show(team_id, user_id, rest_of(text, 1)),
            "org": lambda: services.team.org(team_id, user_id),
        }
        if follow_up in team_work:
            message = team_work[follow_up]()
            respond(text=message.text, blocks=list(message.blocks), response_type="ephemeral", replace_original=True)
            return
        refresh_timezone(client, team_id, user_id)
        if follow_up == "send_now":
            outcome = services.clock.send_now(team_id, user_id)
            if outcome != "sent":
                respond(
                    text="I could not send your prompt just now; please try again in a minute.",
                    response_type="ephemeral",
                    replace_original=False,
                )

    app.command("/growth")(ack=growth_ack, lazy=[growth_follow_up])

    # --- nudge buttons --------------------------------------------------------------------------

    def answer_ack(ack: Ack, body: dict) -> None:
        team_id, user_id = request_ids(body)
        action_id = body["actions"][0]["action_id"]
        try:
            with services.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                growth.answer_delivery(session, person, int(action_value(body)), ANSWERS[action_id])
        except (RefusedError, ValueError) as exc:
            # not theirs, or a mangled value: nothing is recorded, and the lazy update shows nothing
            logger.info("nudge answer refused for %s: %s", user_id, exc)
        ack()

    def answer_update(body: dict, client: WebClient) -> None:
        container = body.get("container") or {}
        try:
            delivery_id = int(action_value(body))
        except ValueError:
            return
        team_id, user_id = request_ids(body)
        with services.session_factory() as session:
            delivery = session.get(Delivery, delivery_id)
            person = growth.ensure_person(session, team_id, user_id)
            if delivery is None or delivery.person_id != person.id:
                return  # not theirs: nothing changes, nothing is shown
        update_nudge_message(client, delivery_id, container.get("channel_id"), container.get("message_ts"))

    for action_id in ANSWERS:
        app.action(action_id)(ack=answer_ack, lazy=[answer_update])

    def just_ack(ack: Ack) -> None:
        ack()

    def open_reflection(body: dict, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        try:
            delivery_id = int(action_value(body))
        except ValueError:
            return
        with services.session_factory() as session:
            person = growth.ensure_person(session, team_id, user_id)
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.person_id != person.id:
                return
            prompt = content.prompt(delivery.prompt_id)
        client.views_open(
            trigger_id=body["trigger_id"], view=rg.build_reflection_modal(prompt.text if prompt else "", delivery_id)
        )

    app.action(ActionId.NUDGE_REFLECT)(ack=just_ack, lazy=[open_reflection])

    def reflection_ack(ack: Ack, body: dict, view: dict) -> None:
        team_id, user_id = request_ids(body)
        values = view.get("state", {}).get("values", {})
        text = ((values.get(BlockId.REFLECTION_TEXT) or {}).get(ActionId.REFLECTION_TEXT) or {}).get("value") or ""
        chosen = ((values.get(BlockId.REFLECTION_SHARED) or {}).get(ActionId.REFLECTION_SHARED) or {}).get(
            "selected_options"
        ) or []
        if not text.strip():
            ack(response_action="errors", errors={BlockId.REFLECTION_TEXT: "Write a few words first."})
            return
        try:
            delivery_id = int(view.get("private_metadata") or "")
        except ValueError:
            delivery_id = None
        try:
            with services.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                growth.add_reflection(session, person, delivery_id, text, shared=bool(chosen))
        except RefusedError as exc:
            ack(response_action="errors", errors={BlockId.REFLECTION_TEXT: exc.message})
            return
        ack()

    def reflection_after(body: dict, view: dict, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        try:
            delivery_id = int(view.get("private_metadata") or "")
        except ValueError:
            delivery_id = None
        if delivery_id is not None:
            update_nudge_message(client, delivery_id, None, None)
        publish_home(client, team_id, user_id)

    app.view(CallbackId.REFLECTION)(ack=reflection_ack, lazy=[reflection_after])

    # --- setup modal ----------------------------------------------------------------------------

    def setup_open(body: dict, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        open_setup(client, body["trigger_id"], team_id, user_id)

    app.action(ActionId.GROWTH_SETUP_OPEN)(ack=just_ack, lazy=[setup_open])

    def setup_ack(ack: Ack, body: dict, view: dict) -> None:
        team_id, user_id = request_ids(body)
        values = view.get("state", {}).get("values", {})

        def picked(block: str, action: str) -> str | None:
            option = ((values.get(block) or {}).get(action) or {}).get("selected_option")
            return option.get("value") if option else None

        level = picked(BlockId.SETUP_LEVEL, ActionId.SETUP_LEVEL)
        target = picked(BlockId.SETUP_TARGET, ActionId.SETUP_TARGET)
        focus = [
            o["value"]
            for o in ((values.get(BlockId.SETUP_FOCUS) or {}).get(ActionId.SETUP_FOCUS) or {}).get("selected_options")
            or []
        ]
        weekday = picked(BlockId.SETUP_WEEKDAY, ActionId.SETUP_WEEKDAY)
        hhmm = ((values.get(BlockId.SETUP_TIME) or {}).get(ActionId.SETUP_TIME) or {}).get("selected_time")
        levels = {lv.id for lv in content.levels}
        errors = {}
        if level not in levels:
            errors[BlockId.SETUP_LEVEL] = "Pick your level."
        if target is not None and target not in levels:
            errors[BlockId.SETUP_TARGET] = "Pick a level from the list."
        if not focus:
            errors[BlockId.SETUP_FOCUS] = "Pick one to three areas."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        try:
            with services.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                growth.save_plan(
                    session,
                    content,
                    person,
                    level=level,
                    target=target,
                    focus=focus,
                    weekday=int(weekday) if weekday and weekday.isdigit() else None,
                    local_time=hhmm if hhmm and len(hhmm) == 5 else None,
                )
        except RefusedError as exc:
            block = SETUP_BLOCKS.get(exc.field or "", BlockId.SETUP_FOCUS)
            ack(response_action="errors", errors={block: exc.message})
            return
        ack()

    def setup_after(body: dict, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        refresh_timezone(client, team_id, user_id)
        publish_home(client, team_id, user_id)

    app.view(CallbackId.GROWTH_SETUP)(ack=setup_ack, lazy=[setup_after])

    # --- App Home buttons and forget ------------------------------------------------------------

    def pause_resume_ack(ack: Ack, body: dict) -> None:
        team_id, user_id = request_ids(body)
        action_id = body["actions"][0]["action_id"]
        try:
            with services.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                if action_id == ActionId.GROWTH_PAUSE:
                    growth.pause(session, person, max(1, min(52, int(action_value(body) or 1))))
                else:
                    growth.resume(session, person)
        except (RefusedError, ValueError) as exc:
            logger.info("pause/resume refused for %s: %s", user_id, exc)
        ack()

    def refresh_home(body: dict, client: WebClient) -> None:
        team_id, user_id = request_ids(body)
        publish_home(client, team_id, user_id)

    app.action(ActionId.GROWTH_PAUSE)(ack=pause_resume_ack, lazy=[refresh_home])
    app.action(ActionId.GROWTH_RESUME)(ack=pause_resume_ack, lazy=[refresh_home])

    def forget_ack(ack: Ack, body: dict) -> None:
        team_id, user_id = request_ids(body)
        with services.session_factory.begin() as session:
            growth.forget(session, team_id, user_id)
        services.people.forget(team_id, user_id)
        ack()

    def forget_done(respond: Respond) -> None:
        respond(text="Done: everything ladderbot stored about you is deleted.", replace_original=True)

    def forget_cancelled(respond: Respond) -> None:
        respond(text="Nothing was deleted.", replace_original=True)

    app.action(ActionId.GROWTH_FORGET_CONFIRM)(ack=forget_ack, lazy=[forget_done])
    app.action(ActionId.GROWTH_FORGET_CANCEL)(ack=just_ack, lazy=[forget_cancelled])

    # --- events ---------------------------------------------------------------------------------

    def home_opened(body: dict, event: dict, client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        team_id = body.get("team_id") or ""
        publish_home(client, team_id, event.get("user", ""))

    app.event("app_home_opened")(ack=just_ack, lazy=[home_opened])

    def user_changed(body: dict, event: dict) -> None:
        user = event.get("user") or {}
        tz = user.get("tz") or ""
        team_id = user.get("team_id") or body.get("team_id") or ""
        if not tz or not user.get("id"):
            return
        with services.session_factory.begin() as session:
            person = repo.get_person(session, team_id, user["id"], lock=True)
            if person is not None:
                growth.set_timezone(session, person, tz)

    app.event("user_change")(ack=just_ack, lazy=[user_changed])
