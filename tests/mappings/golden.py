"""Golden fixtures: each file is a raw vendor request and the exact Dials payload it must become.

A fixture (``fixtures/<mapping>/<case>.json``) holds ``description``; ``source`` (the source's
settings besides mapping and auth: timezone, defaults, call_directions, options); ``request``
(method, content_type, query string with the ``token`` secret, raw body); ``expected`` (the
Dials payload, or null when the request must be rejected) with ``errors``; ``warnings`` (what a
preview reports); and ``deliveries`` (the hook's answers when the request is sent that many
times; default one 202, or one 422 when rejected). The file is also a valid
``relay preview`` request file. Each fixture is one request, sent at once, so its source does
not wait for later legs of the call (``coalesce_seconds: 0`` unless the fixture's ``source``
says otherwise); legs are tested in tests/integration/test_legs.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import SecretStr

from relay.core.sources import Source, parse_sources

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "oiq-golden-key-0001"


@dataclass(frozen=True)
class Golden:
    mapping: str
    case: str
    path: Path
    doc: dict[str, Any]

    @property
    def source_name(self) -> str:
        return f"{self.mapping}-{self.case}"

    @property
    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = self.doc["request"]
        return request

    @property
    def token(self) -> str:
        """The source's secret: in the URL, or (a Five9 POST constant) in the form body."""
        query = dict(parse_qsl(self.request["query"]))
        if "token" in query:
            return query["token"]
        return dict(parse_qsl(self.request["body"]))["token"]

    @property
    def expected(self) -> dict[str, Any] | None:
        expected: dict[str, Any] | None = self.doc["expected"]
        return expected

    @property
    def deliveries(self) -> list[int]:
        default = [202] if self.expected is not None else [422]
        deliveries: list[int] = self.doc.get("deliveries", default)
        return deliveries

    def source_config(self) -> dict[str, Any]:
        return {
            "mapping": self.mapping,
            "auth": {"type": "query", "param": "token", "secret": self.token},
            "coalesce_seconds": 0,
            **self.doc.get("source", {}),
        }


def goldens(mapping: str | None = None) -> list[Golden]:
    """Every fixture (of one mapping), sorted by path."""
    pattern = f"{mapping}/*.json" if mapping else "*/*.json"
    return [
        Golden(p.parent.name, p.stem, p, json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(FIXTURES.glob(pattern))
    ]


def sources_yaml(cases: list[Golden]) -> str:
    """A sources file (JSON is YAML) with one source per fixture."""
    return json.dumps({"sources": {g.source_name: g.source_config() for g in cases}})


def build_sources(cases: list[Golden]) -> dict[str, Source]:
    return parse_sources(sources_yaml(cases), env={}, default_api_key=SecretStr(API_KEY))
