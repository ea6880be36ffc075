"""The relay's exceptions, one root.

RelayError
├── ConfigError               settings or sources file invalid (startup)
├── MappingError              a request could not become a Dial (carries problems; 422)
├── AuthError                 a webhook failed its source's authentication (401)
├── RequestError              the intake cannot take a request as it was sent
│   ├── BodyTooLarge          the body is over the limit (413)
│   ├── BodyTimeout           the body did not arrive in time (408)
│   ├── ClientGone            the client disconnected before its body arrived (400)
│   └── UnsupportedMediaType  neither JSON nor a form, or a Content-Encoding (415)
├── QueueError                the durable queue could not do what was asked
│   └── QueueUnavailable      the queue cannot store right now (intake answers 503)
└── ResolveError              a mapping job cannot be resolved yet (vendor API trouble)
    └── ResolveAuthError      the vendor refused the relay's credentials (the source is held)

The intake's answer to each is in ``relay.intake.answers``.
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


class RequestError(RelayError):
    """The intake cannot take a request as it was sent (each answered with a 4xx)."""


class BodyTooLarge(RequestError):
    """The request body is over ``limit`` bytes (refused before it is all read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit = limit


class BodyTimeout(RequestError):
    """The whole request body did not arrive in time (a slow client)."""


class ClientGone(RequestError):
    """The client disconnected before its request body arrived."""


class UnsupportedMediaType(RequestError):
    """The body is neither JSON nor a URL-encoded form, or it is encoded (compressed).

    The message names what was sent: the media type, or ``(Content-Encoding 'gzip')``.
    """


class QueueError(RelayError):
    """The durable queue failed."""


class QueueUnavailable(QueueError):
    """The queue cannot store right now; the sender should retry."""


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
