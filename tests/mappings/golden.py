"""The vendor corpus: real vendor requests and the exact Dial each must become.

One file per request, ``tests/fixtures/vendors/<vendor>/<case>.json``:

``_from``
    where the payload's shape comes from: vendor documentation URLs or public code
    (``owner/repo:path``), a string or a list.
``_derived_from``
    (only for a case no public real request exists for) the real case it was edited from and
    what was changed; such a case does not count towards a vendor's ten real requests.
``description``
    what is special about this request.
``source``
    the source it is sent to, as the vendor's page in ``docs/vendors/`` configures it
    (``mapping``, ``auth``, ``timezone``, ``defaults``, ``options``…). ``${VAR}`` values are
    filled in by the harness: every hook secret is :data:`HOOK_SECRET`; the Genesys OAuth
    client is the fake Genesys API's.
``request``
    the request file ``relay preview`` reads (``method``, ``content_type``, ``query``,
    ``body``), without the source's credential; the harness adds it where the source's auth
    says (a query auth's parameter goes in the URL, or in the form body when
    ``credential_in`` is ``body``: Five9 POSTs its constants in the body; a ``jwt`` auth's
    body, the event's claims, is signed into the JWT Dialpad sends).
``_derived_from``
    a request edited from a real one (which, and what was changed): it does not count
    towards a vendor's ten real requests.
``genesys_api``
    (mapping ``genesys`` only) what the fake Genesys Cloud API answers: ``conversations``
    (id → analytics details), ``users``, ``queues``, ``wrapupcodes``, ``campaigns``,
    ``contacts``.
``expected``
    the Dial outboundIQ must receive, exactly; or ``rejected`` (the fields a ``422`` names);
    or ``ignored: true`` (answered ``200 ignored``, nothing sent).
``answers``
    the hook's status codes when the request is sent that many times (default: once).
``warnings_mention``
    texts the preview's warnings must mention (a placeholder left unfilled…).
``_derived_from``
    (a derived case: no public real request exists) the real file it was edited from, and
    what was changed; such files do not count towards a vendor's ten real requests.
``_why``
    Dials field → the Dials field meaning or vendor fact that decided a non-obvious value.

Expected values are derived from the field meanings of outboundIQ's Dials API (``ani`` is always
the business's number, ``prospect_phone`` the customer's, ``datetime`` UTC…) and the vendor's
documentation, never copied from the relay's output.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from pydantic import SecretStr

from mappings.five9 import Five9Options
from relay.config import jwt
from relay.config.auth_twilio import SETTINGS_HEADER, SIGNATURE_HEADER, twilio_signature
from relay.config.settings import Settings
from relay.config.sources import SourceConfig
from relay.core.sources import Source, parse_sources
from relay.exceptions import ConfigError
from tests.support.fake_genesys import CLIENT_ID, CLIENT_SECRET, FakeGenesys
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
VENDORS = (
    "five9",
    "vicidial",
    "convoso",
    "genesys",
    "genesys-data-action",
    "twilio",
    "dialpad",
    "aircall",
    "ringcentral",
)
#: Every hook secret of the corpus and of the documented examples (``${VAR}``, ``SECRET``).
HOOK_SECRET = "relay-hook-secret"
API_KEY = "oiq-corpus-key-0001"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Case:
    """One corpus file."""

    vendor: str
    name: str
    path: Path
    doc: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.vendor}/{self.name}"

    @property
    def source_name(self) -> str:
        return f"{self.vendor}-{self.name}"

    @property
    def source(self) -> dict[str, Any]:
        source: dict[str, Any] = self.doc["source"]
        return source

    @property
    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = self.doc["request"]
        return request

    @property
    def expected(self) -> dict[str, Any] | None:
        expected: dict[str, Any] | None = self.doc.get("expected")
        return expected

    @property
    def rejected(self) -> list[str] | None:
        rejected: list[str] | None = self.doc.get("rejected")
        return rejected

    @property
    def ignored(self) -> bool:
        return bool(self.doc.get("ignored"))

    @property
    def answers(self) -> list[int]:
        default = [422] if self.rejected is not None else [200] if self.ignored else [202]
        answers: list[int] = self.doc.get("answers", default)
        return answers

    @property
    def deferred(self) -> bool:
        """Resolved later through the vendor's API (the preview cannot show the dial)."""
        return self.source["mapping"] == "genesys"


def load(vendor: str | None = None) -> list[Case]:
    """Every corpus file (of one vendor), sorted by vendor, then name."""
    vendors = [vendor] if vendor else list(VENDORS)
    return [
        Case(v, p.stem, p, json.loads(p.read_text(encoding="utf-8")))
        for v in vendors
        for p in sorted((CORPUS / v).glob("*.json"))
    ]


def case(ref: str) -> Case:
    """A corpus file by ``vendor/name``."""
    vendor, _, name = ref.partition("/")
    path = CORPUS / vendor / f"{name}.json"
    return Case(vendor, name, path, json.loads(path.read_text(encoding="utf-8")))


# --- sources the harness can run ---------------------------------------------------------


def env_for(text: str, genesys_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """A value for every ``${VAR}`` in ``text``: hook secrets, the fake Genesys client."""
    known = {
        "GENESYS_CLIENT_ID": CLIENT_ID,
        "GENESYS_CLIENT_SECRET": CLIENT_SECRET,
        "GENESYS_URL": genesys_url,
    }
    return {name: known.get(name, HOOK_SECRET) for name, _ in _VAR.findall(text)}


def runnable(config: dict[str, Any], genesys_url: str) -> dict[str, Any]:
    """``config`` pointed at the fakes, with production waits shortened.

    The Genesys API is the internet: its host becomes the fake's, and the settle delay 0.
    A Five9 leg-coalescing window, where the relay has one, is shortened the same way.
    """
    out = json.loads(json.dumps(config))
    if out.get("mapping") == "genesys":
        options = out.setdefault("options", {})
        options.update(region=genesys_url, login_url=genesys_url, settle_seconds=0)
    if "coalesce_seconds" in SourceConfig.model_fields:
        out.setdefault("coalesce_seconds", 0)
    elif out.get("mapping") == "five9" and "coalesce_seconds" in Five9Options.model_fields:
        out.setdefault("options", {}).setdefault("coalesce_seconds", 0)
    return out


def sources_text(configs: dict[str, dict[str, Any]], genesys_url: str) -> str:
    """A sources file (JSON is YAML) serving ``configs``, runnable against the fakes."""
    runnable_configs = {name: runnable(c, genesys_url) for name, c in configs.items()}
    return json.dumps({"sources": runnable_configs})


def build_sources(configs: dict[str, dict[str, Any]], genesys_url: str) -> dict[str, Source]:
    text = sources_text(configs, genesys_url)
    return parse_sources(text, env=env_for(text, genesys_url), default_api_key=SecretStr(API_KEY))


def accepted(
    configs: dict[str, dict[str, Any]], genesys_url: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The configs the relay accepts, and why it refuses the others (one refused source must
    not hide what the others do)."""
    good: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for name, config in configs.items():
        try:
            build_sources({name: config}, genesys_url)
        except ConfigError as exc:
            refused[name] = str(exc)
        else:
            good[name] = config
    return good, refused


def resolve(value: str) -> str:
    """A configured string with its ``${VAR}`` filled in as the harness fills them."""
    return _VAR.sub(lambda m: env_for(m.group(0))[m.group(1)], value)


# --- sending a request as the vendor does ---------------------------------------------------


def build_request(
    base_url: str,
    source_name: str,
    auth: dict[str, Any],
    request: dict[str, Any],
    route: str = "hooks",
) -> httpx.Request:
    """A request file's request to ``/<route>/<source_name>``, with the source's credential
    where the vendor puts it."""
    query: str = request.get("query") or ""
    body = request.get("body", "")
    raw = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode()
    content_type = request.get("content_type") or ""
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(request.get("headers") or {})
    kind = auth.get("type")
    if kind == "query":
        pair = urlencode({auth["param"]: resolve(auth["secret"])})
        if request.get("credential_in") == "body":
            raw = raw + (b"&" if raw else b"") + pair.encode()
        else:
            query = f"{query}&{pair}" if query else pair
    elif kind == "header":
        headers[auth["header"]] = resolve(auth["secret"])
    elif kind == "verification-token":  # RingCentral: the subscription's verificationToken
        headers[auth.get("header", "Verification-Token")] = resolve(auth["secret"])
    elif kind == "bearer":
        headers["Authorization"] = f"Bearer {resolve(auth['secret'])}"
    elif kind == "firehose":  # Kinesis Data Firehose: the access key; a hook gets a batch
        headers["X-Amz-Firehose-Access-Key"] = resolve(auth["secret"])
        if route == "hooks":
            raw = firehose_batch([raw])
    elif kind == "body-token":  # Aircall: a field of the JSON body, at a dotted path
        raw = with_body_token(raw, auth.get("path", "token"), resolve(auth["secret"]))
    elif kind == "basic":
        user_pass = f"{resolve(auth['username'])}:{resolve(auth['password'])}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
    elif kind == "twilio-signature":
        headers[SIGNATURE_HEADER] = signed_as_twilio(
            base_url, source_name, auth, query, raw, headers
        )
    elif kind == "jwt":  # Dialpad: the body is the claims signed into a JWT
        alg = (auth.get("algorithms") or ["HS256"])[0]
        raw = jwt.encode(json.loads(raw), resolve(auth["secret"]).encode(), alg)
    url = f"{base_url}/{route}/{source_name}" + (f"?{query}" if query else "")
    return httpx.Request(request.get("method") or "POST", url, content=raw, headers=headers)


def firehose_batch(records: list[bytes], request_id: str = "corpus-request-0001") -> bytes:
    """Records as Kinesis Data Firehose delivers them: a JSON envelope of base64 data."""
    data = [{"data": base64.b64encode(r).decode()} for r in records]
    return json.dumps({"requestId": request_id, "timestamp": 0, "records": data}).encode()


def signed_as_twilio(
    base_url: str,
    source_name: str,
    auth: dict[str, Any],
    query: str,
    body: bytes,
    headers: dict[str, str],
) -> str:
    """The ``X-Twilio-Signature`` Twilio sends: over the public URL it was given (the
    source's ``public_url``, else the hook's URL) with the query, then a form body's
    parameters; HMAC-SHA256 when the request announces a shared key (``SETTINGS_HEADER``)."""
    base = (
        resolve(auth["public_url"]) if auth.get("public_url") else f"{base_url}/hooks/{source_name}"
    )
    url = f"{base}?{query}" if query else base
    form = "x-www-form-urlencoded" in headers.get("Content-Type", "")
    params = parse_qsl(body.decode("utf-8"), keep_blank_values=True) if form else []
    settings = headers.get(SETTINGS_HEADER, "")
    return twilio_signature(HOOK_SECRET, url, params, sha256="HMAC_SHA256" in settings)


def with_body_token(raw: bytes, path: str, token: str) -> bytes:
    """A JSON body with ``token`` set at the dotted ``path``, as Aircall sends its token."""
    data = json.loads(raw)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = token
    return json.dumps(data).encode()


def send(request: httpx.Request) -> httpx.Response:
    """Send a request built by :func:`build_request`."""
    with httpx.Client() as client:
        return client.send(request)


def _error_fields(answer: httpx.Response) -> list[str]:
    return sorted(e["field"] for e in answer.json().get("errors", []))


def exercise(
    relay_url: str, fake: FakeOutboundIQ, source_name: str, auth: dict[str, Any], case: Case
) -> None:
    """Preview, then send, ``case``'s request to ``source_name`` as the vendor does, and assert
    what the corpus file expects: the preview's Dial (or problems) and warnings, the hook's
    answers, and exactly the expected Dial at outboundIQ, once."""
    preview = send(build_request(relay_url, source_name, auth, case.request, "preview"))
    body = preview.json()
    if case.rejected is not None:
        wanted = (422, sorted(case.rejected))
        assert (preview.status_code, _error_fields(preview)) == wanted, body
    elif case.ignored:
        assert body["status"] == "ignored", body
    elif case.deferred:
        assert body["status"] == "deferred", body
    else:
        assert preview.status_code == 200, body
        assert body["dial"] == case.expected, _diff([body["dial"]], case.expected)
    warnings = " | ".join(body.get("warnings", []))
    for text in case.doc.get("warnings_mention", []):
        assert text in warnings, f"no warning mentions {text!r}: {warnings}"

    answers = [
        send(build_request(relay_url, source_name, auth, case.request)) for _ in case.answers
    ]
    assert [a.status_code for a in answers] == case.answers, [a.text for a in answers]
    if auth.get("type") == "firehose":  # Firehose's answers tell nothing of each record
        if case.expected is not None:
            assert_delivered(fake, case.expected)
        return
    if case.rejected is not None:
        assert _error_fields(answers[0]) == sorted(case.rejected), answers[0].text
        assert answers[0].json()["rejected_id"], "a rejected request is kept for replay"
    if case.ignored:
        assert answers[0].json()["status"] == "ignored", answers[0].text
    if case.expected is not None:
        assert_delivered(fake, case.expected)


def assert_delivered(fake: FakeOutboundIQ, expected: dict[str, Any]) -> None:
    """outboundIQ received ``expected`` (found by its dial_id), exactly, once so far."""
    dial_id = expected["dial_id"]
    assert fake.wait_for(lambda: dial_id in fake.accepted_ids(), timeout=20), (
        f"outboundIQ never received {dial_id}"
    )
    received = [r.json() for r in fake.accepted() if r.json()["dial_id"] == dial_id]
    assert received == [expected], _diff(received, expected)


def _diff(received: list[dict[str, Any]], expected: dict[str, Any]) -> str:
    """Which fields differ (this module's asserts are not rewritten by pytest)."""
    if len(received) != 1:
        return f"received {len(received)} dials with this dial_id: {received}"
    got = received[0]
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    return f"fields (received, expected): {wrong}"


@contextmanager
def fake_genesys(cases: list[Case]) -> Iterator[FakeGenesys]:
    """A fake Genesys Cloud API answering what the cases' ``genesys_api`` say."""
    fake = FakeGenesys().start()
    try:
        for c in cases:
            api = c.doc.get("genesys_api") or {}
            fake.load(api)
            for conversation_id, details in api.get("conversations", {}).items():
                fake.conversations[conversation_id] = [details]
        yield fake
    finally:
        fake.stop()


@contextmanager
def corpus_relay(
    configs: dict[str, dict[str, Any]], settings: Settings, genesys_url: str
) -> Iterator[RelayThread]:
    """A real relay serving ``configs``."""
    relay = RelayThread(settings, sources=build_sources(configs, genesys_url)).start()
    try:
        yield relay
    finally:
        relay.stop()
