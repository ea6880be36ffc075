"""Backfill: load a dialer's call history into outboundIQ through the source's mapping.

Records stream from export files in constant memory (a reader yields one ``BackfillRecord``
at a time), go through the same mapping and normalizers as live webhooks, and are queued on
the backfill lane, which drains only when the live lane is empty, under the same per-key rate
limit. Dedupe uses the live rules (same ``dial_id``), remembered for ``--dedupe-days``, so
re-running a file queues nothing twice. Rejects go to the rejected store with file and row,
and the report counts them by reason (``relay.core.reason``). A dry run only asks whether a
key was seen (``SeenLookup``): it stores nothing, so it can run on a queue opened read-only.
When the source coalesces the legs of a call (``coalesce_seconds``, on for Five9), consecutive
records of one call are merged into one dial with the live rule (``relay.core.legs``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from relay.core.legs import merge_dials
from relay.core.mapping import InboundRequest
from relay.core.pipeline import Mapped, keep_rejected, map_request, store_mapped
from relay.core.reason import RejectTally
from relay.core.sources import Source
from relay.exceptions import ConfigError, MappingError, Problem
from relay.queue.base import DialQueue

__all__ = [
    "BACKFILL_LANE",
    "BackfillOptions",
    "BackfillRecord",
    "BackfillReport",
    "SeenLookup",
    "dry_run_backfill",
    "readers",
    "run_backfill",
]

BACKFILL_LANE = 1
_BATCH = 256


@dataclass(frozen=True)
class BackfillRecord:
    """One record of an export: where it came from and what the mapping reads."""

    file: str
    row: int
    data: dict[str, Any]
    raw: bytes  # kept verbatim in the rejected store
    when: str | None = None  # UTC call time, for --since/--until on records resolved later

    def request(self) -> InboundRequest:
        return InboundRequest(
            method="BACKFILL",
            content_type="application/json",
            query={"backfill_file": self.file, "backfill_row": str(self.row)},
            body=self.raw,
            data=self.data,
        )


class _Counted(io.RawIOBase):
    """A binary file wrapper that counts bytes read (for progress and ETA)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.position += n or 0
        return int(n or 0)


Reader = Callable[[Path, _Counted, Source], Iterator[BackfillRecord]]
# A record with what it mapped to, or why it could not be mapped.
_Item = tuple[BackfillRecord, "Mapped | MappingError"]
READER_ENTRY_POINTS = "outboundiq_relay.backfill_readers"


def read_jsonl(path: Path, stream: _Counted, _source: Source) -> Iterator[BackfillRecord]:
    """JSON Lines: one JSON object per line (blank lines skipped)."""
    text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8", errors="replace")
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        raw = line.strip().encode()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = {"__invalid_json__": line.strip()}
        if not isinstance(data, dict):
            data = {"__not_an_object__": data}
        yield BackfillRecord(path.name, number, data, raw)


def csv_rows(stream: _Counted) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row keyed by the stripped header) of a CSV file with a header row."""
    text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    for row in reader:
        yield (
            reader.line_num,
            {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)},
        )


def read_csv(path: Path, stream: _Counted, _source: Source) -> Iterator[BackfillRecord]:
    """CSV with a header row; each row becomes an object keyed by the header."""
    for line, data in csv_rows(stream):
        yield BackfillRecord(path.name, line, data, orjson.dumps(data))


def readers() -> dict[str, Reader]:
    """Formats by name: the built-in ones and those mappings register as entry points."""
    found: dict[str, Reader] = {"jsonl": read_jsonl, "csv": read_csv}
    for ep in entry_points(group=READER_ENTRY_POINTS):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:
            raise ConfigError(f"backfill format {ep.name!r} failed to load: {exc}") from exc
    return found


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ConfigError(f"{path}: cannot tell the format from the name; pass --format")


@dataclass
class BackfillOptions:
    fmt: str | None = None
    dry_run: bool = False
    since: str | None = None  # UTC "YYYY-MM-DD[ HH:MM:SS]", inclusive
    until: str | None = None  # exclusive
    dedupe_seconds: float = 400 * 86400
    show_rejects: int = 10
    progress: IO[str] = field(default_factory=lambda: sys.stderr)
    progress_every: float = 5.0


@dataclass
class BackfillReport:
    counts: Counter[str] = field(default_factory=Counter)
    rejects: list[tuple[str, int, list[Problem]]] = field(default_factory=list)
    reasons: RejectTally = field(default_factory=RejectTally)
    records: int = 0
    seconds: float = 0.0

    @property
    def reject_ratio(self) -> float:
        """Rejected records over records read (0 when none were read)."""
        return self.counts["rejected"] / self.records if self.records else 0.0

    def reject(self, record: BackfillRecord, problems: list[Problem], show: int) -> None:
        self.counts["rejected"] += 1
        self.reasons.add(record.file, record.row, problems)
        if len(self.rejects) < show:
            self.rejects.append((record.file, record.row, problems))

    def summary(self, dry_run: bool) -> str:
        verb = "would queue" if dry_run else "queued"
        rejected = self.counts["rejected"]
        lines = [
            f"records   {self.records}  ({self.records / max(self.seconds, 1e-9):.0f}/s)",
            f"{verb:<9} {self.counts['queued']}",
            f"duplicate {self.counts['duplicate']}  (already sent or queued)",
            f"coalesced {self.counts['coalesced']}  (later legs of a call, merged into its dial)",
            f"outside   {self.counts['outside_window']}  (--since/--until)",
            f"rejected  {rejected}  ({self.reject_ratio:.2%} of records)",
            f"ignored   {self.counts['ignored']}  (not calls, per the mapping)",
        ]
        if rejected:
            lines.append("rejects by reason:")
            width = len(str(max(g.count for g in self.reasons.groups.values())))
            for key, group in self.reasons.most_common():
                where = f"{group.first[0]}:{group.first[1]}"
                lines.append(f"  {group.count:>{width}}  {key}  (first: {where})")
        if self.rejects:
            lines.append(f"first {len(self.rejects)} rejects:")
        for file, row, problems in self.rejects:
            reasons = "; ".join(f"{p.field}: {p.problem}" for p in problems)
            lines.append(f"  {file}:{row}: {reasons}")
        return "\n".join(lines)

    def as_dict(self, dry_run: bool) -> dict[str, Any]:
        """The summary as one JSON document (``relay backfill --json``, docs/backfill.md)."""
        return {
            "dry_run": dry_run,
            "records": self.records,
            "seconds": round(self.seconds, 3),
            **{name: self.counts[name] for name in _COUNTS},
            "reject_ratio": self.reject_ratio,
            "reject_reasons": self.reasons.as_list(),
            "rejects": [
                {"file": file, "row": row, "problems": [p.as_dict() for p in problems]}
                for file, row, problems in self.rejects
            ],
        }


#: The outcomes a report counts, as ``relay backfill --json`` names them.
_COUNTS = ("queued", "duplicate", "coalesced", "outside_window", "rejected", "ignored")


class _Progress:
    """A live line on a terminal; plain periodic lines otherwise."""

    def __init__(self, out: IO[str], total_bytes: int, every: float) -> None:
        self.out = out
        self.total = max(total_bytes, 1)
        self.every = every
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, records: int, position: int, final: bool = False) -> None:
        now = time.monotonic()
        interval = 0.2 if self.tty else self.every
        if not final and now - self.last < interval:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = records / elapsed
        done = min(position / self.total, 1.0)
        eta = elapsed * (1 - done) / done if done > 0 else 0.0
        line = f"backfill: {records} records, {rate:.0f}/s, {done:.0%}, ETA {eta:.0f}s"
        if self.tty:
            self.out.write("\r" + line + ("\n" if final else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def _in_window(when: str, since: str | None, until: str | None) -> bool:
    return (since is None or when >= since) and (until is None or when < until)


class _Legs:
    """Records mapped in file order; consecutive dials of one call (same ``dial_id``) merged
    into one with the live rule (``relay.core.legs``) when the source coalesces legs.

    ``add`` maps a record and returns what is finished: a record that could not be mapped
    (with its ``MappingError``), a job or an ignored request at once; a dial once a record of
    another call follows it (``flush`` returns the last one).
    """

    def __init__(self, source: Source, report: BackfillReport) -> None:
        self.source = source
        self.merging = source.coalesce_seconds > 0
        self.report = report
        self._call: tuple[BackfillRecord, Mapped] | None = None

    def add(self, record: BackfillRecord) -> list[_Item]:
        try:
            mapped = map_request(self.source, record.request())
        except MappingError as exc:
            return [(record, exc)]
        dial = mapped.dial
        if dial is None:
            return [(record, mapped)]
        call = self._call
        if self.merging and call is not None and call[1].dial is not None:
            held = call[1].dial
            if held.dial_id == dial.dial_id:
                self._call = (call[0], Mapped(merge_dials(held, dial), call[1].warnings))
                self.report.counts["coalesced"] += 1
                return []
        self._call = (record, mapped)
        return [call] if call is not None else []

    def flush(self) -> list[_Item]:
        call, self._call = self._call, None
        return [call] if call is not None else []


class SeenLookup(Protocol):
    """All a dry run asks of the queue: was this key accepted already?"""

    async def seen(self, source: str, dial_id: str, *, now: float) -> bool: ...


class _Target(Protocol):
    """Where the records a backfill keeps go: the queue, or (a dry run) only the counts."""

    def reject(self, record: BackfillRecord, problems: list[Problem]) -> None: ...

    def keep(self, mapped: Mapped, key: str) -> None: ...

    async def flush(self, now: float) -> None: ...


class _Store:
    """Stores each kept record (its dial or job) and each reject, one batch at a time."""

    def __init__(
        self, queue: DialQueue, source: Source, options: BackfillOptions, report: BackfillReport
    ) -> None:
        self.queue, self.source, self.options, self.report = queue, source, options, report
        self._rejects: list[tuple[BackfillRecord, list[Problem]]] = []
        self._kept: list[Mapped] = []

    def reject(self, record: BackfillRecord, problems: list[Problem]) -> None:
        self._rejects.append((record, problems))

    def keep(self, mapped: Mapped, key: str) -> None:
        self._kept.append(mapped)

    async def flush(self, now: float) -> None:
        name = self.source.name
        stores: list[Awaitable[object]] = [
            keep_rejected(self.queue, name, record.request(), problems)
            for record, problems in self._rejects
        ]
        stores += [self._store(mapped, now) for mapped in self._kept]
        self._rejects, self._kept = [], []
        if stores:
            await asyncio.gather(*stores)

    async def _store(self, mapped: Mapped, now: float) -> None:
        # The legs of a call were merged above: the dial is stored as it is, not held.
        stored, _key = await store_mapped(
            self.queue,
            self.source,
            mapped,
            dedupe_seconds=self.options.dedupe_seconds,
            now=now,
            lane=BACKFILL_LANE,
            coalesce=False,
        )
        self.report.counts["queued" if stored == "queued" else "duplicate"] += 1


class _DryRun:
    """Counts what would be queued: a key seen by the queue, or earlier in this run, is a
    duplicate. Nothing is written anywhere."""

    def __init__(self, lookup: SeenLookup, source: Source, report: BackfillReport) -> None:
        self.lookup, self.source, self.report = lookup, source, report
        self._ids: set[str] = set()  # the keys this run would have queued
        self._keys: list[str] = []

    def reject(self, record: BackfillRecord, problems: list[Problem]) -> None:
        return None

    def keep(self, mapped: Mapped, key: str) -> None:
        self._keys.append(key)

    async def flush(self, now: float) -> None:
        for key in self._keys:
            seen = key in self._ids or await self.lookup.seen(self.source.name, key, now=now)
            self._ids.add(key)
            self.report.counts["duplicate" if seen else "queued"] += 1
        self._keys = []


async def run_backfill(
    queue: DialQueue, source: Source, files: list[Path], options: BackfillOptions
) -> BackfillReport:
    """Map, filter and queue every record of ``files`` for ``source`` (with
    ``options.dry_run``, only count: see ``dry_run_backfill``)."""
    report = BackfillReport()
    if options.dry_run:
        return await _run(_DryRun(queue, source, report), source, files, options, report)
    return await _run(_Store(queue, source, options, report), source, files, options, report)


async def dry_run_backfill(
    lookup: SeenLookup, source: Source, files: list[Path], options: BackfillOptions
) -> BackfillReport:
    """Map, filter and count every record of ``files`` as a backfill would, storing nothing:
    ``lookup`` (a queue opened read-only, or one that knows nothing) only says what was seen."""
    report = BackfillReport()
    return await _run(_DryRun(lookup, source, report), source, files, options, report)


async def _run(
    target: _Target,
    source: Source,
    files: list[Path],
    options: BackfillOptions,
    report: BackfillReport,
) -> BackfillReport:
    formats = readers()
    started = time.monotonic()
    total = sum(p.stat().st_size for p in files)
    progress = _Progress(options.progress, total, options.progress_every)
    done_bytes = 0
    for path in files:
        reader = formats[options.fmt or guess_format(path)]
        with path.open("rb") as handle:
            stream = _Counted(handle)
            legs = _Legs(source, report)
            pending: list[_Item] = []
            for record in reader(path, stream, source):
                report.records += 1
                pending += legs.add(record)
                if len(pending) >= _BATCH:
                    await _process(target, pending, options, report)
                    pending = []
                    progress.update(report.records, done_bytes + stream.position)
            await _process(target, pending + legs.flush(), options, report)
        done_bytes += path.stat().st_size
    report.seconds = time.monotonic() - started
    progress.update(report.records, done_bytes, final=True)
    return report


async def _process(
    target: _Target, batch: list[_Item], options: BackfillOptions, report: BackfillReport
) -> None:
    for record, mapped in batch:
        if isinstance(mapped, MappingError):
            report.reject(record, mapped.problems, options.show_rejects)
            target.reject(record, mapped.problems)
            continue
        dial = mapped.dial
        if dial is None and mapped.job is None:
            report.counts["ignored"] += 1
            continue
        when = dial.datetime if dial is not None else record.when
        if when is not None and not _in_window(when, options.since, options.until):
            report.counts["outside_window"] += 1
            continue
        key = dial.dial_id if dial is not None else mapped.job.key  # type: ignore[union-attr]
        target.keep(mapped, key)
    await target.flush(time.time())
