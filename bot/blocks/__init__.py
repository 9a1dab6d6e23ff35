"""Pure Block Kit builders: plain values and content records in, a Message or a view dict out.

- kit: the primitives, the Message value and Slack's limits (message_problems, blocks_problems)
- ladder, interview: the /ladder and /interview answers; preview: the text preview in the CLI
- growth: the nudge DM, the plan, history, export, the App Home and the modals
- team: /growth team, the followers list, invitations, the org counts and the digest; chart: its PNG

May import bot.content, bot.ids, bot.schedule and the standard library (the chart also matplotlib).
Never a Session, a model, a WebClient or Bolt (an import-linter contract checks it), and no feature.
"""
