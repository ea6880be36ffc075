"""The Rejected page: requests that could not be mapped, grouped by why, replayed or purged.

A record's reasons are its problems as ``relay.core.reason`` groups them (``field: problem``
without the value quoted). A request is shown as the relay keeps it, made safe: the source's
secret removed again (``Source.without_secret``: a query parameter, a form or JSON field),
every configured secret hidden, values under a secret-looking name (token, password, key...)
hidden too (a source since removed from the file), phone numbers masked. Replay is
``relay rejected replay``'s (``relay.core.replay``) with the sources the relay runs now;
the view links to the playground with the record (``/console/playground?rejected=<id>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from relay.console.stores import SCAN_LIMIT, Outcome, Row, Store
from relay.core.pipeline import FORM_TYPE, media_type
from relay.core.reason import reason
from relay.core.replay import find_rejected, replay_rejected
from relay.core.sources import Source
from relay.exceptions import Problem
from relay.obs.logs import mask_document, mask_phones_in_text, redact_secrets
from relay.queue.base import RejectedRecord

__all__ = ["RejectedPage", "Shown", "shown_request"]

#: Bytes of a body the view shows at most.
VIEW_BYTES = 64 * 1024
#: Characters of a record's summary in the list.
SUMMARY_CHARS = 120
HIDDEN = "**********"
_SECRET_NAME = re.compile(
    r"token|secret|passw|signature|api[_-]?key|apikey|authorization|credential", re.IGNORECASE
)
#: A record with no problem stored groups under this reason.
NO_REASON = "(no reason stored)"


@dataclass(frozen=True)
class Shown:
    """A request made safe to show: query pairs, the body as text, what kind it is."""

    query: list[tuple[str, str]]
    body: str
    kind: str  # "json", "form", "text" or "empty"
    truncated: bool

    @property
    def summary(self) -> str:
        text = " ".join(self.body.split())  # on one line (pretty JSON too)
        if not text:
            text = "&".join(f"{k}={v}" for k, v in self.query) or "(empty)"
        return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _hide(node: Any, key: str | None = None) -> Any:
    """``node`` with every value under a secret-looking name hidden, at any depth."""
    if key is not None and _SECRET_NAME.search(key) and isinstance(node, str | int | float):
        return HIDDEN
    if isinstance(node, dict):
        return {k: _hide(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_hide(v, key) for v in node]
    return node


def _safe_value(key: str, value: str, secrets: list[str]) -> str:
    shown = _hide(mask_document(redact_secrets(value, secrets), key), key)
    return str(shown)


def shown_request(rec: RejectedRecord, source: Source | None, secrets: list[str]) -> Shown:
    """``rec`` as the console shows it (module docstring)."""
    query, body = dict(rec.query), rec.body
    if source is not None:
        query, body = source.without_secret(query, rec.content_type or None, body)
    pairs = [(k, _safe_value(k, v, secrets)) for k, v in query.items()]
    truncated = len(body) > VIEW_BYTES
    text = redact_secrets(body[:VIEW_BYTES].decode("utf-8", "replace"), secrets)
    media = media_type(rec.content_type or "")
    if not text.strip():
        return Shown(pairs, "", "empty", truncated)
    if media == FORM_TYPE:
        fields = parse_qsl(text, keep_blank_values=True)
        lines = [f"{k} = {_safe_value(k, v, secrets)}" for k, v in fields]
        return Shown(pairs, "\n".join(lines), "form", truncated)
    if not truncated:
        try:
            doc = _hide(mask_document(orjson.loads(text)))
        except orjson.JSONDecodeError:
            pass
        else:
            # again: a JSON escape (``\u0071``) may have spelled a secret out of reach, and
            # a number is a phone wherever it is (mask_document masks those under phone keys)
            pretty = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
            shown = mask_phones_in_text(redact_secrets(pretty, secrets))
            return Shown(pairs, shown, "json", False)
    return Shown(pairs, mask_phones_in_text(text), "text", truncated)


def reasons_of(rec: RejectedRecord) -> tuple[str, ...]:
    """The record's group keys, masked (a reason never quotes a phone number)."""
    found = [
        mask_phones_in_text(reason(Problem(p.get("field", "?"), p.get("problem", ""))))
        for p in rec.problems
    ]
    return tuple(dict.fromkeys(found)) or (NO_REASON,)


class RejectedPage(Store):
    path = "/rejected"
    name = "rejected"
    title = "Rejected"
    noun = "rejected request"
    nouns = "rejected requests"
    view_template = "rejected_one.html"

    def _row(self, rec: RejectedRecord, secrets: list[str]) -> Row:
        shown = shown_request(rec, self.console.runtime.sources.get(rec.source), secrets)
        return Row(
            id=rec.id,
            source=rec.source,
            received_at=rec.received_at,
            reasons=reasons_of(rec),
            summary=shown.summary,
        )

    async def scan(self, source: str | None) -> list[Row]:
        records = await self.console.runtime.queue.list_rejected(
            source=source, limit=SCAN_LIMIT, newest_first=True
        )
        secrets = self.secrets()
        return [self._row(rec, secrets) for rec in records]

    async def rows_of(self, ids: Sequence[str]) -> list[Row]:
        found, _missing = await find_rejected(self.console.runtime.queue, ids)
        secrets = self.secrets()
        return [self._row(rec, secrets) for rec in found]

    async def view(self, record_id: str) -> dict[str, Any] | None:
        rec = await self.console.runtime.queue.get_rejected(record_id)
        if rec is None:
            return None
        source = self.console.runtime.sources.get(rec.source)
        problems = [
            (p.get("field", "?"), mask_phones_in_text(p.get("problem", ""))) for p in rec.problems
        ]
        return {
            "record": rec,
            "configured": source is not None,
            "problems": problems,
            "reasons": reasons_of(rec),
            "shown": shown_request(rec, source, self.secrets()),
        }

    async def replay(self, ids: Sequence[str]) -> Outcome:
        runtime = self.console.runtime
        records, missing = await find_rejected(runtime.queue, ids)
        done = await replay_rejected(
            runtime.queue,
            runtime.sources,
            records,
            dedupe_seconds=runtime.settings.dedupe_window_seconds,
        )
        if done.queued and runtime.forwarder is not None:
            runtime.forwarder.queued()
        return Outcome(
            action="replay",
            headline=f"Replayed {self.counted(len(records))}: {done.summary()}.",
            counts={
                "queued": done.queued,
                "duplicates": done.duplicates,
                "ignored": done.ignored,
                "still_rejected": len(done.still),
            },
            left=[(s.id, s.source, mask_phones_in_text(s.reason)) for s in done.still],
            missing=missing,
        )

    async def purge(self, ids: Sequence[str]) -> int:
        return await self.console.runtime.queue.delete_rejected(ids)
