"""What the growth listeners call: one unit of work per click or submission, and the Web API work
(the App Home, the setup and reflection modals, updating a nudge DM) that runs after the ack.

Every ownership check lives in bot.growth.plans; a refused click changes nothing and is logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import growth as rg
from bot.blocks.kit import Block
from bot.content.records import Content
from bot.errors import RefusedError
from bot.growth import account
from bot.growth import plans as growth
from bot.growth.forms import FIELD_BLOCKS, SetupForm, Values, delivery_id_of, parse_reflection, parse_setup
from bot.growth.onboarding import slack_timezone
from bot.ids import BlockId, whole_number
from bot.storage import people as repo
from bot.storage.models import Person, utcnow

logger = logging.getLogger(__name__)

# (people following me, accepted people I follow), from a feature built on growth (the team)
HomeCounts = Callable[[Session, Person], tuple[int, int]]
# more App Home blocks from a feature built on growth (the evidence log), shown under the plan
HomeSections = Callable[[Session, Person], list[Block]]


class GrowthDesk:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        content: Content,
        home_counts: HomeCounts,
        home_sections: HomeSections | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.content = content
        self.home_counts = home_counts
        self.home_sections = home_sections

    # units of work, in the ack ------------------------------------------------------------------

    def answer_nudge(self, team_id: str, user_id: str, value: str, answer: str) -> bool:
        """Record Done / Skip / Remind me tomorrow; False (nothing recorded) for someone else's nudge."""
        delivery_id = delivery_id_of(value)
        if delivery_id is None:
            logger.info("nudge answer with a mangled value %r from %s", value, user_id)
            return False
        try:
            with self.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                growth.answer_delivery(session, person, delivery_id, answer)
        except RefusedError as exc:
            logger.info("nudge answer refused for %s: %s", user_id, exc)
            return False
        return True

    def save_reflection(self, team_id: str, user_id: str, values: Values, private_metadata: str) -> dict[str, str]:
        """Save a submitted reflection; {block id: what to fix} when it cannot be saved."""
        form = parse_reflection(values, private_metadata)
        if not form.text.strip():
            return {BlockId.REFLECTION_TEXT: "Write a few words first."}
        try:
            with self.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                growth.add_reflection(session, person, form.delivery_id, form.text, shared=form.shared)
        except RefusedError as exc:
            return {BlockId.REFLECTION_TEXT: exc.message}
        return {}

    def save_setup(self, team_id: str, user_id: str, values: Values) -> dict[str, str]:
        """Save the setup modal's plan; {block id: what to fix} when it cannot be saved."""
        form = parse_setup(self.content, values)
        if not isinstance(form, SetupForm):
            return form
        try:
            with self.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                growth.save_plan(
                    session,
                    self.content,
                    person,
                    level=form.level,
                    target=form.target,
                    focus=form.focus,
                    weekday=form.weekday,
                    local_time=form.local_time,
                )
        except RefusedError as exc:
            return {FIELD_BLOCKS.get(exc.field or "", BlockId.SETUP_FOCUS): exc.message}
        return {}

    def pause_or_resume(self, team_id: str, user_id: str, *, pause: bool, weeks: str = "1") -> None:
        """The App Home's Pause and Resume buttons; a click with no plan behind it changes nothing."""
        pause_weeks = whole_number(weeks)
        if pause and pause_weeks is None:
            logger.info("pause refused for %s: the button carried %r, not a number of weeks", user_id, weeks)
            return
        try:
            with self.session_factory.begin() as session:
                person = growth.ensure_person(session, team_id, user_id)
                if pause and pause_weeks is not None:
                    growth.pause(session, person, max(1, min(52, pause_weeks)))
                else:
                    growth.resume(session, person)
        except RefusedError as exc:
            logger.info("%s refused for %s: %s", "pause" if pause else "resume", user_id, exc)

    def forget(self, team_id: str, user_id: str) -> None:
        with self.session_factory.begin() as session:
            account.forget(session, team_id, user_id)

    def set_timezone(self, team_id: str, user_id: str, tz: str) -> None:
        """A user_change event: the plan follows the new zone; an unknown person stays unknown."""
        with self.session_factory.begin() as session:
            person = repo.get_person(session, team_id, user_id, lock=True)
            if person is not None:
                growth.set_timezone(session, person, tz)

    # Web API work, after the ack ----------------------------------------------------------------

    def home_view(self, team_id: str, user_id: str, now: datetime | None = None) -> dict[str, Any]:
        now = now or utcnow()
        with self.session_factory.begin() as session:
            person = growth.ensure_person(session, team_id, user_id)
            plan = growth.get_plan(session, person)
            deliveries = growth.deliveries_of(session, person, limit=60)
            streak = growth.streak(deliveries, growth.reflected_delivery_ids(session, person), now)
            reflections = [r.text for r in growth.reflections_of(session, person, limit=3)]
            followers, following = self.home_counts(session, person)
            more = self.home_sections(session, person) if self.home_sections else []
            return rg.build_home(
                self.content,
                growth.view_of(plan, now) if plan else None,
                streak,
                reflections,
                followers,
                following,
                more=more,
            )

    def publish_home(self, client: WebClient, team_id: str, user_id: str) -> None:
        client.views_publish(user_id=user_id, view=self.home_view(team_id, user_id))

    def refresh_timezone(self, client: WebClient, team_id: str, user_id: str) -> None:
        """Learn the person's zone from Slack once, if we have none yet."""
        # get_person, never ensure_person: a /growth forget that landed meanwhile must not be undone
        with self.session_factory() as session:
            person = repo.get_person(session, team_id, user_id)
            known = person.tz if person else "forgotten"
        if known:
            return
        tz = slack_timezone(client, user_id)
        if tz:
            self.set_timezone(team_id, user_id, tz)

    def open_setup(self, client: WebClient, trigger_id: str, team_id: str, user_id: str) -> None:
        with self.session_factory() as session:
            person = growth.ensure_person(session, team_id, user_id)
            plan = growth.get_plan(session, person)
            view = rg.build_setup_modal(self.content, growth.view_of(plan, utcnow()) if plan else None)
        client.views_open(trigger_id=trigger_id, view=view)

    def open_reflection(self, client: WebClient, trigger_id: str, team_id: str, user_id: str, value: str) -> None:
        """The reflection modal for the person's own nudge; nothing opens for anyone else's."""
        delivery_id = delivery_id_of(value)
        if delivery_id is None:
            return
        with self.session_factory() as session:
            prompt_text = self._own_prompt_text(session, team_id, user_id, delivery_id)
        if prompt_text is not None:
            client.views_open(trigger_id=trigger_id, view=rg.build_reflection_modal(prompt_text, delivery_id))

    def update_answered_nudge(
        self, client: WebClient, team_id: str, user_id: str, value: str, channel: str | None, ts: str | None
    ) -> None:
        """After a click, show the answer on the person's own nudge DM; nothing changes for anyone else."""
        delivery_id = delivery_id_of(value)
        if delivery_id is None:
            return
        with self.session_factory() as session:
            if self._own_prompt_text(session, team_id, user_id, delivery_id) is None:
                return
        self.update_nudge(client, delivery_id, channel, ts)

    def after_reflection(self, client: WebClient, team_id: str, user_id: str, private_metadata: str) -> None:
        """After a reflection is saved: redraw the person's own nudge DM it was about (if any; nobody
        else's), then their App Home."""
        delivery_id = delivery_id_of(private_metadata)
        if delivery_id is not None:
            with self.session_factory() as session:
                own = self._own_prompt_text(session, team_id, user_id, delivery_id) is not None
            if own:
                self.update_nudge(client, delivery_id, None, None)
        self.publish_home(client, team_id, user_id)

    def update_nudge(self, client: WebClient, delivery_id: int, channel: str | None, ts: str | None) -> None:
        """Redraw a nudge DM with its answer and reflection (the channel and ts default to the stored ones)."""
        with self.session_factory() as session:
            delivery = growth.delivery(session, delivery_id)
            if delivery is None:
                return
            prompt = self.content.prompt(delivery.prompt_id)
            reflected = growth.has_reflection(session, delivery_id)
            answer = delivery.answer
            channel = channel or delivery.channel_id
            ts = ts or delivery.message_ts
        if prompt is None or not channel or not ts:
            return
        message = rg.build_nudge(self.content, prompt, delivery_id, answer=answer or "", reflected=reflected)
        client.chat_update(channel=channel, ts=ts, text=message.text, blocks=list(message.blocks))

    def _own_prompt_text(self, session: Session, team_id: str, user_id: str, delivery_id: int) -> str | None:
        """The prompt text of the person's own nudge, "" when its prompt is gone, None when not theirs."""
        person = repo.get_person(session, team_id, user_id)
        if person is None:
            return None
        try:
            delivery = growth.own_delivery(session, person, delivery_id)
        except RefusedError as exc:
            logger.info("nudge %s refused for %s: %s", delivery_id, user_id, exc)
            return None
        prompt = self.content.prompt(delivery.prompt_id)
        return prompt.text if prompt else ""
