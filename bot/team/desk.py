"""The parts of the team commands that need Slack's Web API: resolving names, DMing invitations and
checking who is an admin. Runs in lazy listeners, off the ack. The invitation buttons are answered by
`invitations` (bot.team.invitations)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import team as rt
from bot.blocks.kit import Message
from bot.config import Settings
from bot.content.records import Content
from bot.errors import InvalidMention
from bot.storage import people as repo
from bot.team import follows
from bot.team.invitations import InvitationDesk
from bot.team.mentions import Directory, parse_mentions, resolve
from bot.team.org import org_summary
from bot.team.summary import team_summary

logger = logging.getLogger(__name__)

OUTCOME_LINES = {
    "asked": "Asked {who}. They'll show on `/growth team` once they accept.",
    "already_following": "You already follow {who}.",
    "already_asked": "You already asked {who}; they haven't answered yet.",
    "declined_recently": "{who} declined recently; you can ask again in a week.",
}


class TeamDesk:
    """/growth team add, remove and @name, and /growth org, answered off the ack."""

    def __init__(self, session_factory: sessionmaker[Session], client: WebClient, content: Content, settings: Settings):
        self.session_factory = session_factory
        self.client = client
        self.content = content
        self.settings = settings
        self.directory = Directory(client)
        self.invitations = InvitationDesk(session_factory, client)

    def _people(self, team_id: str, user_id: str, text: str) -> tuple[list[str], list[str]]:
        """(user ids, problem lines) for the people named in `text`."""
        try:
            mentions = parse_mentions(text)
        except InvalidMention as refusal:
            return [], [refusal.message]
        if not mentions:
            return [], ["Name someone, like `/growth team add @alice @bob`."]
        try:
            found = resolve(mentions, self.directory, team_id, user_id)
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("could not look people up: %s", exc)
            return [], ["I couldn't reach Slack to look those names up; please try again in a minute."]
        return [p.id for p in found.people], list(found.problems)

    def add(self, team_id: str, user_id: str, text: str) -> Message:
        user_ids, lines = self._people(team_id, user_id, text)
        if user_ids:
            with self.session_factory.begin() as session:  # recorded before anyone is asked
                outcomes = follows.invite(session, team_id, user_id, user_ids)
            for outcome in outcomes:
                if outcome.outcome == "asked" and outcome.follow_id is not None:
                    if not self._send_invite(user_id, outcome.user_id, outcome.follow_id):
                        lines.append(f"I couldn't DM <@{outcome.user_id}>; ask again later.")
                        continue
                lines.append(OUTCOME_LINES[outcome.outcome].format(who=f"<@{outcome.user_id}>"))
        return rt.build_lines("Team invitations", lines)

    def _send_invite(self, follower: str, report: str, follow_id: int) -> bool:
        message = rt.build_invite(follower, follow_id)
        try:
            # by user id: Slack posts to the app's DM and answers with its channel, recorded with the ts below
            response = self.client.chat_postMessage(channel=report, text=message.text, blocks=list(message.blocks))
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("invitation %s could not be sent: %s", follow_id, exc)
            with self.session_factory.begin() as session:
                follows.withdraw_unsent(session, follow_id)
            return False
        with self.session_factory.begin() as session:
            follows.record_invite_message(session, follow_id, response["channel"], response["ts"])
        return True

    def remove(self, team_id: str, user_id: str, text: str) -> Message:
        user_ids, lines = self._people(team_id, user_id, text)
        if user_ids:
            with self.session_factory.begin() as session:
                removed = follows.remove(session, team_id, user_id, user_ids)
            lines += [f"You no longer follow <@{u}>." for u in removed]
            lines += [f"You weren't following <@{u}>." for u in user_ids if u not in removed]
        return rt.build_lines("Team changes", lines)

    def show(self, team_id: str, user_id: str, text: str) -> Message:
        user_ids, lines = self._people(team_id, user_id, text)
        if len(user_ids) != 1:
            return rt.build_lines("Team", lines or ["Name one person, like `/growth team @alice`."])
        return self.summary_of(team_id, user_id, user_ids[0])

    def summary_of(self, team_id: str, user_id: str, report: str) -> Message:
        with self.session_factory() as session:
            summary = team_summary(session, self.content, team_id, user_id, only=report)
            person = repo.get_person(session, team_id, user_id)
            tz = (person.tz if person else None) or "UTC"
        if not summary.reports:
            return rt.build_text(
                f"<@{report}> has not agreed to share their growth with you, so there is nothing to show. "
                "Ask them with `/growth team add`."
            )
        return rt.build_team_summary(self.content, summary, tz, title="Growth")

    def is_admin(self, team_id: str, user_id: str) -> bool:
        if user_id in self.settings.admin_user_ids:
            return True
        user = self.directory.user(user_id)
        return bool(user and user.is_admin and (not user.team_id or user.team_id == team_id))

    def org(self, team_id: str, user_id: str) -> Message:
        try:
            admin = self.is_admin(team_id, user_id)
        except (SlackApiError, SlackClientError):
            return rt.build_text("I couldn't reach Slack to check that you are an admin; please try again.")
        if not admin:
            return rt.build_text(
                "`/growth org` is for workspace admins. Ask one of them, or follow people who accept "
                "with `/growth team add`."
            )
        with self.session_factory() as session:
            return rt.build_org(self.content, org_summary(session, team_id))
