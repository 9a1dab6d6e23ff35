"""Evidence queries: saving an item, reading a person's own items, counting them, and the export section.

Every function starts from the asker's own Person row; none takes another person's id from a request.
Functions take a Session and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.content.records import Content, Level
from bot.errors import RefusedError
from bot.evidence.expectations import Group, expectations_for
from bot.evidence.suggest import scorer_for
from bot.growth import plans as growth
from bot.storage.models import Evidence, Person, utcnow

MAX_TEXT = 3000
SOURCES = ("message", "command", "button")


def target_level(session: Session, content: Content, person: Person) -> Level:
    """The level the person's evidence is mapped to: their plan's target, else the first step up the ladder."""
    plan = growth.get_plan(session, person)
    if plan is not None:
        return content.level(plan.target)
    return content.levels[1] if len(content.levels) > 1 else content.levels[0]


def known_keys(content: Content, level: Level, keys: list[str]) -> list[str]:
    """The keys that name an expectation of `level`, once each, in the ladder's order."""
    wanted = set(keys)
    return [e.key for e in expectations_for(content, level) if e.key in wanted]


def add_evidence(
    session: Session,
    content: Content,
    person: Person,
    *,
    source: str,
    text: str,
    note: str = "",
    level: Level | None = None,
    expectations: list[str] | None = None,
    author_user_id: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    permalink: str | None = None,
    now: datetime | None = None,
) -> Evidence:
    """Save one item. With `expectations` None, the suggestion picks them (the best match, and any other
    nearly as good); unknown keys are dropped."""
    text, note = text.strip()[:MAX_TEXT], note.strip()[:MAX_TEXT]
    if not text and not note and not permalink:
        raise RefusedError("Write what you did, like `/growth evidence add Led the checkout incident review`.")
    if source not in SOURCES:
        raise RefusedError("Unknown kind of evidence.")
    level = level or target_level(session, content, person)
    if expectations is None:
        ranked = scorer_for(content, level.id).rank(f"{text}\n{note}", limit=2)
        expectations = [s.key for s in ranked if ranked and s.score >= max(4.0, ranked[0].score * 0.75)]
    item = Evidence(
        person_id=person.id,
        source=source,
        text=text,
        note=note,
        author_user_id=_clipped(author_user_id, 32),
        channel_id=_clipped(channel_id, 32),
        message_ts=_clipped(message_ts, 32),
        permalink=_clipped(permalink, 500),
        level=level.id,
        expectations=",".join(known_keys(content, level, expectations)),
        created_at=now or utcnow(),
    )
    session.add(item)
    session.flush()
    return item


def _clipped(value: str | None, limit: int) -> str | None:
    """A column value cut to its column's length; None for nothing."""
    return value[:limit] if value else None


def evidence_of(session: Session, person: Person, limit: int | None = None) -> list[Evidence]:
    """The person's own items, newest first."""
    query = (
        select(Evidence).where(Evidence.person_id == person.id).order_by(Evidence.created_at.desc(), Evidence.id.desc())
    )
    return list(session.execute(query.limit(limit) if limit else query).scalars())


def keys_at(content: Content, level: Level, item: Evidence) -> list[str]:
    """The expectations of `level` an item shows: its own keys when it was saved for that level, else the
    suggestion's best match for its words (the ladder's keys differ from level to level)."""
    if item.level == level.id:
        return item.expectation_keys
    found = scorer_for(content, level.id).best(f"{item.text}\n{item.note}")
    return [found.key] if found else []


def in_group(content: Content, level: Level, items: list[Evidence], group: Group) -> list[Evidence]:
    wanted = {e.key for e in group.expectations}
    return [item for item in items if wanted & set(keys_at(content, level, item))]


def counts_by_key(content: Content, level: Level, items: list[Evidence]) -> Counter[str]:
    return Counter(key for item in items for key in keys_at(content, level, item))


def export_section(session: Session, person: Person) -> dict[str, Any]:
    """The person's evidence for /growth export, every field as stored."""
    return {
        "evidence": [
            {
                "created_at": item.created_at.isoformat(),
                "source": item.source,
                "text": item.text,
                "note": item.note,
                "author": item.author_user_id,
                "channel": item.channel_id,
                "message_ts": item.message_ts,
                "permalink": item.permalink,
                "level": item.level,
                "expectations": item.expectation_keys,
            }
            for item in evidence_of(session, person)
        ]
    }
