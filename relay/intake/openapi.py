"""The OpenAPI 3.1 document of the intake (``/hooks/{source}``) and preview, at ``/openapi.json``.

Built from the code's own models (the ``Dial`` schema comes from ``relay.core.dial.Dial``) so it
cannot drift from the wire shape. It names no source and no secret: the same document for
every deployment, safe to serve without authentication.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from relay import __version__
from relay.config.auth import AUTH_SCHEMES
from relay.core.dial import Dial
from relay.intake.answers import HOOK_PREFIX

__all__ = ["openapi_document", "openapi_endpoint"]

_REF = "#/components/schemas/"
_SOURCE = {
    "name": "source",
    "in": "path",
    "required": True,
    "description": "The source's name in the sources file.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$"},
}
_BODY = {
    "required": False,
    "description": "The dialer's webhook: JSON, or a URL-encoded form (query parameters are "
    "merged in; the body wins on a clash). An empty body maps the query parameters alone.",
    "content": {
        "application/json": {"schema": {}},
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}
        },
    },
}
_QUERY = {
    "name": "fields",
    "in": "query",
    "required": False,
    "description": "Any webhook fields (Five9, VICIdial send everything here).",
    "style": "form",
    "explode": True,
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
}
# Each source uses exactly one scheme (``{}``: none); header names, the query parameter and
# the HMAC header are configurable per source (the schemes show the defaults). See
# docs/security.md.
_SECURITY: list[dict[str, list[str]]] = [
    {scheme.openapi_name: []} if scheme.openapi_name else {} for scheme in AUTH_SCHEMES
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _json(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _refusals() -> dict[str, Any]:
    """The answers every authenticated endpoint shares."""
    return {
        "400": _json("The client disconnected before its body arrived.", "Error"),
        "401": _json("The source's authentication failed (no hint which part).", "Error"),
        "403": _json("The client address is not in the source's `allow_ips`.", "Error"),
        "404": _json("No source by that name.", "Error"),
        "405": _json("Method not allowed.", "Error"),
        "408": _json("The request body did not arrive in time.", "Error"),
        "413": _json("The body is over RELAY_MAX_BODY_BYTES.", "Error"),
        "415": _json("Neither JSON nor a URL-encoded form, or a Content-Encoding.", "Error"),
        "429": _json(
            "Over the source's `rate_limit`.",
            "Error",
            {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        ),
        "431": _json("Too many headers, or headers too large.", "Error"),
    }


def _hook_responses() -> dict[str, Any]:
    return {
        "200": _json(
            "That dial_id was already accepted within the dedupe window. (A Kinesis Data "
            "Firehose source, `auth: {type: firehose}`, answers every batch it stored 200, and "
            "every answer with Firehose's body: requestId, timestamp, errorMessage.)",
            "Duplicate",
        ),
        "202": {
            "description": "Stored durably; it will be delivered to outboundIQ (queued). Or a "
            "later leg of a call, merged into the dial held for the source's coalesce_seconds "
            "(coalesced).",
            "content": {
                "application/json": {"schema": {"oneOf": [_ref("Queued"), _ref("Coalesced")]}}
            },
        },
        **_refusals(),
        "422": _json("Cannot be mapped; the raw request is kept for replay.", "Rejected"),
        "503": _json(
            "The queue cannot store right now (or shutting down), or too many connections: retry.",
            "Error",
        ),
    }


def _schemas() -> dict[str, Any]:
    dial = Dial.model_json_schema()
    problem = {
        "type": "object",
        "required": ["field", "problem"],
        "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
    }
    return {
        "Dial": dial,
        "Problem": problem,
        "Queued": {
            "type": "object",
            "required": ["status", "dial_id"],
            "properties": {"status": {"const": "queued"}, "dial_id": {"type": "string"}},
        },
        "Coalesced": {
            "type": "object",
            "required": ["status", "dial_id"],
            "properties": {"status": {"const": "coalesced"}, "dial_id": {"type": "string"}},
        },
        "Duplicate": {
            "type": "object",
            "required": ["status", "dial_id"],
            "properties": {"status": {"const": "duplicate"}, "dial_id": {"type": "string"}},
        },
        "Rejected": {
            "type": "object",
            "required": ["status", "errors"],
            "properties": {
                "status": {"const": "rejected"},
                "rejected_id": {"type": ["string", "null"]},
                "errors": {"type": "array", "items": _ref("Problem")},
            },
        },
        "Problems": {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "items": _ref("Problem")}},
        },
        "Preview": {
            "type": "object",
            "required": ["dial", "warnings"],
            "properties": {
                "dial": _ref("Dial"),
                "warnings": {"type": "array", "items": {"type": "string"}},
                "unused_keys": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Input keys no Dials field used (nested ones as a.b).",
                },
            },
        },
        "Error": {
            "type": "object",
            "required": ["status", "error"],
            "properties": {"status": {"const": "error"}, "error": {"type": "string"}},
        },
    }


def _security_schemes() -> dict[str, Any]:
    return {
        scheme.openapi_name: scheme.openapi_scheme()
        for scheme in AUTH_SCHEMES
        if scheme.openapi_name is not None
    }


def openapi_document() -> dict[str, Any]:
    """The intake's OpenAPI 3.1 document."""
    hook_post = {
        "operationId": "receiveWebhook",
        "summary": "A dialer's call-end webhook: map it to a Dial and queue it.",
        "security": _SECURITY,
        "requestBody": _BODY,
        "responses": _hook_responses(),
    }
    hook_get = {
        "operationId": "receiveWebhookByQuery",
        "summary": "The same webhook sent as a GET with query parameters (VICIdial).",
        "security": _SECURITY,
        "parameters": [_QUERY],
        "responses": _hook_responses(),
    }
    preview = {
        "operationId": "previewWebhook",
        "summary": "Map a webhook and show the Dials payload, without queueing it.",
        "description": "Same authentication and limits as the hook.",
        "security": _SECURITY,
        "requestBody": _BODY,
        "responses": {
            "200": _json("What the webhook maps to, and warnings.", "Preview"),
            **_refusals(),
            "422": _json("Cannot be mapped (nothing is stored).", "Problems"),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "outboundIQ Relay intake",
            "version": __version__,
            "description": "Receives dialer call-end webhooks and delivers them to "
            "outboundIQ's Dials API. Authentication is per source (docs/security.md).",
        },
        "paths": {
            HOOK_PREFIX + "{source}": {"parameters": [_SOURCE], "post": hook_post, "get": hook_get},
            "/preview/{source}": {"parameters": [_SOURCE], "post": preview},
        },
        "components": {"schemas": _schemas(), "securitySchemes": _security_schemes()},
    }


async def openapi_endpoint(_request: Request) -> Response:
    return JSONResponse(openapi_document())
