"""``create_app(settings)``: the Starlette application and its lifespan. No import-time state."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypedDict
from urllib.parse import urlsplit

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from relay import __version__
from relay.app.heap import freeze_startup_heap, thaw_heap
from relay.config.settings import Settings
from relay.console import console_routes
from relay.core.activity import ActivityFlusher
from relay.core.retention import HistoryRetention, RejectedRetention
from relay.core.sources import Source, check_keys, config_warnings, load_configured_sources
from relay.delivery.client import ForwardClient, create_client
from relay.delivery.resolver import close_mappings
from relay.delivery.worker import Forwarder
from relay.exceptions import ConfigError, QueueError
from relay.intake.admin import ADMIN_EVENTS, admin_events
from relay.intake.answers import HOOK_PREFIX, json_http_error
from relay.intake.endpoint import HookEndpoint
from relay.intake.guard import RequestGuard
from relay.intake.openapi import openapi_endpoint
from relay.intake.preview import preview
from relay.intake.runtime import RelayRuntime
from relay.obs.broadcast import EventChannel, broadcast
from relay.obs.cluster import ClusterFeed, EventFollower
from relay.obs.feed import EventFeed
from relay.obs.metrics import RelayMetrics
from relay.queue import create_queue
from relay.queue.base import DialQueue

__all__ = ["RelayApp", "State", "create_app"]

log = structlog.get_logger("relay.app")


class State(TypedDict):
    relay: RelayRuntime


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime: RelayRuntime = request.state.relay
    ready, checks = await runtime.readiness()
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    runtime: RelayRuntime = request.state.relay
    m = runtime.metrics
    now = time.time()
    with contextlib.suppress(QueueError):
        stats = await runtime.queue.stats(now=now)
        for state in ("ready", "delayed", "leased", "dead", "rejected"):
            m.queue_depth.labels(state).set(getattr(stats, state))
        oldest = stats.oldest_received_at
        m.oldest_age.set(max(0.0, now - oldest) if oldest is not None else 0.0)
    if runtime.forwarder is not None:
        m.heartbeat_age.set(max(0.0, now - runtime.forwarder.state.heartbeat))
    return Response(m.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


class RelayApp(Starlette):
    """Starlette, with the webhook route taken first: ``POST|GET /hooks/<source>`` goes
    straight to the hook endpoint, which checks the headers (431), counts and logs every
    answer, and turns a crash into a counted 500 itself. Anything else (other routes,
    methods, malformed hook paths) goes through Starlette's middleware and router as usual
    (a HEAD to a hook is refused there: 405).
    """

    hooks: HookEndpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "GET"):
            path: str = scope["path"]
            if path.startswith(HOOK_PREFIX):
                name = path[len(HOOK_PREFIX) :]
                if name and "/" not in name:
                    await self.hooks(scope, receive, send, name)
                    return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    sources: dict[str, Source] | None = None,
    queue: DialQueue | None = None,
    client: ForwardClient | None = None,
) -> RelayApp:
    """Build the relay. Sources come from the settings' file unless given."""
    if sources is None:
        sources = load_configured_sources(settings)
    check_keys(settings, sources)
    for warning in config_warnings(settings, sources):
        log.warning("config_warning", warning=warning)
    runtime = RelayRuntime(
        settings=settings,
        sources=sources,
        queue=queue or create_queue(settings.queue_url, settings),
        metrics=RelayMetrics(
            version=__version__, queue_backend=urlsplit(settings.queue_url).scheme or "unknown"
        ),
        events=EventFeed(replica=replica_name(settings)),
    )
    if isinstance(runtime.queue, EventFollower):  # the console follows every replica
        runtime.cluster_events = ClusterFeed(runtime.queue, replica=runtime.events.replica)
    runtime.metrics.started(sources, at=runtime.started_at)
    retention = runtime.retention = RejectedRetention(
        runtime.queue,
        max_age_seconds=settings.rejected_max_age_seconds,
        max_records=settings.rejected_max_records,
        dropped=lambda reason, n: runtime.metrics.rejected_dropped.labels(reason).inc(n),
    )
    history = HistoryRetention(runtime.queue, seconds=settings.dial_history_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[State]:
        await runtime.queue.open()
        http = client or create_client(settings)
        forwarder = Forwarder(
            queue=runtime.queue,
            sources=runtime.sources,
            settings=settings,
            client=http,
            metrics=runtime.metrics,
            events=runtime.events,
            tally=runtime.tally,
        )
        runtime.forwarder = forwarder
        runtime.worker = asyncio.create_task(_supervise(runtime, forwarder), name="forwarder")
        flusher = ActivityFlusher(runtime.queue, runtime.tally, replica=runtime.events.replica)
        flushing = asyncio.create_task(flusher.run(), name="activity-flush")
        sweeper = asyncio.create_task(retention.sweep(), name="rejected-retention")
        history_sweeper = asyncio.create_task(history.sweep(), name="dial-history-retention")
        channel = runtime.queue if isinstance(runtime.queue, EventChannel) else None
        broadcaster = (  # every replica's events on the shared queue's channel
            None
            if channel is None
            else asyncio.create_task(broadcast(runtime.events, channel), name="event-broadcast")
        )
        reload = _install_reload(runtime, settings, forwarder)
        freeze_startup_heap()
        log.info(
            "relay_started",
            sources=sorted(runtime.sources),
            queue=repr(runtime.queue),
            dry_run=settings.dry_run,
        )
        try:
            yield {"relay": runtime}
        finally:
            runtime.stopping = True
            runtime.close_feeds()
            if reload:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await forwarder.stop(settings.shutdown_grace_seconds)
            runtime.worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runtime.worker
            for task in (sweeper, history_sweeper, broadcaster):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await retention.close()
            flusher.stop()  # after the forwarder: its last outcomes are counted
            await flushing
            if client is None:
                await http.aclose()
            await close_mappings(runtime.sources.values())
            await runtime.queue.close()
            thaw_heap()
            log.info("relay_stopped", delivered=forwarder.state.delivered)

    hooks = HookEndpoint(runtime)
    routes = [
        _get_and_post(HOOK_PREFIX + "{source}", hooks),
        _get_and_post("/preview/{source}", preview),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),
        Route(ADMIN_EVENTS, admin_events, methods=["GET"]),
        console_routes(runtime),
    ]
    guard = Middleware(
        RequestGuard,
        metrics=runtime.metrics,
        sources=lambda: runtime.sources,
        max_header_count=settings.max_header_count,
        max_header_bytes=settings.max_header_bytes,
        tally=runtime.tally,
    )
    app = RelayApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[guard],
        exception_handlers={HTTPException: json_http_error},
    )
    app.hooks = hooks
    app.state.runtime = runtime
    return app


def _get_and_post(path: str, endpoint: Any) -> Route:
    """A route for GET and POST only. Starlette adds HEAD to every GET route, but a GET to a
    hook is a dial: a HEAD must never queue one (nor reach a mapping), so it is a 405."""
    route = Route(path, endpoint, methods=["GET", "POST"])
    assert route.methods is not None
    route.methods.discard("HEAD")
    return route


def replica_name(settings: Settings) -> str:
    """The name of this process in the live feed: ``RELAY_REDIS_CONSUMER``, else the host
    (pod) name, as the Redis queue names its consumer."""
    return settings.redis_consumer or socket.gethostname()


async def _supervise(runtime: RelayRuntime, forwarder: Forwarder) -> None:
    """Run the forwarder; if it crashes, say so loudly and start it again."""
    while True:
        try:
            await forwarder.run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("forwarder_crashed")
            runtime.metrics.worker_restarts.inc()
            await asyncio.sleep(1.0)


async def _close_later(sources: list[Source], delay: float) -> None:
    await asyncio.sleep(delay)
    await close_mappings(sources)


def _install_reload(runtime: RelayRuntime, settings: Settings, forwarder: Forwarder) -> bool:
    """SIGHUP re-reads the sources file (new keys lift every key hold at once).

    The file is read, parsed and its mappings built on a worker thread, so a slow or hostile
    file never stalls the event loop; the new sources are swapped in on the loop, all at once.
    One reload runs at a time (a second SIGHUP waits), so the last file read is the one kept.
    """
    lock = asyncio.Lock()

    async def reload() -> None:
        async with lock:
            try:
                sources = await asyncio.to_thread(load_configured_sources, settings)
                check_keys(settings, sources)
            except ConfigError as exc:
                log.error("config_reload_failed", error=str(exc))
                runtime.metrics.config_reloaded(ok=False)
                return
            except Exception as exc:  # a bug in a mapping's factory must not kill the relay
                log.error("config_reload_failed", error=f"{type(exc).__name__}: {exc}")
                runtime.metrics.config_reloaded(ok=False)
                return
            replaced = list(runtime.sources.values())
            runtime.sources = sources
            runtime.metrics.track_sources(sources, since=time.time())
            runtime.metrics.config_reloaded(ok=True)
            forwarder.update_sources(sources)
            # the replaced mappings' API clients close once work that holds them has finished
            spawn(_close_later(replaced, settings.forward_timeout_seconds * 3))
            log.info("config_reloaded", sources=sorted(sources))

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        runtime.background.add(task)
        task.add_done_callback(runtime.background.discard)

    if settings.sources_file is None:
        return False
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, lambda: spawn(reload()))
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True
