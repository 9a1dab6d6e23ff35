"""Followers and their teams: who follows whom and with whose consent, what a follower may see.

- follows: invitations, answers, leaving and removing, followers_of, the export of one's own relations
- summary: the queries behind /growth team and the digest, and the pure `summarise(rows, now, content)`
- org: /growth org's workspace counts, with small groups folded
- digest_plans: a follower's weekly digest setting
- mentions: people named in command text, resolved through Slack's directory
- desk, invitations: the Web API side (lookups, invitation DMs, answering clicks), off the ack
- commands: the team's entries of the /growth command table

May import bot.growth, bot.content, bot.blocks, bot.storage, bot.errors and the basics (config, ids,
schedule). Never bot.clock, bot.services or handlers; growth never imports team.
"""
