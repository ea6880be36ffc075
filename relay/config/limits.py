"""A source's request budget, as written in the sources file (``rate_limit``)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["RateLimit"]

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


class RateLimit(BaseModel):
    """A source's request budget: ``requests`` per ``per_seconds``, bursts up to ``burst``.

    Written as a mapping, or as a string like ``50/s``, ``600/min`` or ``10000/hour``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = Field(gt=0)
    per_seconds: float = Field(default=1.0, gt=0)
    burst: int | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _RATE.match(data)
            if not match:
                raise ValueError("write a rate like 50/s, 600/min or 10000/hour")
            return {"requests": int(match.group(1)), "per_seconds": _UNITS[match.group(2)]}
        return data

    @property
    def capacity(self) -> float:
        return float(self.burst or self.requests)

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds
