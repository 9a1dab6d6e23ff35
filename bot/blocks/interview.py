"""Pure Block Kit builders for the /interview answers: questions with what a strong answer shows,
the topic list and the help. Content in, Message out, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks import kit as bk
from bot.blocks.kit import Message
from bot.blocks.ladder import MAX_QUESTION_COUNT, sources_line, with_share
from bot.content.records import Content, Level, Question
from bot.ids import ActionId


def question_markdown(content: Content, number: int, question: Question, level: Level) -> str:
    topic = content.topic(question.topic).name
    origin = "from the source ladder" if question.origin == "seed" else "ladderbot bank"
    return (
        f"*{number}. {bk.escape(question.question)}*\n_{bk.escape(topic)} · {origin}_\n"
        f"*A strong {bk.escape(level.name)} answer:* {bk.escape(question.strong_at(level.id))}"
    )


def build_questions(
    content: Content,
    level: Level,
    questions: Sequence[Question],
    *,
    topic: str | None = None,
    note: str = "",
    share: bool = True,
) -> Message:
    topic_name = content.topic(topic).name if topic else ""
    title = f"Interview questions: {level.title}" + (f", {topic_name}" if topic_name else "")
    blocks: list[bk.Block] = [bk.header(title)]
    if note:
        blocks.append(bk.context(bk.escape(note)))
    for number, question in enumerate(questions, start=1):
        blocks.append(bk.section(question_markdown(content, number, question, level)))
    pool = len(content.questions_for(level.id, topic))
    blocks.append(
        bk.context(
            f"{len(questions)} of {pool} questions for this level{' and topic' if topic else ''}. "
            f"`/interview topics {level.id}` lists the topics."
        )
    )
    blocks.append(bk.context(sources_line(content, [q.source for q in questions])))
    share_value = f"interview:{level.id}:{','.join(q.id for q in questions)}"
    more_value = f"{level.id} {topic or ''} {len(questions)}".replace("  ", " ")
    text = f"{title}: " + " | ".join(q.question for q in questions)
    return Message(
        bk.clip(text, bk.MAX_FALLBACK_TEXT),
        with_share(
            blocks,
            share_value if share else None,
            *([bk.button("Different questions", ActionId.INTERVIEW_MORE, more_value)] if share else []),
        ),
    )


def build_topics(content: Content, level: Level | None = None) -> Message:
    levels = [level] if level else list(content.levels)
    lines = []
    for topic in content.topics:
        counts = [(lv, len(content.questions_for(lv.id, topic.id))) for lv in levels]
        available = [f"{lv.name} {n}" for lv, n in counts if n]
        if available:
            lines.append(f"• *{bk.escape(topic.name)}* (`{topic.id}`): {', '.join(available)}")
    heading = f"Interview topics for {level.name}" if level else "Interview topics"
    blocks = (
        bk.header(heading),
        bk.section("\n".join(lines) if lines else "No questions yet."),
        bk.context("Ask with `/interview <level> [topic] [count]`, e.g. `/interview staff system-design 3`."),
    )
    return Message(heading + ": " + ", ".join(t.name for t in content.topics), blocks)


def build_interview_help(content: Content) -> Message:
    example = content.levels[min(3, len(content.levels) - 1)].id
    lines = [
        (
            f"`/interview {example}`",
            f"a mix of questions for the level, with what a strong answer shows (up to {MAX_QUESTION_COUNT})",
        ),
        (f"`/interview {example} system-design`", "questions on one topic"),
        (f"`/interview {example} system-design 3`", "how many questions to show"),
        ("`/interview topics [level]`", "the topics and how many questions each has"),
    ]
    blocks = (
        bk.header("/interview: how to use it"),
        bk.section("\n".join(f"• {cmd}: {what}" for cmd, what in lines)),
        bk.section("*Levels:* " + ", ".join(f"`{lv.id}`" for lv in content.levels)),
        bk.context(
            "Questions marked _from the source ladder_ come from the ladder's own documents; "
            "the rest are ladderbot's bank, written for each level."
        ),
    )
    return Message("How to use /interview: /interview <level> [topic] [count], /interview topics", blocks)
