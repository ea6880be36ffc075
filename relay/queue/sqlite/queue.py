"""``SqliteQueue``: every role of the embedded queue over one writer thread and one reader."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from relay.exceptions import ConfigError, QueueUnavailable
from relay.obs.logs import redact_url
from relay.queue.sqlite.activity import SqliteActivity
from relay.queue.sqlite.dead import SqliteDeadLetters
from relay.queue.sqlite.delivery import SqliteDelivery
from relay.queue.sqlite.health import SqliteHealth
from relay.queue.sqlite.history import SqliteHistory
from relay.queue.sqlite.reader import SqliteReader
from relay.queue.sqlite.rejected import SqliteRejected
from relay.queue.sqlite.schema import SCHEMA
from relay.queue.sqlite.writer import SqliteWriter

if TYPE_CHECKING:
    from relay.config.settings import Settings
    from relay.queue.protocols import DialQueue

__all__ = ["SqliteQueue"]


class SqliteQueue(
    SqliteDelivery, SqliteDeadLetters, SqliteRejected, SqliteHealth, SqliteHistory, SqliteActivity
):
    """``DialQueue`` on one SQLite file (see ``relay.queue.sqlite`` for the design).

    ``history``: record each new dial's history (``RELAY_DIAL_HISTORY_SECONDS`` above 0).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: str = "FULL",
        read_only: bool = False,
        history: bool = True,
    ) -> None:
        """``read_only``: the file must exist, and is only read (SQLite's ``mode=ro``; see
        ``relay.queue.sqlite.reader``); every write is refused (``QueueUnavailable``)."""
        self.path = Path(path)
        self.synchronous = synchronous
        self.read_only = read_only
        writer = SqliteWriter(self.path, synchronous=synchronous, schema=SCHEMA)
        super().__init__(writer, SqliteReader(self.path, read_only=read_only), history=history)

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> SqliteQueue:
        """The queue for ``sqlite:///rel/q.db`` or ``sqlite:////abs/q.db``; of the settings,
        ``RELAY_DIAL_HISTORY_SECONDS`` (0: no history)."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        mistyped = not url.lower().startswith("sqlite:///") or redact_url(url) != url
        if mistyped or parts.netloc or not path or path == "/":
            raise ConfigError(
                f"RELAY_QUEUE_URL: expected sqlite:///path/queue.db, got {redact_url(url)!r}"
            )
        # sqlite:///rel/q.db → "rel/q.db"; sqlite:////abs/q.db → "/abs/q.db"
        history = settings is None or settings.dial_history_seconds > 0
        return cls(path[1:], history=history)

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"SqliteQueue({str(self.path)!r}{mode})"

    async def open(self) -> None:
        if self.read_only:  # the writer is never opened: nothing is created or written
            if not self.path.is_file():
                raise QueueUnavailable(f"no queue at {self.path}")
            self._reader.open()
            return
        await self._writer.open()  # creates the file and its tables before the first read
        self._reader.open()

    async def open_read_only(self) -> None:
        """``open`` as if built ``read_only`` (``ReadOnlyOpen``): the file must exist, the
        writer never starts, and the connection is SQLite's ``mode=ro``."""
        self.read_only = self._reader.read_only = True
        await self.open()

    async def close(self) -> None:
        if self.read_only:
            self._reader.close()
            return
        if not self._writer.accepting:  # never opened, closed, or closing already
            return
        await self._writer.close()
        self._reader.close()


_IMPLEMENTS: type[DialQueue] = SqliteQueue  # mypy checks that the role is complete
