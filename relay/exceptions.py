"""The relay's exceptions, one root.

RelayError
├── ConfigError            settings or sources file invalid (startup)
├── MappingError           a request could not become a Dial (carries problems)
├── AuthError              a webhook failed its source's authentication
├── QueueError             the durable queue could not do what was asked
│   └── QueueUnavailable   the queue cannot store right now (intake answers 503)
├── DeliveryError          outboundIQ could not be reached or refused a dial
└── ResolveError           a mapping job cannot be resolved yet (vendor API trouble)
    └── ResolveAuthError   the vendor refused the relay's credentials (the source is held)
"""

from __future__ import annotations

from dataclasses import dataclass


class RelayError(Exception):
    """Root of every error the relay raises on purpose."""


class ConfigError(RelayError):
    """The settings or the sources file are invalid."""


@dataclass(frozen=True)
class Problem:
    """One reason a request could not be mapped: which field, and what is wrong."""

    field: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class MappingError(RelayError):
    """A request could not be mapped onto a Dial; ``problems`` says why, per field."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.problem}" for p in problems))


class AuthError(RelayError):
    """A webhook did not authenticate. The message never carries what was presented."""


class QueueError(RelayError):
    """The durable queue failed."""


class QueueUnavailable(QueueError):
    """The queue cannot store right now; the sender should retry."""


class DeliveryError(RelayError):
    """A dial could not be delivered to outboundIQ."""


class ResolveError(RelayError):
    """A deferred mapping job cannot be resolved right now; try again later.

    ``reason`` is a short code for metrics and logs (``http_429``, ``network``,
    ``not_ready``); ``retry_after`` is the vendor's hint in seconds, if any.
    """

    def __init__(self, message: str, *, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class ResolveAuthError(ResolveError):
    """The vendor refused the relay's credentials (401/403): hold the source, probe later."""
