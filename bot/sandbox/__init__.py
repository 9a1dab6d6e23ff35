"""The local sandbox: try ladderbot in a browser with no Slack workspace (issue 12).

- render: Block Kit to HTML (messages, modals, the App Home), pure functions, tested without a browser
- mrkdwn: Slack's mrkdwn to safe HTML; emoji: the shortcode table both use
- server: `start` runs the real bot (build_services, create_app, LadderbotWSGI) against the fake Slack in this
  process, with a fresh SQLite file, and serves the page (static/), its API and the bot on one loopback port
- api: what the page asks (a person's conversation, modal and Home tab; their commands, messages, message
  shortcuts, clicks, submissions and time jumps) and how Slack's client would apply the bot's answers
- payloads: slash commands, block_actions, message shortcuts (message_action), view_submission, view_closed
  and events, shaped and signed as Slack's; botlink posts them to the bot's /slack/events
- timecontrol: the sandbox's time, the clock's pass run at a chosen moment, and the sandbox time of each message
- workspace, demo: the demo workspace's people, and their year of plans, nudges, reflections, wins and follows

The renderers import only the standard library and bot.blocks.kit: no I/O, no Slack client, no database.
The rest sits above the wiring (bot.app, bot.web, bot.testing) in the layers: only the CLI imports it.
"""
