"""GET /metrics: the counters of bot.metrics in Prometheus' text format, added up over every server process,
and the clock's backlog read from the database at each scrape.

Several processes: gunicorn runs WEB_CONCURRENCY workers, each with its own counters. prometheus_client's
multiprocess mode keeps each process's values in files under PROMETHEUS_MULTIPROC_DIR, and a scrape (whichever
worker answers it) adds them up. `ladderbot serve` empties that directory at start (stale files would add an
old run's counts) or makes a fresh one, and gunicorn's child_exit hook calls `forget_process` for a worker that
died, so its live gauges go (its counters are kept: a counter's total must never go down).

The backlog gauges (nudges and digests pending, the clock's lag) are read from the database, so they are
true whichever process, or machine, runs the clock.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.storage.engine import database_ok
from bot.storage.models import Delivery, DigestDelivery, DigestPlan, Plan, utcnow
from bot.storage.people import installed_people

METRICS_PATH = "/metrics"
CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Backlog:
    """What the clock has yet to do: nudges and digests waiting to be sent, and how late the oldest due item is
    (0 when nothing is due; a working clock keeps this under about a minute, its pass interval)."""

    nudges_pending: int
    digests_pending: int
    oldest_due: datetime | None
    now: datetime

    @property
    def lag_seconds(self) -> float:
        return max(0.0, (self.now - self.oldest_due).total_seconds()) if self.oldest_due else 0.0


def read_backlog(session: Session, now: datetime | None = None) -> Backlog:
    """Counts and the oldest due time, over the plans the clock has yet to schedule and the deliveries it has
    yet to send (a retry waiting for its backoff is pending but not yet due). Rows of a workspace that left and
    waits out its grace period are not counted: the clock owes them nothing until a reinstall. Indexed columns
    only."""
    now = now or utcnow()
    due_times = []
    for plan in (Plan, DigestPlan):
        due_times.append(session.scalar(select(func.min(plan.next_due_at)).where(plan.next_due_at <= now)))
    pending = {}
    for delivery in (Delivery, DigestDelivery):
        waiting = and_(delivery.status.in_(("pending", "sending")), delivery.person_id.in_(installed_people()))
        pending[delivery] = session.scalar(select(func.count()).select_from(delivery).where(waiting)) or 0
        due_now = or_(delivery.next_attempt_at.is_(None), delivery.next_attempt_at <= now)
        due_times.append(session.scalar(select(func.min(delivery.due_at)).where(waiting, due_now)))
    due = [t for t in due_times if t is not None]
    return Backlog(pending[Delivery], pending[DigestDelivery], min(due) if due else None, now)


class BacklogCollector(Collector):
    """The backlog gauges, read at each scrape; nothing (and ladderbot_database_up 0) if the database is down."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("ladderbot_database_up", "1 if the database answered this scrape's queries")
        try:
            with Session(self.engine) as session:
                backlog = read_backlog(session)
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "ladderbot_nudges_pending", "Weekly nudges waiting to be sent", value=backlog.nudges_pending
        )
        yield GaugeMetricFamily(
            "ladderbot_digests_pending", "Team digests waiting to be sent", value=backlog.digests_pending
        )
        yield GaugeMetricFamily(
            "ladderbot_clock_lag_seconds",
            "How late the oldest due nudge, digest or plan is (0: nothing overdue)",
            value=backlog.lag_seconds,
        )


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render(engine: Engine) -> bytes:
    """The whole exposition: every process's counters (or this process's, outside multiprocess mode) and the
    backlog gauges."""
    backlog = CollectorRegistry(auto_describe=False)
    backlog.register(BacklogCollector(engine))
    if multiprocess_mode():
        processes = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        return generate_latest(processes) + generate_latest(backlog)
    return generate_latest(REGISTRY) + generate_latest(backlog)


def forget_process(pid: int) -> None:
    """gunicorn's child_exit hook: a worker died; drop its live gauge files (its counters stay in the sums)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the standard library's name
        """Scrapes every few seconds would flood the log; gunicorn's server keeps no access log either."""


def clock_endpoint(engine: Engine) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The clock process's own small HTTP side: GET /metrics (its counters and the backlog) and /healthz."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == METRICS_PATH:
            body, content_type, status = render(engine), CONTENT_TYPE, "200 OK"
        elif path == "/healthz":
            ok, detail = database_ok(engine)
            body = json.dumps({"status": "ok" if ok else "unhealthy", "database": detail}).encode()
            content_type, status = "application/json", "200 OK" if ok else "503 Service Unavailable"
        else:
            body, content_type, status = b'{"error": "not found"}', "application/json", "404 Not Found"
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve_clock_metrics(engine: Engine, port: int, host: str = "0.0.0.0") -> WSGIServer:
    """Serve `clock_endpoint` on `port` in a daemon thread (METRICS_PORT of `ladderbot clock`)."""
    server = make_server(host, port, clock_endpoint(engine), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="ladderbot-metrics", daemon=True).start()
    return server
