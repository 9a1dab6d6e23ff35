"""What ladderbot counts for Prometheus: requests, Slack API calls, the clock's sends and passes, token refreshes.

The metrics are defined here, in a module every layer may import, and incremented where things happen: Bolt
requests in bot.app, Slack calls in the paced client (bot.clock.pacing) and, for the clients Bolt gives listeners,
by a `SlackCallMeter` on the App's client (bot.app), clock passes in bot.clock.scheduler, token refreshes in
bot.install.store.
bot.web.metrics serves them at GET /metrics, adds the gauges read from the database at each scrape (nudges and
digests pending, the clock's lag) and, under gunicorn's several processes, adds up every process's values
(prometheus_client's multiprocess mode: PROMETHEUS_MULTIPROC_DIR must be set before this module is imported,
which `ladderbot serve` does).

Labels take only values from bounded sets (command names, payload types, Slack methods and error codes), never
an id or a text, so the number of series stays small.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter, Histogram
from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

# seconds: a command's ack must come within Slack's 3 s; a pass may run for minutes at Slack's pace
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
PASS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
LATENESS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

REQUESTS = Counter(
    "ladderbot_requests",
    "Requests from Slack (commands, interactions, events) by kind and outcome: ok, refused (a clear no), "
    "unhandled (acked quietly), error (an unexpected failure), unverified (bad signature), rejected (other 4xx)",
    ["kind", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "ladderbot_request_seconds",
    "Time from a request's arrival to its acknowledgement (Slack waits at most 3 s)",
    ["kind"],
    buckets=REQUEST_BUCKETS,
)
LISTENER_ERRORS = Counter(
    "ladderbot_listener_errors",
    "Unexpected exceptions in listeners, including work done after the acknowledgement (lazy listeners)",
)
SLACK_CALLS = Counter(
    "ladderbot_slack_api_calls",
    "Slack Web API calls sent by the clock and the request path, by method and Slack's error "
    "('none' when ok, 'ratelimited' for a 429, 'connection' when Slack could not be reached)",
    ["method", "error"],
)
NUDGES = Counter(
    "ladderbot_nudges",
    "Weekly nudges by outcome: sent, recovered (found delivered after a crash), retrying, failed, missed, lost",
    ["outcome"],
)
DIGESTS = Counter(
    "ladderbot_digests",
    "Weekly team digests by outcome: sent, failed (or to be retried), missed (too late to send)",
    ["outcome"],
)
REMINDERS = Counter("ladderbot_reminders_sent", "'Remind me tomorrow' reminders sent")
PACED = Counter(
    "ladderbot_sends_paced",
    "Sends put back in line by the pacer or by a 429 (not failures: they go out later)",
)
CLOCK_PASSES = Counter(
    "ladderbot_clock_passes", "Clock passes by outcome: ok, failed (tried again a minute later)", ["outcome"]
)
CLOCK_PASS_SECONDS = Histogram(
    "ladderbot_clock_pass_seconds", "How long one clock pass took (nudges, reminders, digests)", buckets=PASS_BUCKETS
)
NUDGE_LATENESS = Histogram(
    "ladderbot_nudge_lateness_seconds", "Seconds between a nudge's due time and its post", buckets=LATENESS_BUCKETS
)
TOKEN_REFRESHES = Counter(
    "ladderbot_token_refreshes", "Bot token refreshes (OAuth token rotation) by outcome: ok, failed", ["outcome"]
)

# the kinds of payload Slack sends; anything else is counted as "other", so a label never takes a stranger's value
PAYLOAD_TYPES = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
        "interactive_message",
        "dialog_submission",
        "url_verification",
        "app_rate_limited",
    }
)
MAX_LABEL_LENGTH = 40
OUTCOME_KEY = "ladderbot_outcome"  # set in a request's Bolt context by the error handler (bot.app)


def _label(value: Any) -> str:
    """A label value from Slack's payload: short, printable and never empty."""
    text = str(value or "")[:MAX_LABEL_LENGTH]
    return text if text and text.isprintable() and " " not in text else "other"


def request_kind(body: Mapping[str, Any] | None) -> str:
    """'/ladder', 'block_actions', 'view_submission', 'event:app_home_opened'... for the metrics' kind label."""
    if not isinstance(body, Mapping):
        return "other"
    command = body.get("command")
    if isinstance(command, str) and command.startswith("/"):
        return _label(command)
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event")
        return "event:" + _label(event.get("type") if isinstance(event, Mapping) else None)
    return str(kind) if kind in PAYLOAD_TYPES else "other"


def request_outcome(status: int, outcome: str | None) -> str:
    """The outcome the error handler recorded, else what the HTTP status says."""
    if outcome:
        return outcome
    if status < 400:
        return "ok"
    if status == 401:
        return "unverified"
    return "rejected" if status < 500 else "error"


def request_done(body: Mapping[str, Any] | None, status: int, outcome: str | None, seconds: float) -> None:
    """One request answered: counted by kind and outcome, its time to the ack observed."""
    # a request whose signature failed is a stranger's: its command name or type is not to be trusted as a label
    kind = "unverified" if status == 401 else request_kind(body)
    REQUESTS.labels(kind=kind, outcome=request_outcome(status, outcome)).inc()
    REQUEST_SECONDS.labels(kind=kind).observe(seconds)


def slack_call(method: str, error: str | None) -> None:
    """One Slack Web API call answered (`error`: None when ok, else Slack's error code)."""
    SLACK_CALLS.labels(method=_label(method), error=_label(error) if error else "none").inc()


class SlackCallMeter(RetryHandler):
    """Counts every answer Slack's Web API gives a WebClient (`slack_call`), retried attempts included (each 429
    is one 'ratelimited'), and never retries anything itself.

    slack_sdk's WebClient asks its retry handlers, in order, after every attempt of every call (a 200 too), until
    one of them retries: a meter first in the list sees each attempt once and leaves the decision to the handlers
    after it. Bolt gives each request's listeners a WebClient of its own, built with a copy of the App client's
    retry handlers (slack_bolt.App._init_context), and lazy listeners get that same client: so `meter(client)` on
    the client passed to App counts the calls of every listener (views.open, views.publish, users.info...) with no
    change to Bolt. The clock's paced client counts its calls in its own api_call (bot.clock.pacing) and has no
    meter. File uploads to the URL files.getUploadURLExternal returns are not Web API calls and are not counted."""

    def __init__(self, base_url: str):
        super().__init__(max_retry_count=0)
        self.base_url = base_url

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.startswith(self.base_url):
            method = request.url[len(self.base_url) :].split("?", 1)[0]
            slack_call(method, answer_error(response))
        return False


def answer_error(response: HttpResponse | None) -> str | None:
    """Slack's error code in an answer: None when ok, 'ratelimited' for a 429, 'connection' for no answer."""
    if response is None:
        return "connection"
    if response.status_code == 429:
        return "ratelimited"
    body = response.body
    if body is None and response.data:
        try:
            body = json.loads(response.data)
        except ValueError:
            body = None
    if isinstance(body, Mapping):
        if body.get("ok") and response.status_code < 400:
            return None
        if body.get("error"):
            return str(body["error"])
    return f"http_{response.status_code}" if response.status_code >= 400 else "unknown"


def meter(client: WebClient) -> WebClient:
    """Put a `SlackCallMeter` first among `client`'s retry handlers (once), so its calls, and those of the clients
    Bolt builds from it, are counted."""
    if not any(isinstance(h, SlackCallMeter) for h in client.retry_handlers):
        client.retry_handlers = [SlackCallMeter(client.base_url), *client.retry_handlers]
    return client


def clock_pass_done(
    seconds: float,
    nudges: Mapping[str, int],
    digests: Mapping[str, int],
    reminders: int,
    paced: int,
    lateness: Iterable[float],
) -> None:
    """One clock pass finished: its duration, what it sent and how late each nudge went out."""
    CLOCK_PASSES.labels(outcome="ok").inc()
    CLOCK_PASS_SECONDS.observe(seconds)
    for outcome, count in nudges.items():
        if count:
            NUDGES.labels(outcome=outcome).inc(count)
    for outcome, count in digests.items():
        if count:
            DIGESTS.labels(outcome=outcome).inc(count)
    if reminders:
        REMINDERS.inc(reminders)
    if paced:
        PACED.inc(paced)
    for seconds_late in lateness:
        NUDGE_LATENESS.observe(max(0.0, seconds_late))


def clock_pass_failed() -> None:
    CLOCK_PASSES.labels(outcome="failed").inc()


def token_refreshed(ok: bool) -> None:
    """For the OAuth token rotation (bot.install): one refresh tried."""
    TOKEN_REFRESHES.labels(outcome="ok" if ok else "failed").inc()
