"""The promotion packet: a person's evidence, reflections and answered nudges, organised by the target
level's dimensions and growth areas, with the coverage and the gaps (each with one suggestion from the
ladder content). Built as plain data first (`assemble`, no Session), then written as Markdown and as PDF.

PDF: fpdf2, pure Python (its dependencies, Pillow and fontTools, are already here through matplotlib), no
browser and no network. The font is the DejaVu Sans that matplotlib ships, so any Latin, Greek or Cyrillic
text and the usual typographic marks print; characters the font lacks (emoji, CJK) are left out of the PDF
only (the Markdown keeps them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import TTFFont
from sqlalchemy.orm import Session

from bot.content.records import Content, Level
from bot.evidence.expectations import Expectation, groups_for
from bot.evidence.store import evidence_of, keys_at
from bot.evidence.suggest import prompt_for_gap, scorer_for
from bot.growth import plans as growth
from bot.storage.models import Person

HISTORY = 10_000  # every row of a person's history: two years is about 100 of each


@dataclass(frozen=True, slots=True)
class ItemLine:
    day: str  # YYYY-MM-DD
    text: str
    note: str = ""
    permalink: str = ""
    author: str = ""  # the message author's name (a Slack user id until `with_author_names`), or ""


@dataclass(frozen=True, slots=True)
class Entry:
    expectation: Expectation
    items: tuple[ItemLine, ...]
    reflections: tuple[ItemLine, ...]
    nudges: tuple[ItemLine, ...]


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class Packet:
    person: str  # the name shown on the first page
    level_id: str
    level_title: str
    generated: str
    sections: tuple[Section, ...]
    covered: int  # expectations with at least one evidence item
    total: int
    gaps: tuple[tuple[Expectation, str], ...]  # (expectation, one suggestion)
    # items that show none of this level's expectations (saved with none picked, or for another level's):
    # still the person's evidence, so listed on their own rather than left out
    other: tuple[ItemLine, ...] = ()

    @property
    def coverage(self) -> str:
        return f"Evidence for {self.covered} of {self.total} expectations"

    def authors(self) -> set[str]:
        """The message authors the items name (Slack user ids, before `with_author_names`)."""
        listed = [item for s in self.sections for e in s.entries for item in e.items] + list(self.other)
        return {item.author for item in listed if item.author}

    def with_author_names(self, names: Mapping[str, str]) -> Packet:
        """The same packet with each item's author shown by name (`names`: user id to name; an id it does
        not hold stays as it is)."""

        def named(item: ItemLine) -> ItemLine:
            return replace(item, author=names.get(item.author, item.author)) if item.author else item

        sections = tuple(
            Section(s.name, tuple(replace(e, items=tuple(named(i) for i in e.items)) for e in s.entries))
            for s in self.sections
        )
        return replace(self, sections=sections, other=tuple(named(i) for i in self.other))


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    created_at: datetime
    text: str
    note: str
    permalink: str
    author: str
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NoteRow:
    """A reflection, or an answered nudge (its prompt's text), with the expectation it is about."""

    created_at: datetime
    text: str
    key: str


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def assemble(
    content: Content,
    level: Level,
    person: str,
    evidence: Iterable[EvidenceRow],
    reflections: Iterable[NoteRow],
    nudges: Iterable[NoteRow],
    now: datetime,
) -> Packet:
    """The packet from plain rows, newest first under each expectation."""
    by_key: dict[str, list[ItemLine]] = {}
    other: list[ItemLine] = []
    groups = groups_for(content, level)
    level_keys = {e.key for group in groups for e in group.expectations}
    for row in sorted(evidence, key=lambda r: r.created_at, reverse=True):
        line = ItemLine(_day(row.created_at), row.text, row.note, row.permalink, row.author)
        for key in row.keys:
            by_key.setdefault(key, []).append(line)
        if not level_keys.intersection(row.keys):
            other.append(line)
    notes: dict[tuple[str, str], list[ItemLine]] = {}
    for kind, rows in (("reflection", reflections), ("nudge", nudges)):
        for note in sorted(rows, key=lambda r: r.created_at, reverse=True):
            notes.setdefault((kind, note.key), []).append(ItemLine(_day(note.created_at), note.text))
    sections: list[Section] = []
    gaps: list[tuple[Expectation, str]] = []
    covered = total = 0
    for group in groups:
        entries = []
        for expectation in group.expectations:
            items = tuple(by_key.get(expectation.key, ()))
            total += 1
            if items:
                covered += 1
            else:
                gaps.append((expectation, prompt_for_gap(content, level, expectation)))
            entries.append(
                Entry(
                    expectation,
                    items,
                    tuple(notes.get(("reflection", expectation.key), ())),
                    tuple(notes.get(("nudge", expectation.key), ())),
                )
            )
        sections.append(Section(group.name, tuple(entries)))
    return Packet(person, level.id, level.title, _day(now), tuple(sections), covered, total, tuple(gaps), tuple(other))


def load_packet(session: Session, content: Content, person: Person, level: Level, name: str, now: datetime) -> Packet:
    """The person's own packet toward `level`: only their rows are read."""
    scorer = scorer_for(content, level.id)
    evidence = [
        EvidenceRow(
            item.created_at,
            item.text,
            item.note,
            item.permalink or "",
            item.author_user_id or "",
            tuple(keys_at(content, level, item)),
        )
        for item in evidence_of(session, person)
    ]
    reflections = []
    for reflection in growth.reflections_of(session, person, limit=HISTORY):
        found = scorer.best(reflection.text)
        if found is not None:
            reflections.append(NoteRow(reflection.created_at, reflection.text, found.key))
    reflected = growth.reflected_delivery_ids(session, person)
    areas = {e.key for e in scorer.expectations if e.kind == "area"}
    nudges = []
    for delivery in growth.deliveries_of(session, person, limit=HISTORY):
        prompt = content.prompt(delivery.prompt_id)
        if prompt is None or not (delivery.answer == "done" or delivery.id in reflected):
            continue
        key = f"area:{prompt.area}" if f"area:{prompt.area}" in areas else ""
        if not key:
            found = scorer.best(prompt.text)
            key = found.key if found else ""
        if key:
            nudges.append(NoteRow(delivery.answered_at or delivery.due_at, prompt.text, key))
    return assemble(content, level, name, evidence, reflections, nudges, now)


# --- Markdown ---------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """One line of Markdown: newlines folded, the characters that would start markup escaped."""
    flat = " ".join(text.split())
    for char in "\\`*_[]<>#|":
        flat = flat.replace(char, "\\" + char)
    return flat


def _md_item(item: ItemLine) -> str:
    line = f"- {item.day}: {_md(item.text) or '(link only)'}"
    if item.note:
        line += f" *Note:* {_md(item.note)}"
    if item.author:
        line += f" (message by {_md(item.author)})"
    if item.permalink:
        line += f" [Open in Slack]({item.permalink})"
    return line


def markdown(packet: Packet) -> str:
    out = [
        f"# Promotion packet: toward {_md(packet.level_title)}",
        "",
        f"{_md(packet.person)}, {packet.generated}. **{packet.coverage}.**",
        "",
        "Each expectation of the level lists the evidence that shows it, the reflections that mention it and "
        "the weekly nudges answered for it. The gaps at the end each come with one thing to try.",
    ]
    for section in packet.sections:
        out += ["", f"## {_md(section.name)}"]
        for entry in section.entries:
            out += ["", f"### {_md(entry.expectation.text)}", ""]
            if entry.items:
                out += [_md_item(item) for item in entry.items]
            else:
                out.append("*No evidence yet.*")
            if entry.reflections:
                out += ["", "Reflections:"] + [_md_item(r) for r in entry.reflections]
            if entry.nudges:
                out += ["", "Nudges answered:"] + [_md_item(n) for n in entry.nudges]
    if packet.other:
        out += ["", "## Other evidence", "", "Saved without an expectation of this level:", ""]
        out += [_md_item(item) for item in packet.other]
    out += ["", "## Coverage and gaps", "", f"**{packet.coverage}.**", ""]
    out += [f"- **{_md(e.text)}** ({_md(e.group_name)}). Try: {_md(tip)}" for e, tip in packet.gaps]
    if not packet.gaps:
        out.append("No gaps: every expectation has evidence.")
    return "\n".join(out) + "\n"


# --- PDF --------------------------------------------------------------------------------------------

FONT = "DejaVu"
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (44, 62, 80)


@lru_cache(maxsize=1)
def _font_files() -> tuple[str, str]:
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return str(fonts / "DejaVuSans.ttf"), str(fonts / "DejaVuSans-Bold.ttf")


class _PacketPDF(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        regular, bold = _font_files()
        self.add_font(FONT, "", regular)
        self.add_font(FONT, "B", bold)
        font = self.fonts[FONT.lower()]
        self.glyphs = set(font.cmap) if isinstance(font, TTFFont) else set(range(32, 256))
        self.packet_title = title
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=18)
        self.set_title(title)
        self.set_creator("ladderbot")

    def release_fonts(self) -> None:
        """Close the font files: fpdf2 reads them lazily and leaves them open until the GC runs."""
        for font in self.fonts.values():
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()

    def clean(self, text: str) -> str:
        """Only the characters the font can draw (the PDF must not show empty boxes)."""
        return "".join(c for c in " ".join(text.split()) if ord(c) in self.glyphs)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.clean(f"{self.packet_title} · page {self.page_no()}"), align="C")

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` in lines no wider than `width` mm in the current font, breaking between words (a word
        longer than a line is cut). fpdf2's multi_cell measures each line again for every character it
        adds, which made a two-year packet take seconds; this measures each character once."""
        widths = self.current_font.cw if isinstance(self.current_font, TTFFont) else None
        scale = self.font_size_pt * 0.001 / self.k

        def measure(chunk: str) -> float:
            if widths is None:
                return float(self.get_string_width(chunk))
            return sum(widths[ord(c)] for c in chunk) * scale

        space = measure(" ")
        lines: list[str] = []
        line, used = "", 0.0
        for word in text.split(" "):
            size = measure(word)
            while size > width:  # a word wider than the line: cut it where it fits
                cut = max(1, int(len(word) * width / size))
                if line:
                    lines.append(line)
                lines.append(word[:cut])
                word, line, used = word[cut:], "", 0.0
                size = measure(word)
            if line and used + space + size > width:
                lines.append(line)
                line, used = "", 0.0
            line, used = (f"{line} {word}", used + space + size) if line else (word, size)
        if line or not lines:
            lines.append(line)
        return lines

    def lines_at(self, x: float, text: str, h: float) -> None:
        """Write `text` wrapped to the page from `x`, each line starting at `x` (on a new page too)."""
        for line in self.wrap(self.clean(text), self.w - self.r_margin - x):
            self.set_x(x)
            self.cell(self.w - self.r_margin - x, h, line, new_x="LMARGIN", new_y="NEXT")

    def para(
        self, text: str, size: float = 10, style: str = "", color: tuple[int, int, int] = INK, h: float = 5
    ) -> None:
        self.set_font(FONT, style, size)
        self.set_text_color(*color)
        self.lines_at(self.get_x(), text, h)

    def item(self, item: ItemLine, label: str = "") -> None:
        self.set_x(self.l_margin + 4)
        self.set_font(FONT, "B", 9)
        self.set_text_color(*MUTED)
        self.cell(22, 5, item.day)
        self.set_font(FONT, "", 9.5)
        self.set_text_color(*INK)
        text = label + (item.text or "(link only)")
        if item.note:
            text += f"  Note: {item.note}"
        if item.author:
            text += f"  (message by {item.author})"
        self.lines_at(self.l_margin + 26, text, 5)
        if item.permalink:
            self.set_x(self.l_margin + 26)
            self.set_font(FONT, "", 8.5)
            self.set_text_color(*ACCENT)
            self.cell(0, 4.5, "Open in Slack", link=item.permalink, new_x="LMARGIN", new_y="NEXT")


def pdf(packet: Packet) -> bytes:
    doc = _PacketPDF(f"Promotion packet: toward {packet.level_title}")
    doc.add_page()
    doc.para(f"Promotion packet: toward {packet.level_title}", size=18, style="B", color=ACCENT, h=9)
    doc.para(f"{packet.person} · {packet.generated}", size=10, color=MUTED)
    doc.ln(2)
    doc.para(packet.coverage + ".", size=13, style="B", h=7)
    doc.para(
        "Each expectation of the level lists the evidence that shows it, the reflections that mention it and "
        "the weekly nudges answered for it. The gaps at the end each come with one thing to try.",
        size=9.5,
        color=MUTED,
    )
    for section in packet.sections:
        doc.ln(3)
        doc.para(section.name, size=14, style="B", color=ACCENT, h=8)
        for entry in section.entries:
            doc.ln(1)
            doc.para(entry.expectation.text, size=10.5, style="B", h=5.5)
            if not entry.items:
                doc.para("No evidence yet.", size=9, color=MUTED)
            for item in entry.items:
                doc.item(item)
            for reflection in entry.reflections:
                doc.item(reflection, "Reflection: ")
            for nudge in entry.nudges:
                doc.item(nudge, "Nudge answered: ")
    if packet.other:
        doc.ln(3)
        doc.para("Other evidence", size=14, style="B", color=ACCENT, h=8)
        doc.para("Saved without an expectation of this level:", size=9.5, color=MUTED)
        for item in packet.other:
            doc.item(item)
    doc.ln(3)
    doc.para("Coverage and gaps", size=14, style="B", color=ACCENT, h=8)
    doc.para(packet.coverage + ".", size=10.5, style="B")
    for expectation, tip in packet.gaps:
        doc.para(f"{expectation.text} ({expectation.group_name})", size=9.5, style="B")
        doc.set_x(doc.l_margin + 4)
        doc.para(f"Try: {tip}", size=9.5, color=MUTED)
    try:
        return bytes(doc.output())
    finally:
        doc.release_fonts()
