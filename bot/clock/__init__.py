"""The clock: everything the bot sends on its own, on time, exactly once.

- outbox: the machinery every job shares: claim tokens (stamp, claim) held under a `Lease` the pass renews
  while alive, backoff, the look in a DM's history before a resend, the errors that will not pass.
- nudges (with nudge_sender): the weekly nudge job; reminders: "Remind me tomorrow"; digests: the
  weekly team digest.
- scheduler: `Clock`, the pass that runs each job (also as a dry run, and `send_now` for /growth now),
  and `start_scheduler` (APScheduler, one pass a minute).
- report: `PassReport`, what a pass did.
- pacing: the process's `Pacer` (token buckets per workspace, method tier and channel, learned limits) and
  the paced clients every send goes through (`SlackSenders`); dispatch: handing nudges to the send pool at
  that pace, fairly across workspaces; shares: several clocks splitting one workspace's budget.
- sorting: after `team_access_revoked` (recorded by bot.install), each pass first looks up an org-wide
  install's people to find who is still served; those not yet looked up are held.

The clock may import bot.team, bot.growth, bot.content, bot.blocks, bot.storage and the basics (config,
schedule...). Only bot.cli and bot.services import the clock; they use what this package exports.
"""

from bot.clock.pacing import Pacer, SlackRates, SlackSenders
from bot.clock.report import PassReport
from bot.clock.scheduler import Clock, start_scheduler

__all__ = ["Clock", "Pacer", "PassReport", "SlackRates", "SlackSenders", "start_scheduler"]
