"""A fake Genesys Cloud API: a real HTTP server answering the documented response shapes.

fake = FakeGenesys().start()
fake.load(directory)                      # users, queues, wrap-up codes, campaigns, contacts
fake.conversations[uuid] = [details]    # analytics details, in order (the last repeats)
fake.fail("/api/v2/analytics", Reply(429, headers={"Retry-After": "1"}), Reply(500))
fake.hold("/api/v2/analytics")            # such requests wait until fake.release()
fake.calls("/api/v2/users/")              # how many requests a path prefix got

Endpoints: POST /oauth/token (client credentials, HTTP Basic), GET
/api/v2/analytics/conversations/{id}/details, /api/v2/users/{id},
/api/v2/routing/queues/{id}, /api/v2/routing/wrapupcodes/{id},
/api/v2/outbound/campaigns/{id}, /api/v2/outbound/contactlists/{list}/contacts/{id}. A bearer
token the fake did not issue (or revoked) gets 401, as Genesys answers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.support.fake_outboundiq import Reply, free_port, send_reply, serve_http, stop_http

CLIENT_ID = "relay-oauth-client"
CLIENT_SECRET = "relay-oauth-secret-0001"


def _error(status: int, code: str, message: str) -> Reply:
    body = {"message": message, "code": code, "status": status}
    return Reply(status, body=json.dumps(body))


class FakeGenesys:
    def __init__(self) -> None:
        self.port = free_port()
        self.users: dict[str, dict[str, Any]] = {}
        self.queues: dict[str, dict[str, Any]] = {}
        self.wrapupcodes: dict[str, dict[str, Any]] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.contacts: dict[tuple[str, str], dict[str, Any]] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, int, float]] = []  # method, path, status, at
        self.client_secret = CLIENT_SECRET
        self.token_ttl = 86400
        self.tokens: set[str] = set()
        self._failures: deque[tuple[str, Reply]] = deque()
        self._held: str | None = None
        self._gate = threading.Event()
        self.waiting = 0  # requests currently held at the gate
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- control ---------------------------------------------------------------------
    def load(self, directory: dict[str, Any]) -> None:
        """Users, queues, wrap-up codes, campaigns and contacts, as Genesys returns them."""
        for user in directory.get("users", []):
            self.users[user["id"]] = user
        for queue in directory.get("queues", []):
            self.queues[queue["id"]] = queue
        for code in directory.get("wrapupcodes", []):
            self.wrapupcodes[code["id"]] = code
        for campaign in directory.get("campaigns", []):
            self.campaigns[campaign["id"]] = campaign
        for contact in directory.get("contacts", []):
            self.contacts[(contact["contactListId"], contact["id"])] = contact

    def fail(self, prefix: str, *replies: Reply) -> None:
        """The next requests whose path starts with ``prefix`` get these answers, in order."""
        with self._lock:
            self._failures.extend((prefix, r) for r in replies)

    def hold(self, prefix: str) -> None:
        self._gate.clear()
        self._held = prefix

    def release(self) -> None:
        self._held = None
        self._gate.set()

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def calls(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for _m, path, _s, _at in self.requests if path.startswith(prefix))

    def timed(self) -> list[tuple[str, str, int, float]]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    # --- answers ---------------------------------------------------------------------
    def _scripted(self, path: str) -> Reply | None:
        with self._lock:
            for i, (prefix, reply) in enumerate(self._failures):
                if path.startswith(prefix):
                    del self._failures[i]
                    return reply
        return None

    def _token(self, headers: dict[str, str], body: bytes) -> Reply:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            user = password = ""
        form = parse_qs(body.decode())
        if form.get("grant_type") != ["client_credentials"]:
            return Reply(400, body='{"error":"unsupported_grant_type"}')
        if scheme.lower() != "basic" or (user, password) != (CLIENT_ID, self.client_secret):
            return Reply(401, body='{"error":"invalid_client","description":"bad credentials"}')
        with self._lock:
            token = f"token-{len(self.tokens) + 1}-{time.monotonic_ns()}"
            self.tokens.add(token)
        body_out = {"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl}
        return Reply(200, body=json.dumps(body_out))

    def _get(self, path: str) -> Reply:
        parts = [unquote(p) for p in path.split("/") if p]
        found: Any = None
        if parts[:4] == ["api", "v2", "analytics", "conversations"] and len(parts) == 6:
            with self._lock:
                answers = self.conversations.get(parts[4])
                if answers:
                    found = answers.pop(0) if len(answers) > 1 else answers[0]
        elif parts[:3] == ["api", "v2", "users"] and len(parts) == 4:
            found = self.users.get(parts[3])
        elif parts[:4] == ["api", "v2", "routing", "queues"] and len(parts) == 5:
            found = self.queues.get(parts[4])
        elif parts[:4] == ["api", "v2", "routing", "wrapupcodes"] and len(parts) == 5:
            found = self.wrapupcodes.get(parts[4])
        elif parts[:4] == ["api", "v2", "outbound", "campaigns"] and len(parts) == 5:
            found = self.campaigns.get(parts[4])
        elif parts[:4] == ["api", "v2", "outbound", "contactlists"] and len(parts) == 7:
            found = self.contacts.get((parts[4], parts[6]))
        if found is None:
            return _error(404, "not.found", f"{path} was not found")
        return Reply(200, body=json.dumps(found))

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        scripted = self._scripted(path)
        if scripted is not None:
            return scripted
        if method == "POST" and path == "/oauth/token":
            return self._token(headers, body)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            known = token in self.tokens
        if not known:
            return _error(401, "bad.credentials", "Invalid login credentials.")
        if method != "GET":
            return _error(405, "method.not.allowed", method)
        return self._get(path)

    # --- lifecycle -------------------------------------------------------------------
    def _on_request(
        self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> None:
        path = handler.path.split("?", 1)[0]
        held = self._held
        if held is not None and path.startswith(held):
            with self._lock:
                self.waiting += 1
            self._gate.wait(30)
            with self._lock:
                self.waiting -= 1
        at = time.monotonic()
        reply = self._answer(handler.command, path, headers, body)
        with self._lock:
            self.requests.append((handler.command, path, reply.status, at))
        if reply.delay:
            time.sleep(reply.delay)
        send_reply(handler, reply)

    def start(self) -> FakeGenesys:
        self._server = serve_http(self.port, self._on_request)
        return self

    def stop(self) -> None:
        self.release()
        stop_http(self._server)
        self._server = None
