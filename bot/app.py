"""The app factory: one place where the Bolt app, its client and the listeners are wired."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient

from bot import logs, metrics
from bot.errors import RefusedError
from bot.install import ContextExecutor, remember_install
from bot.services import Services, make_web_client
from handlers import register_all

logger = logging.getLogger(__name__)

LISTENER_THREADS = 5  # threads a process runs lazy listeners (follow-ups after the ack) on: Bolt's default


class _DropClientTokenWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and then warns that the client we
    pass wins; our client carries that same token, so the warning only misleads operators."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


LAZY_FAILURE = "Failed to run an internal function"  # how Bolt logs an exception a lazy listener raised


class _LazyListenerErrors(logging.Filter):
    """Bolt catches what a lazy listener (work after the ack) raises and logs it at ERROR on the app's logger, from
    inside its `except` block, with the exception's text only. This counts it among the listener errors and puts
    its traceback on the line (cleaned by bot.logs' Redactor like any other)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(LAZY_FAILURE):
            metrics.LISTENER_ERRORS.inc()
            if record.exc_info is None and sys.exc_info()[1] is not None:
                record.exc_info = sys.exc_info()
        return True


class _ObservedApp(App):
    """Bolt's App, with each request's ids on every log line written while it is handled (bot.logs), and the
    request counted by kind and outcome with its time to the ack (bot.metrics). Over HTTP and Socket Mode alike:
    both adapters hand every request to `dispatch`."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        started = time.perf_counter()
        with logs.request_context(req.body):
            response = super().dispatch(req)
        outcome = req.context.get(metrics.OUTCOME_KEY)
        metrics.request_done(req.body, response.status, outcome, time.perf_counter() - started)
        return response


def create_app(services: Services, *, client: WebClient | None = None) -> App:
    """A Bolt app that acks from the request thread (process_before_response) so answers built from
    local content go back in the HTTP response itself; Web API work runs in lazy listeners.

    A request no listener takes (a button from an old message whose action id is gone, a view we do
    not know, a shortcut we do not declare) is acknowledged with an empty 200 and logged at info:
    Bolt's answer would be a 404, which Slack shows the person as a warning sign."""
    bolt_logger = logging.getLogger("slack_bolt")
    for kind in (_DropClientTokenWarning, _LazyListenerErrors):
        if not any(isinstance(f, kind) for f in bolt_logger.filters):
            bolt_logger.addFilter(kind())
    # several workspaces (OAuth): Bolt's install pages and per-request authorization on bot.install's stores
    install = services.install
    multi: dict[str, Any] = {} if install is None else {"oauth_settings": install.oauth_settings()}
    app = _ObservedApp(
        # every Slack call of the listeners is counted by method and error: Bolt builds each request's client
        # with a copy of this one's retry handlers, the meter first among them (bot.metrics.SlackCallMeter)
        client=metrics.meter(client or make_web_client(services.settings)),
        signing_secret=services.settings.slack_signing_secret,
        process_before_response=True,
        raise_error_for_unhandled_request=True,  # unmatched requests reach on_error, which acks them
        logger=bolt_logger,
        # lazy listeners run in a copy of the request thread's context: its log ids (bot.logs) and, with
        # several workspaces, its installation (bot.install.routing) go with them
        listener_executor=ContextExecutor(max_workers=LISTENER_THREADS),
        **multi,
    )
    if install is not None:
        app.use(remember_install)

    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None, context: BoltContext
    ) -> BoltResponse:
        if isinstance(error, BoltUnhandledRequestError):
            context[metrics.OUTCOME_KEY] = "unhandled"
            logger.info("no listener for %s; acknowledged quietly", describe_request(body))
            return BoltResponse(status=200, body="")
        if isinstance(error, RefusedError):
            # a safety net: features raise refusals for listeners to answer; one that slips through is
            # still the person's answer, not "something went wrong"
            context[metrics.OUTCOME_KEY] = "refused"
            logger.info("refused %s: %s", describe_request(body), error.message)
            refusal = {"response_type": "ephemeral", "text": error.message}
            return BoltResponse(status=200, body=json.dumps(refusal), headers={"content-type": "application/json"})
        context[metrics.OUTCOME_KEY] = "error"
        metrics.LISTENER_ERRORS.inc()
        error_id = uuid.uuid4().hex[:8]
        logger.exception("unhandled error %s while handling %s", error_id, describe_request(body), exc_info=error)
        message = {
            "response_type": "ephemeral",
            "text": f"Sorry, something went wrong on our side (error id `{error_id}`). Please try again.",
        }
        # A 200 with a message: the person gets an answer, Slack does not retry, no traceback leaks.
        return BoltResponse(status=200, body=json.dumps(message), headers={"content-type": "application/json"})

    register_all(app, services)
    return app


def describe_request(body: dict[str, Any]) -> str:
    """The kind of a request and the id it was routed on, for the log (never its content)."""
    if not isinstance(body, dict):
        return "request"
    kind = str(body.get("command") or body.get("type") or "request")
    actions = body.get("actions") or [{}]
    event = body.get("event") or {}
    routed_on = (
        (actions[0].get("action_id") if isinstance(actions[0], dict) else None)
        or (body.get("view") or {}).get("callback_id")
        or body.get("callback_id")
        or (event.get("type") if isinstance(event, dict) else None)
    )
    return f"{kind} {routed_on}" if routed_on else kind
