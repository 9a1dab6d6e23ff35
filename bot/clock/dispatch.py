"""Handing claimed nudges to the send pool at Slack's pace, fairly across workspaces.

Each workspace budget (bot.clock.pacing) has its own line of claimed sends. The dispatcher visits the lines
in turn, one send per line per round, and hands a send to the pool only when its workspace's next
chat.postMessage may go: it takes that token itself (the send thread then posts on the credit, never
waiting). A line whose bucket is empty or paused by a 429 is skipped, so one large or rate-limited
workspace never holds back the others, and a send thread never sleeps on a bucket. A send that comes back
paced (a 429, or a Tier 3 call of the recovery path that must wait) waits in `delayed` and then goes back to
the front of its line: it uses no attempt and is never a failure.

A workspace paused for longer than MAX_HOLD (a 429's long Retry-After) is not waited for: its whole line,
delayed sends included, is given back (`given_back`), for the job to release unsent to a later pass, so the
pass ends as soon as the other workspaces are done.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator

from bot.clock.nudge_sender import ClaimedNudge
from bot.clock.pacing import MAX_HOLD, POST_MESSAGE, Pacer


def post_channel(item: ClaimedNudge) -> str:
    """Where the nudge is posted: the stored DM channel, else the user id (Slack answers with the DM)."""
    return item.dm_channel_id or item.user_id


class Dispatcher:
    """The lines of claimed sends, per workspace budget, and the sends put back for a while."""

    def __init__(self, pacer: Pacer, budget_of: Callable[[str], str], *, slots: int):
        self.pacer = pacer
        self.budget_of = budget_of  # team id -> budget key
        self.slots = slots
        self.in_flight = 0
        self._lines: dict[str, deque[ClaimedNudge]] = {}
        self._delayed: list[tuple[float, int, ClaimedNudge]] = []
        self._seq = itertools.count()
        self._turn = itertools.count()
        self._sending: dict[str, int] = {}  # budget -> sends handed out and not back yet
        self._next_ready = 0.0  # monotonic time the earliest skipped line's bucket refills
        self._given_back: list[tuple[list[ClaimedNudge], float]] = []  # lines of paused workspaces, pause left

    def add(self, items: list[ClaimedNudge]) -> None:
        for item in items:
            self._lines.setdefault(self.budget_of(item.team_id), deque()).append(item)

    def put_back(self, item: ClaimedNudge, delay: float) -> None:
        """A send that came back paced: back to the front of its line after `delay` seconds."""
        heapq.heappush(self._delayed, (time.monotonic() + delay, next(self._seq), item))

    def done(self, item: ClaimedNudge) -> None:
        """One handed-out send came back (with any outcome)."""
        self.in_flight -= 1
        budget = self.budget_of(item.team_id)
        self._sending[budget] -= 1
        if not self._sending[budget]:
            del self._sending[budget]

    def queued(self, budget: str) -> int:
        return len(self._lines.get(budget, ())) + sum(
            1 for _, _, i in self._delayed if self.budget_of(i.team_id) == budget
        )

    def budgets(self) -> set[str]:
        """The budgets with sends queued, delayed or being sent."""
        queued = {b for b, line in self._lines.items() if line}
        return queued | set(self._sending) | {self.budget_of(i.team_id) for _, _, i in self._delayed}

    def take_unsent(self) -> list[ClaimedNudge]:
        """Every send still queued, delayed or given back and not yet taken, taken out of the lines (a pass that
        must stop gives them back)."""
        unsent = [item for line in self._lines.values() for item in line] + [i for _, _, i in self._delayed]
        unsent += [item for items, _ in self.given_back() for item in items]
        self._lines.clear()
        self._delayed.clear()
        return unsent

    def given_back(self) -> list[tuple[list[ClaimedNudge], float]]:
        """The lines given back since the last call (their workspace paused long), each with the seconds its
        pause has left: to be released unsent for a later pass."""
        lines, self._given_back = self._given_back, []
        return lines

    def _give_back(self, budget: str, pause: float) -> None:
        """Take the budget's line and its delayed sends out: nothing of it goes in this pass."""
        items = list(self._lines.pop(budget, ()))
        delayed = [entry for entry in self._delayed if self.budget_of(entry[2].team_id) == budget]
        if delayed:
            self._delayed = [entry for entry in self._delayed if self.budget_of(entry[2].team_id) != budget]
            heapq.heapify(self._delayed)
            items += [item for _, _, item in delayed]
        if items:
            self._given_back.append((items, pause))

    @property
    def empty(self) -> bool:
        """Nothing queued, delayed or in flight."""
        return self.in_flight == 0 and not self._delayed and not any(self._lines.values())

    def ready(self) -> Iterator[ClaimedNudge]:
        """The sends to hand to the pool now, with their post's token taken: one per line per round, in
        turn, while slots are free."""
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, item = heapq.heappop(self._delayed)
            self._lines.setdefault(self.budget_of(item.team_id), deque()).appendleft(item)
        self._next_ready = min((at for at, _, _ in self._delayed[:1]), default=now + 1.0)
        # the lines in turn, starting one further each time, so none is always first when send threads are scarce
        order = [budget for budget, line in self._lines.items() if line]
        if order:
            start = next(self._turn) % len(order)
            order = order[start:] + order[:start]
        waiting = dict.fromkeys(order)
        while waiting and self.in_flight < self.slots:
            for budget in list(waiting):
                if self.in_flight >= self.slots:
                    break
                line = self._lines[budget]
                wait = self.pacer.take(budget, POST_MESSAGE, post_channel(line[0]))
                if wait > 0:
                    del waiting[budget]
                    pause = self.pacer.pause(budget) if wait > MAX_HOLD else 0.0
                    if pause > MAX_HOLD:  # the workspace, not only this send's channel: none of it goes now
                        self._give_back(budget, pause)
                    else:
                        self._next_ready = min(self._next_ready, now + wait)
                    continue
                self.in_flight += 1
                yield line.popleft()
                self._sending[budget] = self._sending.get(budget, 0) + 1
                if not line:
                    del waiting[budget]
        # drop emptied lines so the rounds stay short with many workspaces
        for budget in [b for b, line in self._lines.items() if not line]:
            del self._lines[budget]

    def next_wake(self) -> float:
        """Seconds until a skipped line or a delayed send may be ready (at least a millisecond)."""
        return max(0.001, self._next_ready - time.monotonic())
