"""Action, block and callback ids shared by the Block Kit builders and the listeners, and the one way
to read a number that a button value, a modal's metadata or a command word carries."""

from enum import StrEnum


def whole_number(text: str) -> int | None:
    """The number `text` spells in ASCII digits, or None. str.isdigit alone also accepts "²" and other
    digits that int() refuses, which would turn a mangled value into a crash instead of a refusal."""
    return int(text) if text.isascii() and text.isdigit() else None


class ActionId(StrEnum):
    SHARE = "share_in_channel"
    LADDER_OPEN = "ladder_open"
    INTERVIEW_MORE = "interview_more"
    NUDGE_DONE = "nudge_done"
    NUDGE_SKIP = "nudge_skip"
    NUDGE_SNOOZE = "nudge_snooze"
    NUDGE_REFLECT = "nudge_reflect"
    GROWTH_SETUP_OPEN = "growth_setup_open"
    GROWTH_PAUSE = "growth_pause"
    GROWTH_RESUME = "growth_resume"
    GROWTH_FORGET_CONFIRM = "growth_forget_confirm"
    GROWTH_FORGET_CANCEL = "growth_forget_cancel"
    SETUP_LEVEL = "setup_level"
    SETUP_TARGET = "setup_target"
    SETUP_FOCUS = "setup_focus"
    SETUP_WEEKDAY = "setup_weekday"
    SETUP_TIME = "setup_time"
    REFLECTION_TEXT = "reflection_text"
    REFLECTION_SHARED = "reflection_shared"
    FOLLOW_ACCEPT = "follow_accept"
    FOLLOW_DECLINE = "follow_decline"
    FOLLOW_LEAVE = "follow_leave"
    EVIDENCE_LOG_WIN = "evidence_log_win"
    EVIDENCE_TEXT = "evidence_text"
    EVIDENCE_NOTE = "evidence_note"
    EVIDENCE_EXPECTATIONS = "evidence_expectations"
    PACKET_SHARE = "packet_share"
    EVIDENCE_SHARE = "evidence_share"
    EVIDENCE_SHARE_TO = "evidence_share_to"


class CallbackId(StrEnum):
    GROWTH_SETUP = "growth_setup"
    REFLECTION = "reflection"
    EVIDENCE = "evidence"
    SAVE_AS_EVIDENCE = "save_as_evidence"  # the message shortcut, as manifest.yml names it


class BlockId(StrEnum):
    SETUP_LEVEL = "setup_level"
    SETUP_TARGET = "setup_target"
    SETUP_FOCUS = "setup_focus"
    SETUP_WEEKDAY = "setup_weekday"
    SETUP_TIME = "setup_time"
    REFLECTION_TEXT = "reflection_text"
    REFLECTION_SHARED = "reflection_shared"
    EVIDENCE_TEXT = "evidence_text"
    EVIDENCE_NOTE = "evidence_note"
    EVIDENCE_EXPECTATIONS = "evidence_expectations"
