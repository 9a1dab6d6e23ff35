"""The digest's chart: weekly engagement per person, rendered off-screen to PNG bytes.

matplotlib is imported on first use, so the web process never pays for it unless a digest is due, and
only its object API is used (Figure + the Agg canvas): no pyplot, no global state, safe off the main thread.
"""

from __future__ import annotations

import io
from datetime import datetime

from bot.blocks.team import TeamSummary

MAX_ROWS = 60
COLOURS = ("#eeeeee", "#f4b183", "#4e9a6b")  # nothing sent, sent but not answered, answered


def engagement_chart(summary: TeamSummary, names: dict[str, str]) -> bytes:
    """One row per report, one column per week: answered, sent but unanswered, or no nudge."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    reports = summary.reports[:MAX_ROWS]
    rows = [list(r.weekly) for r in reports] or [[0] * len(summary.week_starts)]
    labels = [names.get(r.user_id, r.user_id)[:24] for r in reports] or ["(nobody yet)"]
    height = 1.6 + 0.28 * len(rows)
    figure = Figure(figsize=(8, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(rows, cmap=ListedColormap(COLOURS), vmin=0, vmax=2, aspect="auto", interpolation="nearest")
    axes.set_yticks(range(len(labels)), labels=labels, fontsize=8)
    axes.set_xticks(
        range(len(summary.week_starts)), labels=[_week_label(d) for d in summary.week_starts], fontsize=7, rotation=45
    )
    axes.set_title("Weekly nudges answered, last 12 weeks", fontsize=10)
    axes.tick_params(length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    figure.legend(
        handles=[
            Patch(color=c, label=t) for c, t in zip(COLOURS, ("no nudge", "not answered", "answered"), strict=True)
        ],
        loc="lower center",
        ncols=3,
        fontsize=8,
        frameon=False,
    )
    figure.subplots_adjust(left=0.22, right=0.98, top=1 - 0.45 / height, bottom=0.9 / height)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _week_label(start: datetime) -> str:
    return f"{start:%d %b}"
