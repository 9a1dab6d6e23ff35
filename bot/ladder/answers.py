"""The answers to /ladder and /interview: parse, pick, render. No I/O, so it runs inside the ack."""

from __future__ import annotations

import random
from collections import defaultdict
from functools import lru_cache

from bot.blocks import interview as render_interview
from bot.blocks import kit as bk
from bot.blocks import ladder as render
from bot.blocks.kit import Message
from bot.blocks.ladder import MAX_QUESTION_COUNT, Unknown
from bot.content.records import Content, Question
from bot.ladder import parse as cmd


class Answers:
    """Builds every command answer from the loaded content. Thread-safe; deterministic /ladder
    answers are cached because the content never changes while the process runs."""

    def __init__(self, content: Content, *, show_compensation: bool = False, rng: random.Random | None = None):
        self.content = content
        self.vocab = cmd.Vocabulary.from_content(content)
        self.level_order = [level.id for level in content.levels]
        self.show_compensation = show_compensation
        self._rng = rng or random.Random()
        self._ladder_cached = lru_cache(maxsize=2048)(self._ladder_uncached)

    # /ladder ------------------------------------------------------------------------------

    def ladder(self, text: str) -> Message:
        """The answer to `/ladder <text>`."""
        return self._ladder_cached(" ".join(cmd.normalise(text)))

    def _ladder_uncached(self, text: str) -> Message:
        return self.render_ladder(cmd.parse_ladder(text, self.vocab, self.level_order))

    def render_ladder(self, request: cmd.LadderRequest, *, share: bool = True) -> Message:
        c = self.content
        match request:
            case cmd.LadderOverview():
                return render.build_overview(c, share=share)
            case cmd.LadderHelp():
                return render.build_ladder_help(c)
            case cmd.LevelView(level=level, dimension=None, area=None):
                return render.build_level(c, c.level(level), show_compensation=self.show_compensation, share=share)
            case cmd.LevelView(level=level, dimension=dimension, area=area):
                return render.build_level_part(c, c.level(level), dimension=dimension, area=area, share=share)
            case cmd.Compare(lower=lower, higher=higher, swapped=swapped):
                return render.build_compare(c, c.level(lower), c.level(higher), swapped=swapped, share=share)
            case cmd.AreaView(area=area):
                return render.build_area(c, c.area(area), share=share)
            case cmd.AreaList():
                return render.build_area_list(c, share=share)
            case cmd.Roadmap():
                return render.build_roadmap(c, share=share)
            case cmd.Responsibilities(level=level):
                return render.build_responsibilities(c, c.level(level) if level else None, share=share)
            case Unknown():
                return render.build_unknown(request)
        raise AssertionError(f"unhandled request {request!r}")  # pragma: no cover

    # /interview ---------------------------------------------------------------------------

    def interview(self, text: str, rng: random.Random | None = None) -> Message:
        """The answer to `/interview <text>`: a fresh random selection each time."""
        request = cmd.parse_interview(text, self.vocab)
        c = self.content
        match request:
            case cmd.InterviewHelp():
                return render_interview.build_interview_help(c)
            case cmd.TopicList(level=level):
                return render_interview.build_topics(c, c.level(level) if level else None)
            case Unknown():
                return render.build_unknown(request)
            case cmd.QuestionSet(level=level_id, topic=topic, count=count, note=note):
                asked = c.level(level_id)
                pool = c.questions_for(level_id, topic)
                if not pool:
                    available = ", ".join(f"`{t.id}`" for t in c.topics_for(level_id)) or "none"
                    return render.build_unknown(
                        Unknown(
                            f"There are no {c.topic(topic).name if topic else ''} questions for {asked.name}. "
                            f"Topics for {asked.name}: {available}.",
                            command="interview",
                        )
                    )
                chosen = pick_questions(pool, count, rng or self._rng)
                return render_interview.build_questions(c, asked, chosen, topic=topic, note=note)
        raise AssertionError(f"unhandled request {request!r}")  # pragma: no cover

    # Buttons ------------------------------------------------------------------------------

    def shared_by(self, value: str, user_id: str) -> Message | None:
        """The answer a Share button carries, re-rendered for the channel with who shared it and the
        command it answers; None if the value is stale."""
        message = self.shared(value)
        if message is None:
            return None
        label = "/" + value.replace(":", " ", 1) if value.startswith("ladder:") else "/interview"
        return attributed(message, user_id, label)

    def shared(self, value: str) -> Message | None:
        """Re-render the answer a Share button carries, without buttons; None if the value is stale."""
        kind, _, rest = value.partition(":")
        if kind == "ladder":
            request = cmd.parse_ladder(rest, self.vocab, self.level_order)
            if isinstance(request, Unknown):
                return None
            return self.render_ladder(request, share=False)
        if kind == "interview":
            level_id, _, ids = rest.partition(":")
            if level_id not in self.level_order:
                return None
            by_id = {q.id: q for q in self.content.questions_for(level_id)}
            chosen = [by_id[i] for i in ids.split(",") if i in by_id][:MAX_QUESTION_COUNT]
            if not chosen:
                return None
            return render_interview.build_questions(self.content, self.content.level(level_id), chosen, share=False)
        return None


def pick_questions(pool: tuple[Question, ...], count: int, rng: random.Random) -> tuple[Question, ...]:
    """Up to `count` distinct questions, spread across topics round-robin so a mix covers ground."""
    by_topic: dict[str, list[Question]] = defaultdict(list)
    for question in pool:
        by_topic[question.topic].append(question)
    topics = sorted(by_topic)
    rng.shuffle(topics)
    for questions in by_topic.values():
        rng.shuffle(questions)
    chosen: list[Question] = []
    while len(chosen) < min(count, len(pool)):
        for topic in topics:
            if by_topic[topic] and len(chosen) < count:
                chosen.append(by_topic[topic].pop())
    return tuple(chosen)


def attributed(message: Message, user_id: str, label: str) -> Message:
    """A shared copy of an answer, saying who shared it."""
    note = bk.context(f"Shared by <@{user_id}> from `{bk.escape(label)}`")
    return Message(message.text, (*message.blocks, note))
