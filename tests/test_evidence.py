"""The evidence log's pure parts: the suggestion on ten messages engineers write, the expectations of a
level, the packet as data, Markdown and PDF, and the Block Kit it is shown with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.blocks import evidence as rb
from bot.blocks import kit as bk
from bot.blocks.team import build_team_summary
from bot.evidence.desk import fallback_permalink
from bot.evidence.expectations import expectations_for, group_matching, groups_for
from bot.evidence.packet import EvidenceRow, NoteRow, _PacketPDF, assemble, markdown, pdf
from bot.evidence.suggest import prompt_for_gap, scorer_for, stem
from bot.team.summary import PlanFacts, ReportRow, TeamRows, summarise
from tests.evidence_samples import HELD_OUT, SAMPLES
from tests.pdf_text import pdf_text

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_suggestion_puts_a_right_expectation_first_for_at_least_8_of_10_messages(content):
    scorer = scorer_for(content, "senior")
    first = {name: scorer.rank(text, limit=1) for name, text, _ in SAMPLES}
    right = [name for name, _, keys in SAMPLES if first[name] and first[name][0].key in keys]
    assert len(right) >= 8, {name: first[name] for name, _, _ in SAMPLES if name not in right}


def test_messages_the_weights_were_not_set_on_do_no_worse_than_when_written(content):
    scorer = scorer_for(content, "senior")
    right = [text for text, keys in HELD_OUT if (found := scorer.rank(text, limit=1)) and found[0].key in keys]
    assert len(right) >= 4, right


def test_a_suggestion_explains_itself_with_the_words_it_matched(content):
    [best] = scorer_for(content, "senior").rank("Spent the week mentoring our two junior engineers", limit=1)
    assert best.key == "dimension:impact:4" and {"mentor", "junior"} <= set(best.words)
    assert scorer_for(content, "senior").rank("lunch was nice", limit=3) == []


def test_stems_meet(content):
    assert stem("mentoring") == stem("mentors") == stem("mentor")
    assert stem("architectural") == stem("architecture")


def test_every_level_has_keyed_expectations_and_a_tip_for_each(content):
    for level in content.levels:
        expectations = expectations_for(content, level)
        assert len({e.key for e in expectations}) == len(expectations) >= 15
        for expectation in expectations:
            assert prompt_for_gap(content, level, expectation).strip()


@pytest.mark.parametrize(
    "words,group", [("scope", "scope"), ("Impact", "impact"), ("security", "security"), ("db", "data")]
)
def test_a_dimension_or_area_is_found_by_its_names(content, words, group):
    found = group_matching(content, content.level("senior"), words)
    assert found is not None and found.id == group
    assert group_matching(content, content.level("senior"), "cooking") is None


def packet(content, items=10):
    level = content.level("senior")
    scorer = scorer_for(content, level.id)
    evidence = [
        EvidenceRow(
            NOW - timedelta(days=i),
            text,
            "my part: all of it 🎉 <b>",
            "https://fake.slack.com/archives/C1/p1",
            "U1",
            tuple(s.key for s in scorer.rank(text, 1)),
        )
        for i, (_, text, _) in enumerate(SAMPLES[:items])
    ]
    reflections = [NoteRow(NOW, "I mentored a junior on SQL", "dimension:impact:4")]
    nudges = [NoteRow(NOW, "Review the APIs of one system as a whole", "area:api")]
    return assemble(content, level, "Ada Example", evidence, reflections, nudges, NOW)


def test_the_packet_is_organised_by_the_level_with_coverage_and_one_tip_per_gap(content):
    built = packet(content)
    total = len(expectations_for(content, content.level("senior")))
    assert [s.name for s in built.sections] == [g.name for g in groups_for(content, content.level("senior"))]
    assert built.total == total and built.covered == len(
        {e.expectation.key for s in built.sections for e in s.entries if e.items}
    )
    assert len(built.gaps) == total - built.covered
    assert built.coverage == f"Evidence for {built.covered} of {total} expectations"
    text = markdown(built)
    assert text.startswith("# Promotion packet: toward Senior Backend Engineer")
    assert "Reflections:" in text and "Nudges answered:" in text and "Try:" in text
    assert "&lt;b&gt;" not in text and "\\<b\\>" in text  # markup in people's words is escaped, not run


def test_the_pdf_is_a_pdf_without_the_glyphs_the_font_lacks(content):
    data = pdf(packet(content))
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    empty = pdf(packet(content, items=0))
    assert empty.startswith(b"%PDF-")


def test_the_save_modal_and_the_lists_keep_to_slacks_limits(content):
    level = content.level("senior")
    groups = tuple(
        rb.ExpectationGroup(g.name, tuple(rb.ExpectationOption(e.key, e.text) for e in g.expectations))
        for g in groups_for(content, level)
    )
    view = rb.build_save_modal(
        rb.SaveModalView(level.title, groups, ("area:api", "nope"), ("api",), {"l": "senior"}, "x" * 5000, "U1", "")
    )
    assert bk.blocks_problems(view["blocks"], max_blocks=100, max_total_text=None) == []
    select = next(b for b in view["blocks"] if b.get("block_id") == "evidence_expectations")["element"]
    assert [o["value"] for o in select["initial_options"]] == ["area:api"]
    assert all(len(o["text"]["text"]) <= 75 for g in select["option_groups"] for o in g["options"])
    lines = [rb.EvidenceLine("2026-11-23", "y" * 4000, "n" * 400, "https://x", ("a",))] * 40
    assert bk.message_problems(rb.build_evidence_list(lines, 60)) == []
    home = rb.build_home_section(level.title, [("Scope", [("z" * 300, 3)] * 30)], lines[:3])
    assert bk.blocks_problems(home) == []
    sent = rb.build_packet_sent("Evidence for 1 of 26 expectations", level.title, "senior", ["U1", "U2"])
    assert bk.message_problems(sent) == [] and len([b for b in sent.blocks if "accessory" in b]) == 2


def test_the_pdf_wraps_long_words_and_long_texts_within_the_page(content):
    level = content.level("senior")
    long_word = "x" * 3000
    rows = [EvidenceRow(NOW, long_word, "word " * 600, "", "", ("area:api",))]
    data = pdf(assemble(content, level, "A" * 300, rows, [], [], NOW))
    assert data.startswith(b"%PDF-")
    doc = _PacketPDF("t")
    doc.add_page()
    doc.set_font("DejaVu", "", 10)
    width = doc.w - doc.l_margin - doc.r_margin
    lines = doc.wrap(long_word + " and some words " * 50, width)
    assert len(lines) > 5 and all(doc.get_string_width(line) <= width + 0.01 for line in lines)
    assert "".join(lines).startswith(long_word) and doc.wrap("", width) == [""]
    doc.release_fonts()


def test_the_team_summary_counts_evidence_per_report_and_never_shows_it(content):
    plan = PlanFacts("mid", "senior", ("api",), "active")
    rows = TeamRows("UMGR", (ReportRow(1, "UALICE", plan), ReportRow(2, "UBOB", plan)), evidence={1: 3})
    summary = summarise(rows, NOW, content)
    assert [(r.user_id, r.evidence) for r in summary.reports] == [("UALICE", 3), ("UBOB", 0)]
    text = json.dumps(build_team_summary(content, summary).blocks)
    assert "3 evidence items" in text and text.count("evidence item") == 1


def test_the_team_summary_counts_evidence_for_a_report_with_no_plan_too(content):
    plan = PlanFacts("mid", "senior", ("api",), "active")
    reports = (ReportRow(1, "UALICE", None), ReportRow(2, "UBOB", None), ReportRow(3, "UCARA", plan))
    summary = summarise(TeamRows("UMGR", reports, evidence={1: 1, 3: 2}), NOW, content)
    text = json.dumps(build_team_summary(content, summary).blocks, ensure_ascii=False)
    assert "<@UALICE>: no plan yet · 1 evidence item" in text
    assert "<@UBOB>: no plan yet" in text and "<@UBOB>: no plan yet ·" not in text  # nothing logged: no count
    assert "2 evidence items" in text


def test_a_fallback_permalink_is_built_only_from_parts_that_look_like_slacks():
    assert (
        fallback_permalink("acme-eng", "C0ENG", "1732360000.123400")
        == "https://acme-eng.slack.com/archives/C0ENG/p1732360000123400"
    )
    for domain, channel, ts in (
        ("", "C0ENG", "1.2"),
        ("evil.example/x", "C0ENG", "1.2"),
        ("acme", "C0ENG/../x", "1.2"),
        ("acme", "C0ENG", "1.2?x=1"),
        ("acme", "", "1.2"),
        ("acme", "C0ENG", ""),
    ):
        assert fallback_permalink(domain, channel, ts) == "", (domain, channel, ts)


def test_the_packet_shows_authors_by_name_and_escapes_them(content):
    level = content.level("senior")
    rows = [EvidenceRow(NOW, "Thanks for the alert", "", "", "U0SAM", ("area:api",))]
    packet = assemble(content, level, "Alice", rows, [], [], NOW)
    assert packet.authors() == {"U0SAM"}
    named = packet.with_author_names({"U0SAM": "Sam *Lee*"})
    assert "(message by Sam \\*Lee\\*)" in markdown(named) and "U0SAM" not in markdown(named)
    assert "(message by U0SAM)" in markdown(packet.with_author_names({}))  # no name known: the id


def test_evidence_with_no_expectation_of_the_level_is_listed_not_left_out(content):
    """An item saved with nothing picked and nothing suggested shows none of the level's expectations: it is
    still the person's evidence, so the packet lists it under 'Other evidence' (Markdown and PDF) and the
    coverage does not count it."""
    level = content.level("senior")
    rows = [
        EvidenceRow(NOW, "Ran the quarterly book club", "", "", "U0SAM", ()),
        EvidenceRow(NOW, "Thanks for the alert", "", "", "", ("area:api",)),
    ]
    packet = assemble(content, level, "Alice", rows, [], [], NOW).with_author_names({"U0SAM": "Sam Lee"})
    assert [item.text for item in packet.other] == ["Ran the quarterly book club"]
    assert packet.covered == 1
    text = markdown(packet)
    assert "## Other evidence" in text and "Ran the quarterly book club (message by Sam Lee)" in text
    assert text.index("## Other evidence") < text.index("## Coverage and gaps")
    printed = pdf_text(pdf(packet))
    assert "Other evidence" in printed and "quarterly book club" in printed
    assert "Other evidence" not in markdown(assemble(content, level, "Alice", rows[1:], [], [], NOW))
