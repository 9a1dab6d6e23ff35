"""The local sandbox: try ladderbot in a browser with no Slack workspace (issue 12).

- render: Block Kit to HTML (messages, modals, the App Home), pure functions, tested without a browser
- mrkdwn: Slack's mrkdwn to safe HTML; emoji: the shortcode table both use

The renderers import only the standard library and bot.blocks.kit: no I/O, no Slack client, no database.
"""
