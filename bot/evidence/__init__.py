"""The evidence log and the promotion packet: wins and saved Slack messages mapped to the ladder.

- expectations: what a target level expects (its behaviour dimensions' points and its growth areas), keyed
- suggest: an explainable scorer, built from the ladder content, that ranks expectations for a text
- store: the evidence queries (functions take a Session and never commit), the export section, counts
- packet: the promotion packet as plain data, then as Markdown and as PDF (fpdf2)
- commands: the `/growth evidence` and `/growth packet` entries of the /growth table
- desk: the Web API side (the save modal from the message shortcut, the packet upload, sharing) off the ack

Evidence is private to its author: every read starts from the asker's own Person row, and a packet goes
to someone else only when its author clicks Share for a follower who accepted, in the same workspace.
May import bot.team (who follows whom), bot.growth, bot.blocks, bot.storage, bot.content, bot.errors,
the basics, sqlalchemy, slack_sdk and fpdf. Never bot.clock, bot.services or handlers.
"""
