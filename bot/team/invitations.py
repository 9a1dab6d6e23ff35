"""The invitation buttons: Accept and Decline in the invitation DM, and Stop sharing (or Decline) in
/growth managers.

The answer is written before the ack, so a click is never lost; the invitation DM is updated in place,
the follower told about an acceptance (once, across processes) and the list redrawn off the ack. Only
the invited person can change a follow: anyone else's click changes nothing and gets NotYours (or
NotFound for a follow that does not exist).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import team as rt
from bot.blocks.kit import Message
from bot.errors import NotFound, RefusedError
from bot.ids import whole_number
from bot.team import follows
from bot.team.follows import NOT_YOUR_INVITATION, NOT_YOURS_TO_CHANGE, FollowView

logger = logging.getLogger(__name__)


def follow_id_of(value: str, refusal: str) -> int:
    """The follow id a button carries; NotFound with `refusal` for anything else."""
    follow_id = whole_number(value)
    if follow_id is None:
        raise NotFound(refusal)
    return follow_id


class InvitationDesk:
    def __init__(self, session_factory: sessionmaker[Session], client: WebClient) -> None:
        self.session_factory = session_factory
        self.client = client

    def answer(self, team_id: str, user_id: str, value: str, accept: bool) -> None:
        """Accept or Decline, before the ack. A refusal is only logged here: `after_answer` tells the
        person, since the ack itself carries no message."""
        try:
            follow_id = follow_id_of(value, NOT_YOUR_INVITATION)
            with self.session_factory.begin() as session:
                follows.answer_invite(session, team_id, user_id, follow_id, accept)
        except RefusedError as refusal:
            logger.info("invitation answer %r by %s refused: %s", value, user_id, refusal)

    def after_answer(self, team_id: str, user_id: str, value: str, shown_in: tuple[str, str] | None) -> None:
        """Shows the answer in the invitation DM (`shown_in`, the clicked message, when the follow has
        none recorded) and tells the follower about an acceptance. NotYours for anyone but the invited."""
        follow_id = follow_id_of(value, NOT_YOUR_INVITATION)
        with self.session_factory.begin() as session:
            follow = follows.follow_for_report(session, team_id, user_id, follow_id)
            tell = follows.claim_follower_notice(session, follow.follow_id)
        self._update_invite(follow, shown_in)
        if tell:
            self.tell_follower(follow.follower, follow.report)

    def leave(self, team_id: str, user_id: str, value: str) -> None:
        """Stop sharing (or decline a pending invitation), before the ack; `after_leave` tells a refusal."""
        try:
            follow_id = follow_id_of(value, NOT_YOURS_TO_CHANGE)
            with self.session_factory.begin() as session:
                follows.leave(session, team_id, user_id, follow_id)
        except RefusedError as refusal:
            logger.info("stop sharing %r by %s refused: %s", value, user_id, refusal)

    def after_leave(self, team_id: str, user_id: str, value: str) -> Message:
        """The redrawn /growth managers list; the invitation DM shows the follow has ended. NotYours for
        anyone else's follow."""
        follow_id = follow_id_of(value, NOT_YOURS_TO_CHANGE)
        with self.session_factory() as session:
            follow = follows.follow_for_report(session, team_id, user_id, follow_id, NOT_YOURS_TO_CHANGE)
            followers = follows.followers_of(session, team_id, user_id)
        self._update_invite(follow, None)
        return rt.build_followers([(f.follow_id, f.follower, f.status) for f in followers])

    def _update_invite(self, follow: FollowView, shown_in: tuple[str, str] | None) -> None:
        shown_channel, shown_ts = shown_in or (None, None)
        channel, ts = follow.channel or shown_channel, follow.ts or shown_ts
        if not channel or not ts:
            return
        message = rt.build_invite(follow.follower, follow.follow_id, answered=follow.status)
        try:
            self.client.chat_update(channel=channel, ts=ts, text=message.text, blocks=list(message.blocks))
        except (SlackApiError, SlackClientError) as exc:  # the answer is recorded; only its display is stale
            logger.warning("invitation %s could not be updated: %s", follow.follow_id, exc)

    def tell_follower(self, follower: str, report: str) -> None:
        """A short DM to the follower when someone accepts (a decline is not announced)."""
        try:
            self.client.chat_postMessage(
                channel=follower,  # a user id: Slack posts to the app's DM, no conversations.open needed
                text=f"<@{report}> accepted: they now show on `/growth team`.",
            )
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("could not tell %s about an accepted invitation: %s", follower, exc)
