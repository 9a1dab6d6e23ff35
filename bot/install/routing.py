"""Which workspace a request-path send is for, in OAuth mode.

Listeners get Bolt's per-request client (authorized with their workspace's token). The few sends made with the
process's own client (the team's invitations and directory look-ups, bot.team.desk) learn the workspace from
`CURRENT_INSTALL`, set by a Bolt middleware for each request; `ContextExecutor` carries it into lazy listeners,
which Bolt runs on its executor threads."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.install.store import install_key

T = TypeVar("T")

CURRENT_INSTALL: contextvars.ContextVar[str | None] = contextvars.ContextVar("ladderbot_install", default=None)


def request_install_key(context: BoltContext) -> str | None:
    """The installation a request was authorized with: its organisation (org-wide install) or workspace."""
    key = install_key(context.enterprise_id, context.team_id, context.is_enterprise_install)
    return key or None


def remember_install(context: BoltContext, next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
    """Bolt middleware: note the request's installation for the sends made with the process's client."""
    CURRENT_INSTALL.set(request_install_key(context))
    return next()


class ContextExecutor(ThreadPoolExecutor):
    """A thread pool that runs each task in a copy of the submitting thread's context (so CURRENT_INSTALL
    reaches Bolt's lazy listeners)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


class InstallRoutedClient(WebClient):
    """A WebClient that sends each call with the client `for_install` gives for the current request's
    installation (CURRENT_INSTALL); with none set it has no token, and Slack answers not_authed."""

    def __init__(self, for_install: Callable[[str | None], WebClient], template: WebClient):
        super().__init__(token=None, base_url=template.base_url, timeout=template.timeout)
        self.for_install = for_install

    def api_call(  # the same parameters as WebClient.api_call
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> SlackResponse:
        client = self.for_install(CURRENT_INSTALL.get())
        response = client.api_call(
            api_method,
            http_verb=http_verb,
            files=files,
            data=data,
            params=params,
            json=json,
            headers=headers,
            auth=auth,
        )
        assert isinstance(response, SlackResponse)  # a sync client's answer
        return response
