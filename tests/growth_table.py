"""The /growth command table as the server builds it, for tests that need its entries without a server."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.content.loader import load_content
from bot.growth.commands import GrowthTable
from bot.growth.desk import GrowthDesk
from bot.ladder.parse import Vocabulary
from bot.services import growth_command_table
from bot.team import follows
from bot.team.desk import TeamDesk

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


@cache
def table() -> GrowthTable:
    """Entries built on an unbound session factory and a client that is never called: only their shape is used."""
    content = load_content(CONTENT_DIR)
    sessions: sessionmaker[Session] = sessionmaker()
    settings = Settings(slack_bot_token="xoxb-unused", slack_signing_secret="unused")
    team = TeamDesk(sessions, WebClient(token="xoxb-unused"), content, settings)
    growth = GrowthDesk(sessions, content, home_counts=follows.home_counts)
    return growth_command_table(growth, team, Vocabulary.from_content(content), lambda team_id, user_id: True)
