"""Invitation buttons (Accept / Decline) and "Stop sharing" from /growth managers.

The ack listener writes the answer; the lazy listener updates the DM in place and tells the follower
about an acceptance (once). A click by anyone but the invited person changes nothing.
"""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.blocks import team as rt
from bot.growth import plans as growth
from bot.ids import ActionId
from bot.services import Services
from bot.team import follows as team
from handlers.payload import action_value, request_ids


def _follow_id(body: dict) -> int | None:
    value = action_value(body)
    return int(value) if value.isdigit() else None


def register(app: App, services: Services) -> None:
    def answer_ack(ack: Ack, body: dict) -> None:
        team_id, user_id = request_ids(body)
        follow_id = _follow_id(body)
        accept = body["actions"][0]["action_id"] == ActionId.FOLLOW_ACCEPT
        if follow_id is not None:
            try:
                with services.session_factory.begin() as session:
                    team.answer_invite(session, team_id, user_id, follow_id, accept)
            except growth.GrowthError:
                pass  # not theirs, or answered before: the lazy listener says so
        ack()

    def answer_after(body: dict, client: WebClient, respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        follow_id = _follow_id(body)
        with services.session_factory.begin() as session:
            follow = team.follow_for_report(session, team_id, user_id, follow_id) if follow_id else None
            tell = follow is not None and team.claim_follower_notice(session, follow.follow_id)
        if follow is None:
            respond(text="That invitation is not for you.", response_type="ephemeral", replace_original=False)
            return
        update_invite(client, follow, body)
        if tell:
            services.team.tell_follower(follow.follower, follow.report)

    def update_invite(client: WebClient, follow: team.FollowView, body: dict | None = None) -> None:
        container = (body or {}).get("container") or {}
        channel = follow.channel or container.get("channel_id")
        ts = follow.ts or container.get("message_ts")
        if not channel or not ts:
            return
        message = rt.build_invite(follow.follower, follow.follow_id, answered=follow.status)
        client.chat_update(channel=channel, ts=ts, text=message.text, blocks=list(message.blocks))

    app.action(ActionId.FOLLOW_ACCEPT)(ack=answer_ack, lazy=[answer_after])
    app.action(ActionId.FOLLOW_DECLINE)(ack=answer_ack, lazy=[answer_after])

    def leave_ack(ack: Ack, body: dict) -> None:
        team_id, user_id = request_ids(body)
        follow_id = _follow_id(body)
        if follow_id is not None:
            try:
                with services.session_factory.begin() as session:
                    team.leave(session, team_id, user_id, follow_id)
            except growth.GrowthError:
                pass
        ack()

    def leave_after(body: dict, client: WebClient, respond: Respond) -> None:
        team_id, user_id = request_ids(body)
        follow_id = _follow_id(body)
        with services.session_factory() as session:
            follow = team.follow_for_report(session, team_id, user_id, follow_id) if follow_id else None
            followers = team.followers_of(session, team_id, user_id)
        if follow is None:
            respond(text="That is not yours to change.", response_type="ephemeral", replace_original=False)
            return
        message = rt.build_followers([(f.follow_id, f.follower, f.status) for f in followers])
        respond(text=message.text, blocks=list(message.blocks), replace_original=True)
        update_invite(client, follow)

    app.action(ActionId.FOLLOW_LEAVE)(ack=leave_ack, lazy=[leave_after])
