"""What one clock pass did: a counter per outcome, filled in by each job."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class PassReport:
    scheduled: int = 0
    missed: int = 0
    sent: int = 0
    recovered: int = 0  # stale claims found already delivered in Slack
    retrying: int = 0
    failed: int = 0
    lost: int = 0  # claims another clock took before the send (never expected while this clock is alive)
    paced: int = 0  # sends put back in line (a 429, or a recovery call held back by the pacer): not failures
    rate_limited: int = 0  # of those, the 429s Slack answered
    given_back: int = 0  # claimed nudges released unsent for a later pass: Slack asked for a long wait
    reminders: int = 0
    digests_scheduled: int = 0
    digests_sent: int = 0
    digests_failed: int = 0  # failed or to be retried
    digests_missed: int = 0  # found too late to send (the clock was down for days): recorded as missed, not sent
    would_send: list[tuple[str, str, str]] = field(default_factory=list)  # dry run: (user, week, prompt)
    # seconds between each nudge's due time and its post, in the pass's frame (its `now` plus the time since)
    lateness: list[float] = field(default_factory=list, repr=False)

    def count(self, outcome: str) -> None:
        """One more of `outcome` (a weekly nudge's: sent, recovered, retrying, failed, missed or lost)."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def busy(self) -> bool:
        """Whether the pass did anything worth a log line."""
        return bool(
            self.scheduled or self.sent or self.failed or self.retrying or self.digests_scheduled or self.digests_missed
        )

    def late(self, percent: float) -> float | None:
        """The nearest-rank percentile of the sent nudges' lateness in seconds (100: the latest); None if none."""
        if not self.lateness:
            return None
        ordered = sorted(self.lateness)
        return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]

    def lateness_text(self) -> str:
        """'lateness p50 12.0s, p99 1150.3s, max 1190.8s (1000 nudges)', or that nothing was sent."""
        if not self.lateness:
            return "lateness: no nudges sent"
        p50, p99, worst = self.late(50), self.late(99), self.late(100)
        return f"lateness p50 {p50:.1f}s, p99 {p99:.1f}s, max {worst:.1f}s ({len(self.lateness)} nudges)"
