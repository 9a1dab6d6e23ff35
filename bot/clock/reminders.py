"""The "Remind me tomorrow" job: one step of every clock pass.

The reverse of the weekly nudge: a reminder is claimed by marking it sent before the DM goes, so a crash
in between loses it rather than sending it twice. At most once, never twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.growth import build_nudge
from bot.clock.outbox import new_claim_token, sending_rows, stamp
from bot.clock.pacing import Paced, SlackSenders, retry_after
from bot.clock.report import PassReport
from bot.content.records import Content
from bot.storage.models import Delivery, Person, Workspace

logger = logging.getLogger(__name__)


def reminder_due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A delivery owes its reminder at `now`: snoozed until then, and not reminded yet."""
    return Delivery.remind_at <= now, Delivery.reminded_at.is_(None)


class ReminderJob:
    def __init__(
        self, session_factory: sessionmaker[Session], senders: SlackSenders, content: Content, *, batch_size: int
    ):
        self.session_factory = session_factory
        self.senders = senders
        self.content = content
        self.batch_size = batch_size

    def _any_due(self, now: datetime) -> bool:
        """Whether any reminder may be due: one look on the remind_at index. Most passes owe none, and then no
        claim is made (on SQLite a claim takes the writer lock, and with many people its check of who may be
        sent to took 70 ms a pass)."""
        with self.session_factory() as session:
            return session.execute(select(Delivery.id).where(*reminder_due(now)).limit(1)).first() is not None

    def run(self, now: datetime, report: PassReport) -> None:
        if not self._any_due(now):
            return
        token = new_claim_token()
        eligible = select(Delivery.id).where(*reminder_due(now), sending_rows(Delivery)).limit(self.batch_size)
        with self.session_factory.begin() as session:
            # claiming marks the reminder as sent: a reminder is at most once, never twice
            stamp(session, Delivery, eligible, reminded_at=now, claim_token=token)
            rows = session.execute(
                select(Delivery.id, Delivery.prompt_id, Person.dm_channel_id, Person.user_id, Workspace.team_id)
                .join(Person, Person.id == Delivery.person_id)
                .join(Workspace, Workspace.id == Person.workspace_id)
                .where(Delivery.claim_token == token)
            ).all()
        for delivery_id, prompt_id, dm_channel_id, user_id, team_id in rows:
            prompt = self.content.prompt(prompt_id)
            if prompt is None:
                continue
            message = build_nudge(self.content, prompt, delivery_id, reminder=True)
            try:
                # a waiting client: it takes its turn at the pacer and sends again after a 429 itself
                self.senders.waiting(team_id).chat_postMessage(
                    channel=dm_channel_id or user_id, text=message.text, blocks=list(message.blocks)
                )
                report.reminders += 1
            except Paced:  # waited its turn as long as allowed: nothing was posted, so the next pass tries again
                self._unclaim(delivery_id, token)
            except SlackApiError as exc:
                if retry_after(exc) is not None:  # 429s beyond what the waiting client waits out: likewise
                    self._unclaim(delivery_id, token)
                else:
                    logger.warning("reminder for delivery %s failed: %s", delivery_id, exc)
            except (SlackClientError, OSError) as exc:
                logger.warning("reminder for delivery %s failed: %s", delivery_id, exc)

    def _unclaim(self, delivery_id: int, token: str) -> None:
        """The reminder was not posted for want of Slack's budget: due again, for the next pass."""
        with self.session_factory.begin() as session:
            mine = (Delivery.id == delivery_id, Delivery.claim_token == token)
            session.execute(update(Delivery).where(*mine).values(reminded_at=None))
