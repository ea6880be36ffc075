"""The overview page: every source, the destination, the queue; healthy or not at a glance.

Per source: the hook URL to paste into the dialer (under ``RELAY_PUBLIC_URL``, else the
address the console was opened at), its mapping and auth type (never a secret), when its last
webhook came and its answers by outcome in the last hour and day (``relay.core.activity``:
the whole cluster on a shared Redis queue), and whether its outboundIQ key is held. Then the
destination circuit, the queue's depth and oldest dial, and the list of problems, if any.
``GET /console/overview`` is the same body without the page around it: the page's script
fetches it every few seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from relay.console.session import Session
from relay.console.web import Console, Handler
from relay.core.activity import BEAT_SECONDS, Activity, source_activity
from relay.exceptions import QueueError
from relay.intake import answers
from relay.intake.answers import HOOK_PREFIX
from relay.intake.runtime import RelayRuntime
from relay.queue.base import ReplicaDirectory
from relay.queue.models import QueueStats

__all__ = ["Overview", "fragment", "handler", "overview"]

#: A queue whose oldest dial waited longer than this is a problem on the overview.
OLDEST_WARNING_SECONDS = 300.0

#: A replica that has not announced itself for this long is shown as gone.
REPLICA_SILENT_SECONDS = 3 * BEAT_SECONDS + 5
#: Replicas silent for longer than this are not listed.
REPLICAS_LISTED_SECONDS = 3600.0

#: Outcomes that count as trouble in a source's row: every answer the dialer got as an error
#: (``relay.intake.answers``: status 400 or more), and dials outboundIQ refused for good.
TROUBLE = frozenset(
    {kind.outcome for kind in answers.TABLE if kind.outcome and kind.status >= 400}
    | {"dead_lettered"}
)


@dataclass
class SourceRow:
    name: str
    url: str
    mapping: str
    auth: str
    held_until: float | None
    last_webhook: float | None = None
    hour: dict[str, int] = field(default_factory=dict)
    day: dict[str, int] = field(default_factory=dict)

    @property
    def trouble(self) -> int:
        return sum(n for outcome, n in self.hour.items() if outcome in TROUBLE)


@dataclass(frozen=True)
class Replica:
    name: str
    seen_ago: float

    @property
    def alive(self) -> bool:
        return self.seen_ago <= REPLICA_SILENT_SECONDS


@dataclass
class Overview:
    now: float
    replica: str
    backend: str
    dry_run: bool
    destination: str
    sources: list[SourceRow]
    stats: QueueStats | None
    circuit_open: bool
    circuit_failures: int
    next_probe: float | None
    checks: dict[str, str]
    activity_read: bool = True
    replicas: list[Replica] | None = None  # None: a queue of one process (SQLite)
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def oldest_age(self) -> float | None:
        if self.stats is None or self.stats.oldest_received_at is None:
            return None
        return max(0.0, self.now - self.stats.oldest_received_at)


def hook_base(runtime: RelayRuntime, request: Request) -> str:
    configured = runtime.settings.public_url
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


async def overview(runtime: RelayRuntime, base: str, *, now: float) -> Overview:
    """Everything the overview shows, read now."""
    forwarder = runtime.forwarder
    held = forwarder.held_sources() if forwarder is not None else frozenset()
    rows = []
    for name, source in sorted(runtime.sources.items()):
        public = source.config.auth.public_hook_url
        rows.append(
            SourceRow(
                name=name,
                url=public or base + HOOK_PREFIX + name,
                mapping=source.config.mapping,
                auth=source.config.auth.type,
                held_until=forwarder.hold_until(name) if forwarder and name in held else None,
            )
        )
    stats: QueueStats | None
    try:
        stats = await runtime.queue.stats(now=now)
    except QueueError:
        stats = None
    activity: Activity | None
    try:
        activity = await source_activity(runtime.queue, runtime.tally, now=now)
    except QueueError:
        activity = None
    if activity is not None:
        for row in rows:
            row.last_webhook = activity.last_webhook.get(row.name)
            row.hour = activity.hour.get(row.name, {})
            row.day = activity.day.get(row.name, {})
    replicas: list[Replica] | None = None
    if isinstance(runtime.queue, ReplicaDirectory):
        try:
            seen = await runtime.queue.replicas(since=now - REPLICAS_LISTED_SECONDS)
        except QueueError:
            seen = {}
        replicas = [Replica(name, max(0.0, now - at)) for name, at in sorted(seen.items())]
    ready, checks = await runtime.readiness()
    circuit = forwarder.circuit if forwarder is not None else None
    view = Overview(
        now=now,
        replica=runtime.events.replica,
        backend=runtime.settings.queue_url.split(":", 1)[0],
        dry_run=runtime.settings.dry_run,
        destination=runtime.settings.outboundiq_url,
        sources=rows,
        stats=stats,
        circuit_open=bool(circuit and circuit.open),
        circuit_failures=circuit.failures if circuit else 0,
        next_probe=circuit.next_probe if circuit and circuit.open else None,
        checks=checks,
        activity_read=activity is not None,
        replicas=replicas,
    )
    view.problems = _problems(view, ready)
    return view


def _problems(view: Overview, ready: bool) -> list[str]:
    problems = []
    if not ready:
        problems += [f"{name}: {state}" for name, state in view.checks.items() if state != "ok"]
    if view.stats is None:
        problems.append("the queue cannot be read")
    if not view.activity_read:
        problems.append("the sources' activity cannot be read from the queue")
    if view.circuit_open:
        problems.append("outboundIQ is not answering: the circuit is open, only probes are sent")
    problems += [
        f"{row.name}: its outboundIQ key is held" for row in view.sources if row.held_until
    ]
    if view.stats is not None and view.stats.dead:
        problems.append(f"{view.stats.dead} dial(s) in the dead-letter store")
    age = view.oldest_age
    if age is not None and age > OLDEST_WARNING_SECONDS:
        problems.append(f"the oldest queued dial has waited {age / 60:.0f} min")
    return problems


def _context(view: Overview) -> dict[str, Any]:
    return {"view": view, "trouble": TROUBLE}


def handler(console: Console) -> Handler:
    async def page(request: Request, session: Session) -> Response:
        view = await overview(console.runtime, hook_base(console.runtime, request), now=time.time())
        return console.render(request, "overview.html", session, **_context(view))

    return page


def fragment(console: Console) -> Handler:
    async def part(request: Request, session: Session) -> Response:
        view = await overview(console.runtime, hook_base(console.runtime, request), now=time.time())
        return console.render(request, "overview_body.html", session, **_context(view))

    return part
