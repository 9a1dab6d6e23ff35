"""Bolt listeners. Each module has one register(); all are wired here."""

from slack_bolt import App

from bot.services import Services
from handlers import evidence, growth, install, interview, ladder, share, team


def register_all(app: App, services: Services) -> None:
    ladder.register(app, services)
    interview.register(app, services)
    share.register(app, services)
    growth.register(app, services)
    team.register(app, services)
    evidence.register(app, services)
    install.register(app, services)
