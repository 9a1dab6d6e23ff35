"""Test doubles that are real processes, not mocks: the fake Slack Web API (`bot.testing.fakeslack`).

Used by tests, benchmarks and `ladderbot fake-slack`; the bot itself never imports this package (only the CLI).
May import: the standard library and bot.blocks (for Slack's Block Kit limits); no feature, storage or app.
"""
