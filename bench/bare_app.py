"""A bare Bolt app on the same server stack as ladderbot, whose commands only ack "ok".

BARE_MODE=floor: acks from the request thread (process_before_response=True), the fastest Bolt can answer.
BARE_MODE=default: Bolt's default mode, where the HTTP thread waits for the ack by polling every 10 ms.
WEB_CONCURRENCY and WEB_THREADS: processes and threads, as for `ladderbot serve`.
"""

from __future__ import annotations

import json
import os

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.web.server import run_gunicorn


def build_wsgi():
    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        # the same fake Slack as ladderbot: Bolt's authorization calls auth.test once and caches it
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        process_before_response=os.environ.get("BARE_MODE", "floor") == "floor",
    )

    def ok(ack):
        ack("ok")

    app.command("/ladder")(ok)
    app.command("/interview")(ok)
    bolt = SlackRequestHandler(app)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            body = json.dumps({"status": "ok"}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return bolt(environ, start_response)

    return wsgi


if __name__ == "__main__":
    run_gunicorn(
        build_wsgi,
        port=int(os.environ["PORT"]),
        threads=int(os.environ.get("WEB_THREADS", "8")),
        workers=int(os.environ.get("WEB_CONCURRENCY", "1")),  # the same process count as ladderbot's, for the floor
        log_level="warning",
    )
