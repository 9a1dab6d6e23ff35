"""Several clocks, one budget: each clock that is sending for a workspace keeps a row in `send_shares`
renewed every HEARTBEAT, and paces itself at 1/N of the workspace's limits, N being the rows seen within
STALE. Works the same on PostgreSQL and SQLite; the cost is one small transaction per HEARTBEAT while sending.

A clock that joins a workspace others are already sending for waits two and a half HEARTBEATs (and starts with no saved
burst) before its first send, so the others have read the new count and slowed down by then; when a clock
leaves, the others speed up a HEARTBEAT later: under the workspace's rate, not over. A clock that dies leaves a
row that stops counting after STALE and is deleted an hour later. `seen_at` is each host's own UTC clock: hosts
whose clocks differ by more than a second or two count each other late or early.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock.pacing import Pacer
from bot.storage.models import SendShare, utcnow
from bot.storage.upsert import insert_for

logger = logging.getLogger(__name__)

HEARTBEAT = 1.0  # seconds between renewals while sending
STALE = 5.0  # seconds after its last renewal that a clock stops counting
FORGOTTEN = timedelta(hours=1)  # rows of clocks that died are deleted this long after their last renewal


class SendShares:
    """One clock's rows in `send_shares`, and the shares it sets on its Pacer from them."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        pacer: Pacer,
        *,
        heartbeat: float = HEARTBEAT,
        stale: float = STALE,
    ):
        self.session_factory = session_factory
        self.pacer = pacer
        self.clock_id = uuid.uuid4().hex
        self.heartbeat = heartbeat
        self.stale = stale
        self._active: set[str] = set()
        self._last_beat = -float("inf")

    def sending(self, budgets: set[str]) -> None:
        """The workspace budgets this clock has sends queued for now; renews its rows at most every HEARTBEAT
        (sooner when a budget joins), drops the rows of budgets it has finished, and sets the Pacer's shares."""
        joined = budgets - self._active
        if not joined and budgets == self._active and time.monotonic() - self._last_beat < self.heartbeat:
            return
        counts = self._beat(budgets, gone=self._active - budgets)
        if counts is None:
            return  # the database was busy: keep the shares we have, try again next time
        self._active = set(budgets)
        self._last_beat = time.monotonic()
        for budget in budgets:
            clocks = counts.get(budget, 1)
            if budget in joined and clocks > 1:
                # let the others see us before we take our part: they look every heartbeat, between sends
                self.pacer.hold(budget, 2.5 * self.heartbeat)
            self.pacer.set_share(budget, clocks)

    def leave(self) -> None:
        """Drop every row of this clock (the end of a pass): the others take the whole budget again."""
        if self._active:
            self._beat(set(), gone=self._active)
            self._active = set()

    def _beat(self, budgets: set[str], gone: set[str]) -> dict[str, int] | None:
        now = utcnow()
        try:
            with self.session_factory.begin() as session:
                if gone:
                    session.execute(
                        delete(SendShare).where(SendShare.clock_id == self.clock_id, SendShare.team_id.in_(gone))
                    )
                if budgets - self._active:  # joining: sweep the rows of clocks that died long ago
                    session.execute(delete(SendShare).where(SendShare.seen_at < now - FORGOTTEN))
                if not budgets:
                    return {}
                rows = [{"team_id": b, "clock_id": self.clock_id, "seen_at": now} for b in sorted(budgets)]
                statement = insert_for(session, SendShare)
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["team_id", "clock_id"], set_={"seen_at": statement.excluded.seen_at}
                    ),
                    rows,
                )
                counted = session.execute(
                    select(SendShare.team_id, func.count())
                    .where(SendShare.team_id.in_(budgets), SendShare.seen_at >= now - timedelta(seconds=self.stale))
                    .group_by(SendShare.team_id)
                ).all()
                return {team: int(count) for team, count in counted}
        except SQLAlchemyError as exc:
            logger.warning("could not renew the clock's send shares: %s", exc)
            return None
