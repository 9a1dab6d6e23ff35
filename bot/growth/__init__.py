"""The weekly growth nudge for one person: their plan, the /growth command table, the prompts.

- table: the command-table mechanism (Subcommand, CommandTable: longest match, one parse per
  request, generated help and did-you-mean), Reply and the follow-up types
- commands: growth's own /growth entries and GrowthCommands, which runs a request in one unit of work
- plans: plans, answers, reflections, pause/resume, time zones; every ownership check (NotYours)
- desk: what the growth listeners call (a unit of work per click or submission, the App Home, the
  modals, redrawing a nudge DM); forms: the setup and reflection modals' values read into plain values
- account: the export (other features hand in their own sections); prompts: choosing this week's prompt
- onboarding: remembering first use off the request path, the welcome DM

May import bot.ladder, bot.blocks, bot.storage, bot.content, bot.errors, the basics (config, ids,
schedule), sqlalchemy and slack_sdk. Never bot.team (team builds on growth), bot.clock, bot.services
or handlers. Functions that take a Session never commit: the caller owns the unit of work.
"""
