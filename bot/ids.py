"""Action, block and callback ids shared by the Block Kit builders and the listeners."""

from enum import StrEnum


class ActionId(StrEnum):
    SHARE = "share_in_channel"
    LADDER_OPEN = "ladder_open"
    INTERVIEW_MORE = "interview_more"
