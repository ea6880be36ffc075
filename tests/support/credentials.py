"""Credentials for each auth scheme, as a sender presents them (tests of relay.config.auth)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field

from relay.config import jwt

NOW = 1_775_000_000.0
BODY = b'{"dial_id": "call-0001", "ani": "5125550100"}'
GOOD = "s3cret-Token-0001"
OTHER = "s3cret-Token-0002"
WRONG = "wrong-Token-0001"


@dataclass
class Req:
    """A request's credential-bearing parts; ``now`` is the verifier's clock (None: the wall
    clock)."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = BODY
    now: float | None = NOW


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hmac_hex(secret: str, content: bytes) -> str:
    return hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, ts: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return "v1," + b64(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest())


# Each scheme: its config (with `secrets`), and how a sender presents a secret.
def header_req(secret: str) -> Req:
    return Req(headers={"X-Relay-Token": secret})


def bearer_req(secret: str) -> Req:
    return Req(headers={"Authorization": f"Bearer {secret}"})


def query_req(secret: str) -> Req:
    return Req(query={"key": secret})


def body_token_req(secret: str) -> Req:
    """Aircall's way: the token is a field of the JSON body."""
    return Req(
        body=json.dumps({"event": "call.ended", "token": secret, "data": {"id": 1}}).encode()
    )


def basic_req(secret: str) -> Req:
    return Req(headers={"Authorization": "Basic " + b64(f"genesys:{secret}".encode())})


def firehose_req(secret: str) -> Req:
    """Kinesis Data Firehose's HTTP endpoint destination: the access key, verbatim."""
    return Req(headers={"X-Amz-Firehose-Access-Key": secret})


def hmac_req(secret: str, ts: int = int(NOW), body: bytes = BODY) -> Req:
    """Signed over ``<ts>.<body>``, GitHub style (``sha256=<hex>``)."""
    stamp = str(ts)
    signature = "sha256=" + hmac_hex(secret, f"{stamp}.".encode() + body)
    return Req(headers={"X-Sig": signature, "X-Ts": stamp}, body=body)


def jwt_req(secret: str) -> Req:
    """The body's claims signed into a JWT, the whole body (Dialpad)."""
    return Req(body=jwt.encode(json.loads(BODY), secret.encode()))


def verification_token_req(secret: str) -> Req:
    """A RingCentral notification: the subscription's verificationToken in its header."""
    return Req(headers={"Verification-Token": secret})


SCHEMES = {
    "header": ({"type": "header"}, header_req),
    "ringcentral": ({"type": "verification-token"}, verification_token_req),
    "bearer": ({"type": "bearer"}, bearer_req),
    "query": ({"type": "query", "param": "key"}, query_req),
    "body-token": ({"type": "body-token"}, body_token_req),
    "basic": ({"type": "basic", "username": "genesys"}, basic_req),
    "firehose": ({"type": "firehose"}, firehose_req),
    "hmac": (
        {"type": "hmac", "header": "X-Sig", "prefix": "sha256=", "timestamp_header": "X-Ts"},
        hmac_req,
    ),
    "jwt": ({"type": "jwt"}, jwt_req),
}


def config_for(scheme: str, *secrets: str) -> dict[str, object]:
    base, _ = SCHEMES[scheme]
    key = "passwords" if scheme == "basic" else "secrets"
    return {**base, key: list(secrets)}
