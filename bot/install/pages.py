"""The pages a person sees at the end of an install: plain HTML built from plain data, every value escaped."""

from __future__ import annotations

from html import escape

# What went wrong, in words, for each reason Bolt's OAuth flow gives (slack_bolt.oauth.oauth_flow)
FAILURE_TEXTS = {
    "access_denied": "The install was cancelled in Slack, so ladderbot was not added to your workspace.",
    "invalid_browser": (
        "This install link was not started in this browser, or it has already been used. "
        "For your safety nothing was installed."
    ),
    "invalid_state": "This install link has expired or has already been used. Nothing was installed.",
    "missing_code": "Slack sent no install code back. Nothing was installed.",
    "invalid_code": "Slack did not accept the install code (it may have been used already). Nothing was installed.",
    "storage_error": "The install could not be saved on our side. Nothing was installed; please try again.",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1d1c1d}"
    "h1{font-size:1.5rem}a{color:#1264a3}"
)


def _page(title: str, paragraphs: list[str], link: tuple[str, str] | None) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    if link is not None:
        body += f'<p><a href="{escape(link[0], quote=True)}">{escape(link[1])}</a></p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def success_page(workspace_name: str) -> str:
    return _page(
        "ladderbot is installed",
        [
            f"ladderbot is now installed in {workspace_name}.",
            "Open Slack and type /ladder or /growth to begin. You can close this page.",
        ],
        None,
    )


def failure_page(reason: str, install_path: str) -> str:
    text = FAILURE_TEXTS.get(reason, "The install did not complete. Nothing was installed.")
    return _page(
        "ladderbot was not installed", [text, f"(reason: {reason})"], (install_path, "Start the install again")
    )


def install_page(authorize_url: str) -> str:
    return _page(
        "Add ladderbot to Slack",
        ["ladderbot answers /ladder, /interview and /growth in your workspace and sends weekly growth nudges."],
        (authorize_url, "Add to Slack"),
    )
