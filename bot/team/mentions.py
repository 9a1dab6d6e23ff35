"""People named in command text: `<@U123|alice>`, `<@U123>` (escaping on), `@alice` or `alice` (escaping
off) and `alice@example.com`, resolved against the workspace's directory through the Web API."""

from __future__ import annotations

import difflib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import InvalidMention

MAX_TEXT = 4000  # Slack's own limit for command text; anything longer is not from Slack
MAX_MENTIONS = 20
DIRECTORY_TTL = 300.0  # seconds a users.list copy is reused: the call is rate-limited (Tier 2)

_ESCAPED = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^>]{0,100})?>")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_NAME = re.compile(r"@?([\w][\w.\-']{0,79})")
_FILLER = {"and", "&", "+"}


@dataclass(frozen=True)
class Mention:
    kind: str  # id, email or name
    value: str  # a user id, an email (lower case) or a name (lower case, no @)
    label: str  # as written, for messages


def parse_mentions(text: str) -> list[Mention]:
    """Mentions in the order written, each once. Raises InvalidMention for hostile sizes."""
    if len(text) > MAX_TEXT:
        raise InvalidMention(f"That is too long to read; name at most {MAX_MENTIONS} people.")
    found: list[Mention] = []
    rest = _ESCAPED.sub(lambda m: _kept(found, Mention("id", m.group(1), f"<@{m.group(1)}>")), text)
    for word in re.split(r"[\s,;]+", rest):
        word = word.strip()
        if not word or word.lower() in _FILLER:
            continue
        if _EMAIL.fullmatch(word):
            _keep(found, Mention("email", word.lower(), word))
            continue
        match = _NAME.fullmatch(word)
        if match is None:
            _keep(found, Mention("name", word.lower().lstrip("@")[:80], word[:80]))
        else:
            _keep(found, Mention("name", match.group(1).lower(), "@" + match.group(1)))
        if len(found) > MAX_MENTIONS:
            break
    if len(found) > MAX_MENTIONS:
        raise InvalidMention(f"That is a lot of people at once; name at most {MAX_MENTIONS} per command.")
    return found


def _keep(found: list[Mention], mention: Mention) -> None:
    if all((m.kind, m.value) != (mention.kind, mention.value) for m in found):
        found.append(mention)


def _kept(found: list[Mention], mention: Mention) -> str:
    """Keeps an escaped mention and leaves a space in its place, so glued mentions split."""
    _keep(found, mention)
    return " "


@dataclass(frozen=True)
class SlackUser:
    id: str
    team_id: str
    name: str
    real_name: str
    display_name: str
    is_bot: bool
    deleted: bool
    is_admin: bool

    @classmethod
    def from_slack(cls, data: dict[str, Any]) -> SlackUser:
        profile = data.get("profile") or {}
        return cls(
            id=str(data.get("id", "")),
            team_id=str(data.get("team_id", "")),
            name=str(data.get("name", "")),
            real_name=str(data.get("real_name") or profile.get("real_name") or ""),
            display_name=str(profile.get("display_name") or ""),
            is_bot=bool(data.get("is_bot")) or data.get("id") == "USLACKBOT",
            deleted=bool(data.get("deleted")),
            is_admin=bool(data.get("is_admin") or data.get("is_owner") or data.get("is_primary_owner")),
        )

    @property
    def label(self) -> str:
        return self.display_name or self.real_name or self.name or self.id


@dataclass(frozen=True)
class Resolved:
    people: tuple[SlackUser, ...]
    problems: tuple[str, ...]


class Directory:
    """The workspace's people as Slack knows them: users.info for ids, users.lookupByEmail for emails,
    and one paginated users.list (kept for a few minutes) for plain names."""

    def __init__(self, client: WebClient, ttl: float = DIRECTORY_TTL):
        self.client = client
        self.ttl = ttl
        self._lock = threading.Lock()
        self._listed: tuple[float, tuple[SlackUser, ...]] | None = None

    def user(self, user_id: str) -> SlackUser | None:
        try:
            return SlackUser.from_slack(self.client.users_info(user=user_id)["user"])
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "users_not_found"):
                return None
            raise

    def by_email(self, email: str) -> SlackUser | None:
        try:
            return SlackUser.from_slack(self.client.users_lookupByEmail(email=email)["user"])
        except SlackApiError as exc:
            if exc.response.get("error") in ("users_not_found", "user_not_found"):
                return None
            raise

    def everyone(self, *, fresh: bool = False) -> tuple[SlackUser, ...]:
        """Everyone in the workspace; `fresh` lists again (someone who joined a minute ago must be found)."""
        with self._lock:
            if self._listed and not fresh and time.monotonic() - self._listed[0] < self.ttl:
                return self._listed[1]
        people: list[SlackUser] = []
        cursor = None
        while True:
            page = self.client.users_list(limit=200, cursor=cursor)
            people += [SlackUser.from_slack(m) for m in page.get("members") or []]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        with self._lock:
            self._listed = (time.monotonic(), tuple(people))
        return tuple(people)

    def names(self, user_ids: list[str]) -> dict[str, str]:
        """Display names for a chart; ids Slack does not know keep their id."""
        try:
            known = {u.id: u.label for u in self.everyone()}
        except SlackApiError:
            known = {}
        return {uid: known.get(uid, uid) for uid in user_ids}


def resolve(mentions: list[Mention], directory: Directory, team_id: str, requester: str) -> Resolved:
    """Turn mentions into people of this workspace who can be asked, with a clear line per problem."""
    people: list[SlackUser] = []
    problems: list[str] = []
    for mention in mentions:
        if mention.kind == "id":
            user = directory.user(mention.value)
            if user is None:
                problems.append(f"I can't find {mention.label} in this workspace.")
                continue
        elif mention.kind == "email":
            user = directory.by_email(mention.value)
            if user is None:
                problems.append(f"No one in this workspace has the email {mention.label}.")
                continue
        else:
            matches = _by_name(directory.everyone(), mention.value)
            if not matches:  # maybe someone new since the directory was listed
                matches = _by_name(directory.everyone(fresh=True), mention.value)
            if not matches:
                close = _close_names(directory.everyone(), mention.value)
                problems.append(
                    f"No one here is called {mention.label}."
                    + (f" Did you mean {' or '.join('@' + c for c in close)}?" if close else "")
                )
                continue
            if len(matches) > 1:
                listed = ", ".join(f"<@{u.id}> ({u.real_name or u.name})" for u in matches[:5])
                problems.append(
                    f"{mention.label} matches {len(matches)} people: {listed}. Pick one from Slack's @-autocomplete."
                )
                continue
            user = matches[0]
        problem = _cannot_follow(user, team_id, requester)
        if problem:
            problems.append(problem)
        elif all(p.id != user.id for p in people):
            people.append(user)
    return Resolved(tuple(people), tuple(problems))


def _cannot_follow(user: SlackUser, team_id: str, requester: str) -> str:
    if user.id == requester:
        return "You can't follow yourself; your own plan is at `/growth`."
    if user.is_bot:
        return f"<@{user.id}> is a bot, not a person with a growth plan."
    if user.deleted:
        return f"<@{user.id}> has been deactivated."
    if user.team_id and team_id and user.team_id != team_id:
        return f"<@{user.id}> is in another workspace; ladderbot only connects people within one workspace."
    return ""


def _by_name(everyone: tuple[SlackUser, ...], name: str) -> list[SlackUser]:
    """Exact handle first, then display name, then full name (case-insensitive); deleted people and bots
    only when nobody else matches, so the refusal can say why."""
    for field in ("name", "display_name", "real_name"):
        hits = [u for u in everyone if getattr(u, field).lower() == name]
        if field == "real_name" and not hits:  # "alice smith" written as alice.smith or alicesmith
            squashed = name.replace(".", "").replace("_", "").replace("-", "")
            hits = [u for u in everyone if u.real_name.lower().replace(" ", "") == squashed]
        live = [u for u in hits if not (u.deleted or u.is_bot)]
        if live or hits:
            return live or hits
    return []


def _close_names(everyone: tuple[SlackUser, ...], name: str) -> list[str]:
    names = {u.name.lower() for u in everyone if u.name and not (u.deleted or u.is_bot)}
    return difflib.get_close_matches(name, sorted(names), n=2, cutoff=0.75)
