"""What the evidence listeners and commands call: a unit of work per request, and the Web API work (the
save modal, the packet's upload, sharing it) that runs after the ack.

Privacy: every read starts from the asker's own Person row. A packet or an item leaves its author's DM only
through `share_packet` or `share_item`, for a follower the author accepted, in the author's workspace: the
clicker always shares their own packet, and an item only when it is theirs, so a Share button in anyone
else's hands shares nothing of its author's.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import evidence as rb
from bot.blocks.kit import Block, Message
from bot.content.records import Content, Level
from bot.errors import NotFound, NotYours, RefusedError
from bot.evidence import packet as pk
from bot.evidence import store
from bot.evidence.expectations import expectations_for, group_matching, groups_for
from bot.evidence.suggest import scorer_for
from bot.growth import plans as growth
from bot.growth.account import open_dm
from bot.growth.forms import Values
from bot.ids import ActionId, BlockId, whole_number
from bot.storage import people as repo
from bot.storage.models import Evidence, Person, Workspace, utcnow
from bot.team import follows

logger = logging.getLogger(__name__)
LISTED = 20  # items /growth evidence shows
LATEST = 3  # items the App Home shows
NOT_A_FOLLOWER = "You can share only with someone who follows your growth."
MAX_NAME_LOOKUPS = 50  # users.info calls for one packet's names
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_CHANNEL = re.compile(r"[CDG][A-Z0-9]{2,31}")
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,8}")


class EvidenceDesk:
    def __init__(self, session_factory: sessionmaker[Session], content: Content) -> None:
        self.session_factory = session_factory
        self.content = content

    # plain values for the builders -------------------------------------------------------------

    def _line(self, level: Level, item: Evidence) -> rb.EvidenceLine:
        texts = {e.key: e.text for e in expectations_for(self.content, level)}
        shows = tuple(texts[k] for k in store.keys_at(self.content, level, item) if k in texts)
        return rb.EvidenceLine(
            item.created_at.strftime("%Y-%m-%d"), item.text, item.note, item.permalink or "", shows, item.id
        )

    # in the ack: /growth evidence, /growth evidence add, the App Home section ------------------

    def list_message(self, session: Session, person: Person, words: str) -> Message:
        level = store.target_level(session, self.content, person)
        items = store.evidence_of(session, person)
        group = None
        if words.strip():
            group = group_matching(self.content, level, words)
            if group is None:
                names = ", ".join(f"`{g.id}`" for g in groups_for(self.content, level))
                raise RefusedError(f"I don't know “{words.strip()[:40]}” as a dimension or area. Try one of: {names}.")
            items = store.in_group(self.content, level, items, group)
        workspace = session.get(Workspace, person.workspace_id)
        followers = accepted_followers(session, workspace.team_id if workspace else "", person.user_id)
        return rb.build_evidence_list(
            [self._line(level, i) for i in items[:LISTED]],
            len(items),
            group.name if group else "",
            shareable=bool(followers),
        )

    def add_from_command(self, session: Session, person: Person, text: str, now: datetime) -> Message:
        item = store.add_evidence(session, self.content, person, source="command", text=text, now=now)
        return rb.build_saved(self._line(self.content.level(item.level), item))

    def home_section(self, session: Session, person: Person) -> list[Block]:
        level = store.target_level(session, self.content, person)
        items = store.evidence_of(session, person)
        counts = store.counts_by_key(self.content, level, items)
        rows = [
            (g.name, [(e.text, counts.get(e.key, 0)) for e in g.expectations]) for g in groups_for(self.content, level)
        ]
        return rb.build_home_section(level.title, rows, [self._line(level, i) for i in items[:LATEST]])

    def export_section(self, session: Session, person: Person) -> dict[str, Any]:
        return store.export_section(session, person)

    # the save modal: opened from the message shortcut or a Log a win button --------------------

    def open_save_modal(
        self,
        client: WebClient,
        trigger_id: str,
        team_id: str,
        user_id: str,
        message: dict[str, Any] | None = None,
        channel_id: str = "",
        team_domain: str = "",
    ) -> None:
        message = message or {}
        text = str(message.get("text") or "")
        ts = str(message.get("ts") or "")
        author = str(message.get("user") or "")
        permalink = ""
        if channel_id and ts:
            try:
                permalink = str(client.chat_getPermalink(channel=channel_id, message_ts=ts).get("permalink") or "")
            except (SlackApiError, SlackClientError) as exc:
                logger.info("no permalink for %s/%s from Slack (%s); building it", channel_id, ts, exc)
            permalink = permalink or fallback_permalink(team_domain, channel_id, ts)
        with self.session_factory.begin() as session:
            person = growth.ensure_person(session, team_id, user_id)
            level = store.target_level(session, self.content, person)
        metadata = {"a": author[:32], "c": channel_id[:32], "t": ts[:32], "p": permalink[:500], "l": level.id}
        client.views_open(trigger_id=trigger_id, view=self._save_modal(level, text, "", metadata, 0))

    def refresh_suggestion(self, client: WebClient, team_id: str, user_id: str, view: dict[str, Any]) -> None:
        """Enter in the note: the suggestion again from the message and the note, in the same modal."""
        values = (view.get("state") or {}).get("values") or {}
        meta = _metadata(str(view.get("private_metadata") or ""))
        with self.session_factory() as session:
            person = repo.get_person(session, team_id, user_id)
            if person is None:
                return
            level = self._level_of(session, person, meta)
        revision = max((_revision(block_id) for block_id in values), default=0) + 1
        text = _value(values, BlockId.EVIDENCE_TEXT, ActionId.EVIDENCE_TEXT)
        note = _value(values, BlockId.EVIDENCE_NOTE, ActionId.EVIDENCE_NOTE)
        updated = self._save_modal(level, text, note, meta, revision)
        client.views_update(view_id=str(view.get("id") or ""), hash=view.get("hash"), view=updated)

    def _save_modal(self, level: Level, text: str, note: str, meta: dict[str, str], revision: int) -> dict[str, Any]:
        ranked = scorer_for(self.content, level.id).rank(f"{text}\n{note}", limit=3)
        suggested = [s for s in ranked if s.score >= max(4.0, ranked[0].score * 0.5)] if ranked else []
        words: list[str] = []
        for suggestion in suggested:
            words += [w for w in suggestion.words if w not in words]
        permalink = meta.get("p", "")
        view = rb.SaveModalView(
            level_title=level.title,
            groups=tuple(
                rb.ExpectationGroup(g.name, tuple(rb.ExpectationOption(e.key, e.text) for e in g.expectations))
                for g in groups_for(self.content, level)
            ),
            suggested=tuple(s.key for s in suggested),
            matched_words=tuple(words),
            metadata=meta,
            text=text,
            author=meta.get("a", ""),
            permalink=permalink if permalink.startswith("https://") else "",
            revision=revision,
        )
        return rb.build_save_modal(view)

    def _level_of(self, session: Session, person: Person, meta: dict[str, str]) -> Level:
        """The level the modal was opened for, when it is one; else the person's target now."""
        level_id = meta.get("l", "")
        if level_id in {lv.id for lv in self.content.levels}:
            return self.content.level(level_id)
        return store.target_level(session, self.content, person)

    def save(self, team_id: str, user_id: str, values: Values, private_metadata: str) -> dict[str, str]:
        """Store a submitted modal; {block id: what to fix} when it cannot be stored. Only what the person
        kept in the text field is stored of the message."""
        meta = _metadata(private_metadata)
        text = _value(values, BlockId.EVIDENCE_TEXT, ActionId.EVIDENCE_TEXT)
        note = _value(values, BlockId.EVIDENCE_NOTE, ActionId.EVIDENCE_NOTE)
        newest = max((b for b in values if _revision(b) >= 0), key=_revision, default=BlockId.EVIDENCE_EXPECTATIONS)
        picked = (values.get(newest) or {}).get(ActionId.EVIDENCE_EXPECTATIONS) or {}
        keys = [str(o.get("value", "")) for o in (picked.get("selected_options") or []) if isinstance(o, dict)]
        permalink = meta.get("p", "")
        if not permalink.startswith("https://"):
            permalink = ""
        try:
            with self.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                level = self._level_of(session, person, meta)
                store.add_evidence(
                    session,
                    self.content,
                    person,
                    source="message" if meta.get("t") else "button",
                    text=text,
                    note=note,
                    level=level,
                    expectations=keys,
                    author_user_id=meta.get("a"),
                    channel_id=meta.get("c"),
                    message_ts=meta.get("t"),
                    permalink=permalink,
                )
        except RefusedError as exc:
            return {BlockId.EVIDENCE_TEXT: "Write a few words, or keep the message." if text == "" else exc.message}
        return {}

    # sharing one item ---------------------------------------------------------------------------

    def _own_item(self, session: Session, team_id: str, user_id: str, item_id: str) -> tuple[Person, Evidence]:
        """The clicker's own item; NotFound or NotYours for anything else (another person's, another
        workspace's, a mangled value)."""
        number = whole_number(item_id)
        person = repo.get_person(session, team_id, user_id)
        item = session.get(Evidence, number) if number is not None else None
        if item is None or person is None:
            raise NotFound("That item no longer exists.")
        if item.person_id != person.id:
            raise NotYours("That item is not yours.")
        return person, item

    def share_choices(self, team_id: str, user_id: str, value: str) -> Message:
        """The Share button on an item: the person's accepted followers to choose from."""
        with self.session_factory() as session:
            try:
                person, item = self._own_item(session, team_id, user_id, value)
            except RefusedError as exc:
                logger.info("evidence share refused for %s: %s", user_id, exc)
                return Message(exc.message, ())
            line = self._line(store.target_level(session, self.content, person), item)
            return rb.build_share_choices(line, accepted_followers(session, team_id, user_id))

    def share_item(self, client: WebClient, team_id: str, user_id: str, value: str) -> str:
        """Send one of the clicker's own items to a follower they accepted; a refusal otherwise."""
        item_id, _, follower = value.partition(":")
        with self.session_factory() as session:
            try:
                person, item = self._own_item(session, team_id, user_id, item_id)
            except RefusedError as exc:
                logger.info("evidence share refused for %s: %s", user_id, exc)
                return exc.message
            if follower not in accepted_followers(session, team_id, user_id):
                logger.info("evidence share refused for %s: %s is not an accepted follower", user_id, follower)
                return NOT_A_FOLLOWER
            message = rb.build_shared_item(user_id, self._line(store.target_level(session, self.content, person), item))
        try:
            client.chat_postMessage(channel=follower, text=message.text, blocks=list(message.blocks))
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("evidence share from %s to %s failed: %s", user_id, follower, exc)
            return "I could not share it just now; please try again in a minute."
        return f"Shared that item with <@{follower}>."

    # the packet ---------------------------------------------------------------------------------

    def packet_level(self, session: Session, person: Person, level_id: str | None) -> Level:
        return self.content.level(level_id) if level_id else store.target_level(session, self.content, person)

    def build_packet(self, team_id: str, user_id: str, level_id: str | None, name: str) -> pk.Packet | None:
        """The asker's own packet; None for someone the bot has never seen."""
        with self.session_factory() as session:
            person = repo.get_person(session, team_id, user_id)
            if person is None:
                return None
            level = self.packet_level(session, person, level_id)
            return pk.load_packet(session, self.content, person, level, name, utcnow())

    def named_packet(self, client: WebClient, team_id: str, user_id: str, level_id: str | None) -> pk.Packet | None:
        """The asker's own packet with names, not user ids: theirs on the first page and each saved
        message's author, looked up with users.info once per person (after the rows are read, so no
        Slack call holds a database connection); an id whose lookup fails stays an id."""
        names = _Names(client)
        packet = self.build_packet(team_id, user_id, level_id, names.of(user_id))
        if packet is None:
            return None
        return packet.with_author_names({author: names.of(author) for author in sorted(packet.authors())})

    def send_packet(self, client: WebClient, team_id: str, user_id: str, level_id: str | None) -> Message:
        """Build the packet, upload it as Markdown and PDF to the person's DM, and offer Share buttons for
        their accepted followers. The answer is for the command's response_url."""
        packet = self.named_packet(client, team_id, user_id, level_id)
        if packet is None:
            return Message("I have nothing stored about you yet.", ())
        with self.session_factory() as session:
            followers = accepted_followers(session, team_id, user_id)
        try:
            channel = open_dm(client, user_id)
            _upload(client, channel, packet, "Your promotion packet (private to you until you share it).")
            sent = rb.build_packet_sent(packet.coverage, packet.level_title, packet.level_id, followers)
            client.chat_postMessage(channel=channel, text=sent.text, blocks=list(sent.blocks))
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("packet for %s could not be sent: %s", user_id, exc)
            return Message("I could not send your packet just now; please try again in a minute.", ())
        text = f"Your promotion packet toward {packet.level_title} is in your DM with me: {packet.coverage}."
        return Message(text, ())

    def share_packet(self, client: WebClient, team_id: str, user_id: str, value: str) -> str:
        """The Share button: the clicker's own packet, to a follower they accepted; a refusal otherwise."""
        follower, _, level_id = value.partition(":")
        if level_id not in {lv.id for lv in self.content.levels}:
            return "That button is out of date; run `/growth packet` again."
        with self.session_factory() as session:
            accepted = accepted_followers(session, team_id, user_id)
        if follower not in accepted:
            logger.info("packet share refused for %s: %s is not an accepted follower", user_id, follower)
            return NOT_A_FOLLOWER
        packet = self.named_packet(client, team_id, user_id, level_id)
        if packet is None:
            return "I have nothing stored about you yet."
        try:
            channel = open_dm(client, follower)
            _upload(client, channel, packet, f"<@{user_id}> shared their promotion packet with you.")
        except (SlackApiError, SlackClientError) as exc:
            logger.warning("packet share from %s to %s failed: %s", user_id, follower, exc)
            return "I could not share it just now; please try again in a minute."
        return f"Shared your packet with <@{follower}>."


def accepted_followers(session: Session, team_id: str, user_id: str) -> list[str]:
    """User ids of the people who follow this person with their consent, in the same workspace."""
    return [f.follower for f in follows.followers_of(session, team_id, user_id) if f.status == "accepted"]


def fallback_permalink(team_domain: str, channel_id: str, ts: str) -> str:
    """A message's link as Slack's permalinks look, https://<domain>.slack.com/archives/<channel>/p<ts
    without its dot>, for when chat.getPermalink fails; "" unless all three look like Slack's."""
    if not (_DOMAIN.fullmatch(team_domain) and _CHANNEL.fullmatch(channel_id) and _TS.fullmatch(ts)):
        return ""
    return f"https://{team_domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"


def _metadata(private_metadata: str) -> dict[str, str]:
    """The modal's private_metadata as strings; {} when it is not what we wrote."""
    try:
        meta = json.loads(private_metadata or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def _revision(block_id: str) -> int:
    """Which suggestion an expectations field's block id belongs to (0 the first); -1 for other blocks."""
    if block_id == BlockId.EVIDENCE_EXPECTATIONS:
        return 0
    prefix = f"{BlockId.EVIDENCE_EXPECTATIONS}."
    number = whole_number(block_id[len(prefix) :]) if block_id.startswith(prefix) else None
    return number if number is not None else -1


def _value(values: Values, block_id: str, action_id: str) -> str:
    return str((values.get(block_id, {}).get(action_id, {}) or {}).get("value") or "")


def _display_name(client: WebClient, user_id: str) -> str:
    """A person's name as Slack shows it; their user id when users.info fails or knows no name."""
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except (SlackApiError, SlackClientError) as exc:
        logger.info("no name for %s: %s", user_id, exc)
        return user_id
    profile = user.get("profile") or {}
    return str(profile.get("real_name") or user.get("real_name") or user.get("name") or user_id)


class _Names:
    """Names for one packet: each user id looked up once; past MAX_NAME_LOOKUPS, ids stay ids (a packet
    quoting hundreds of people must not spend a minute of users.info calls)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self.known: dict[str, str] = {}

    def of(self, user_id: str) -> str:
        if user_id not in self.known:
            if len(self.known) >= MAX_NAME_LOOKUPS or not _USER_ID.fullmatch(user_id):
                return user_id
            self.known[user_id] = _display_name(self.client, user_id)
        return self.known[user_id]


def _upload(client: WebClient, channel: str, packet: pk.Packet, comment: str) -> None:
    stem = f"promotion-packet-{packet.level_id}-{packet.generated}"
    client.files_upload_v2(
        channel=channel,
        initial_comment=comment,
        file_uploads=[
            {"file": pk.markdown(packet).encode(), "filename": f"{stem}.md", "title": f"{stem}.md"},
            {"file": pk.pdf(packet), "filename": f"{stem}.pdf", "title": f"{stem}.pdf"},
        ],
    )
