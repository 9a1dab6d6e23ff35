"""What one clock pass did: a counter per outcome, filled in by each job."""

from __future__ import annotations

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
    reminders: int = 0
    digests_scheduled: int = 0
    digests_sent: int = 0
    digests_failed: int = 0  # failed or to be retried
    would_send: list[tuple[str, str, str]] = field(default_factory=list)  # dry run: (user, week, prompt)

    def count(self, outcome: str) -> None:
        """One more of `outcome` (a weekly nudge's: sent, recovered, retrying, failed, missed or lost)."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def busy(self) -> bool:
        """Whether the pass did anything worth a log line."""
        return bool(self.scheduled or self.sent or self.failed or self.retrying or self.digests_scheduled)
