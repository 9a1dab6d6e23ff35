"""The demo workspace the sandbox plays: who is in it, in which time zone, and which channels it has.

Plain data, so the page, the demo data and the tests read one list. Ids look like Slack's (U + capitals and
digits) so the bot's own parsing of mentions and ids takes them as it takes real ones.
"""

from __future__ import annotations

from dataclasses import dataclass

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
GENERAL = "C0GENERAL"  # the one public channel
BOT_USER = "UBOT"


@dataclass(frozen=True)
class DemoPerson:
    """One member of the demo workspace. `role` is what the page says about them: admin, manager or report."""

    user_id: str
    name: str  # Slack's handle, as typed after @
    real_name: str
    tz: str
    role: str
    title: str
    level: str = ""  # their ladder level in the demo data ("" = no plan)
    away: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("U0ADA", "ada", "Ada Lovelace", "Europe/London", "admin", "Head of Engineering"),
    DemoPerson("U0MAYA", "maya", "Maya Okafor", "Europe/Berlin", "manager", "Engineering Manager", "senior"),
    DemoPerson("U0LENA", "lena", "Lena Fischer", "Europe/Berlin", "report", "Backend Engineer", "mid"),
    DemoPerson("U0ROHAN", "rohan", "Rohan Mehta", "Asia/Kolkata", "report", "Platform Engineer", "senior"),
    DemoPerson("U0SAM", "sam", "Sam Rivera", "America/New_York", "report", "Frontend Engineer", "junior"),
    DemoPerson("U0KEMI", "kemi", "Kemi Adeyemi", "Africa/Lagos", "report", "Mobile Engineer", "mid"),
    DemoPerson("U0HIRO", "hiro", "Hiro Tanaka", "Asia/Tokyo", "report", "SRE", "senior", away=True),
    DemoPerson("U0LUCIA", "lucia", "Lucía Gómez", "America/Sao_Paulo", "report", "Data Engineer", "junior"),
)


@dataclass(frozen=True)
class Shortcut:
    """One of the app's message shortcuts (manifest.yml features.shortcuts, type message)."""

    name: str
    callback_id: str
    description: str = ""


MANAGER = next(p for p in PEOPLE if p.role == "manager")
REPORTS = tuple(p for p in PEOPLE if p.role == "report")


def person(user_id: str) -> DemoPerson | None:
    return next((p for p in PEOPLE if p.user_id == user_id), None)


def dm_channel(user_id: str) -> str:
    """The bot's DM with `user_id`: the fake Slack's id for it (D + the user id without its U)."""
    return "D" + user_id[1:]
