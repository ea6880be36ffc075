"""The runnable examples of the vendor pages (``docs/vendors/*.md``), found by their markers.

Every fenced block of a vendor page is preceded by an HTML comment saying what it is
(docs/architecture.md, "Where to add… a vendor mapping"):

``<!-- example: sources=NAME [probe=VENDOR/CASE,...] -->``
    a sources file; ``NAME`` is how the page's requests refer to it; each ``probe`` is a corpus
    request (``tests/fixtures/vendors/``) sent to it, which must come out as its Dial.
``<!-- example: request=NAME expect=STATUS [dial=V/CASE] [values=V/CASE] [where=F:V,...] -->``
    a request to the page's sources block ``NAME``: a ``curl`` command (``sh``), a URL with
    VICIdial tokens (``text``), a Velocity request template (``velocity``) or a JSON body
    (``json``). ``values`` fills the template's placeholders from that corpus request; ``dial``
    is the Dial it must become; ``where`` lists fields the Dial must have.
``<!-- example: not-run: REASON -->``
    not something the relay receives (a diagram, an AWS or Genesys setting).

Secrets in examples (``$VAR``, ``${VAR}``, ``SECRET``) all stand for the harness's
``HOOK_SECRET``; ``https://<your relay>`` and ``https://relay.example.com`` for the relay.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote_plus, urlsplit

from tests.mappings.golden import HOOK_SECRET

DOCS = Path(__file__).resolve().parents[2] / "docs"
VENDOR_PAGES = sorted((DOCS / "vendors").glob("*.md"))

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
_MARKER = re.compile(r"<!--\s*example:\s*(?P<spec>.*?)\s*-->")
_ENV = re.compile(r"\$\{?[A-Z_][A-Z0-9_]*\}?|\bSECRET\b")
_HOSTS = re.compile(r"https://(?:<your relay>|relay\.example\.com)")


class Block(NamedTuple):
    """One fenced block of a page and its marker (``spec``: the marker's ``key=value``s)."""

    page: Path
    line: int
    lang: str
    body: str
    spec: dict[str, str]
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def marked(self) -> bool:
        return bool(self.spec) or self.not_run is not None


def _spec(text: str) -> tuple[dict[str, str], str | None]:
    if text.startswith("not-run"):
        return {}, text.partition(":")[2].strip() or "(no reason given)"
    pairs = [token.partition("=") for token in text.split()]
    return {key: value for key, _, value in pairs}, None


def blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, with the marker on the line before it (if any)."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        marker = _MARKER.fullmatch(before)
        spec, not_run = _spec(marker.group("spec")) if marker else ({}, None)
        indent = m.group("indent")
        body = "".join(
            line[len(indent) :] if line.startswith(indent) else line
            for line in m.group("body").splitlines(keepends=True)
        )
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(page, line, m.group("lang"), body, spec, not_run))
    return out


def secrets_filled(text: str) -> str:
    return _ENV.sub(HOOK_SECRET, text)


@dataclass
class HttpRequest:
    """A request an example describes, aimed at the relay at ``base_url``."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def route(self) -> str:
        return urlsplit(self.url).path.split("/")[1]


def curl_request(command: str, base_url: str) -> HttpRequest:
    """The request a documented ``curl`` command sends (the options the docs use)."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl", command
    method, url, headers, data, as_query = "", "", {}, [], False
    it = iter(words[1:])
    for word in it:
        if word in ("-s", "-S", "-sS", "--silent", "--show-error"):
            continue
        if word in ("-X", "--request"):
            method = next(it)
        elif word in ("-H", "--header"):
            name, _, value = next(it).partition(":")
            headers[name.strip()] = secrets_filled(value.strip())
        elif word in ("-d", "--data", "--data-raw"):
            data.append(secrets_filled(next(it)))
        elif word == "--data-urlencode":
            name, eq, value = next(it).partition("=")
            value = secrets_filled(value)
            data.append(f"{name}={quote_plus(value)}" if eq else quote_plus(name))
        elif word in ("-G", "--get"):
            as_query = True
        elif not word.startswith("-"):
            url = _HOSTS.sub(base_url, secrets_filled(word))
        else:
            raise AssertionError(f"curl option {word} is not understood by the docs test")
    body = "&".join(data)
    if as_query and body:
        url, body = f"{url}{'&' if '?' in url else '?'}{body}", ""
    if body and "content-type" not in {h.lower() for h in headers}:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return HttpRequest(method or ("POST" if body else "GET"), url, headers, body.encode())


def filled_url(template: str, base_url: str, values: dict[str, str]) -> HttpRequest:
    """A VICIdial-style URL (``VAR`` prefix, ``--A--name--B--`` tokens) as VICIdial sends it;
    a token ``values`` does not know stays as written, as VICIdial leaves it."""
    url = template.strip().removeprefix("VAR")
    url = re.sub(
        r"--A--(\w+)--B--",
        lambda m: quote_plus(values[m.group(1)]) if m.group(1) in values else m.group(0),
        url,
    )
    return HttpRequest("GET", _HOSTS.sub(base_url, secrets_filled(url)))


def query_values(request: dict[str, Any]) -> dict[str, str]:
    """A corpus request's query parameters, decoded."""
    return dict(parse_qsl(request.get("query") or "", keep_blank_values=True))


def rendered_velocity(template: str, values: dict[str, Any]) -> str:
    """A Data Action request template rendered as Genesys does: ``#if($input.x)…#end`` (false
    for an unset input), ``$esc.jsonString($input.x)`` / ``$esc.jsonString(${input.x})`` (the
    formal ``${input.x}`` of an unset input renders as written)."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values or values[name] is None:
            return m.group(0)
        return json.dumps(str(values[name]), ensure_ascii=False)[1:-1]

    text = re.sub(
        r"#if\(\$input\.(\w+)\)(.*?)#end",
        lambda m: m.group(2) if values.get(m.group(1)) is not None else "",
        template,
    )
    text = re.sub(r"\$esc\.jsonString\(\$\{?input\.(\w+)\}?\)", value, text)
    return re.sub(r"\$\{input\.(\w+)\}", value, text)
