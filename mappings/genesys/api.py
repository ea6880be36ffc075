"""A small Genesys Cloud API client: OAuth client credentials, conversation details, lookups.

One ``httpx.AsyncClient`` per source (created on first use, closed by ``aclose``). The token
(``POST {login host}/oauth/token``) is cached until shortly before it expires and fetched
once however many resolutions wait for it. Users, queues, wrap-up codes and campaigns are
cached for ``cache_ttl`` seconds, and concurrent lookups of one id share one request.

httpx errors and Genesys answers are translated here, at the edge: 401/403 (after one fresh
token) → ``ResolveAuthError``; 429, 5xx, timeouts and connection errors → ``ResolveError``
(``retry_after`` from ``Retry-After``); other 4xx → ``MappingError`` (the job is dead-lettered).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from mappings.genesys.ids import check_id
from relay.sdk import MappingError, Problem, ResolveAuthError, ResolveError, parse_retry_after

__all__ = ["GenesysApi", "TtlCache", "login_url_for", "normalize_api_url"]

V = TypeVar("V")
_TOKEN_MARGIN = 60.0  # refresh this long before the token expires


def normalize_api_url(region: str) -> str:
    """``usw2.pure.cloud`` or ``https://api.usw2.pure.cloud/`` → ``https://api.usw2.pure.cloud``."""
    text = region.strip().rstrip("/")
    if not text:
        raise ValueError("region is empty")
    if "://" not in text:
        text = "https://" + (text if text.startswith("api.") else f"api.{text}")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"region {region!r} is not a host or an https:// URL")
    return text


def login_url_for(api_url: str) -> str:
    """The OAuth host of a region: ``https://api.X`` → ``https://login.X``."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if not host.startswith("api."):
        raise ValueError(f"cannot derive the login host from {api_url!r}: set login_url")
    netloc = "login." + host[4:] + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}"


class TtlCache(Generic[V]):
    """Values by key for ``ttl`` seconds; concurrent loads of one key share one call."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._values: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Task[V]] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        hit = self._values.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, load))
            self._loading[key] = task
            task.add_done_callback(lambda _t: self._loading.pop(key, None))
        return await asyncio.shield(task)

    async def _load(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        value = await load()
        self._values[key] = (self.clock() + self.ttl, value)
        return value


class GenesysApi:
    """Genesys Cloud's REST API for one source (one OAuth client, one region)."""

    def __init__(
        self,
        *,
        api_url: str,
        login_url: str,
        client_id: str,
        client_secret: SecretStr,
        timeout: float = 10.0,
        cache_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.clock = clock
        self._client: httpx.AsyncClient | None = None
        self._token: tuple[str, float] | None = None
        self._token_lock: asyncio.Lock | None = None
        self.users: TtlCache[dict[str, Any] | None] = TtlCache(cache_ttl, self._now)
        self.queues: TtlCache[dict[str, Any] | None] = TtlCache(cache_ttl, self._now)
        self.wrapup_codes: TtlCache[dict[str, Any] | None] = TtlCache(cache_ttl, self._now)
        self.campaigns: TtlCache[dict[str, Any] | None] = TtlCache(cache_ttl, self._now)

    def __repr__(self) -> str:
        return f"GenesysApi(api_url={self.api_url!r}, client_id={self.client_id!r})"

    def _now(self) -> float:
        return self.clock()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                headers={"User-Agent": "outboundiq-relay", "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- OAuth client credentials --------------------------------------------------------
    async def token(self, *, fresh: bool = False) -> str:
        """A bearer token, cached until shortly before it expires."""
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        stale = self._token[0] if fresh and self._token else None
        async with self._token_lock:
            cached = self._token
            if cached is not None and cached[0] != stale and cached[1] > self.clock():
                return cached[0]
            self._token = None
            response = await self._send(
                "POST",
                f"{self.login_url}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret.get_secret_value()),
            )
            status = response.status_code
            if status < 500 and status not in (408, 429) and not 200 <= status < 300:
                raise ResolveAuthError(
                    f"Genesys refused the OAuth client {self.client_id!r} "
                    f"(HTTP {status} from {self.login_url}/oauth/token)",
                    reason=f"token_http_{status}",
                )
            self._raise_for_status(response, "/oauth/token")
            try:
                body = response.json()
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError) as exc:
                raise ResolveError(
                    "Genesys /oauth/token answered without a token", reason="bad_token_response"
                ) from exc
            margin = min(_TOKEN_MARGIN, lifetime / 10)
            self._token = (token, self.clock() + lifetime - margin)
            return token

    # --- requests --------------------------------------------------------------------
    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http().request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ResolveError(
                f"Genesys did not answer {method} {urlsplit(url).path} in time", reason="timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise ResolveError(
                f"cannot reach Genesys ({type(exc).__name__})", reason="network"
            ) from exc

    def _raise_for_status(self, response: httpx.Response, path: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 429 or status >= 500 or status == 408:
            hint = parse_retry_after(response.headers.get("retry-after"), now=time.time())
            raise ResolveError(
                f"Genesys answered HTTP {status} to {path}",
                reason=f"http_{status}",
                retry_after=hint,
            )
        if status in (401, 403):
            raise ResolveAuthError(
                f"Genesys refused the OAuth client {self.client_id!r} for {path} (HTTP {status}:"
                " check the client's roles and permissions)",
                reason=f"http_{status}",
            )
        raise MappingError(
            [Problem("genesys", f"GET {path} answered HTTP {status}: {response.text[:200]}")]
        )

    async def get_json(self, path: str, *, missing_ok: bool = True) -> dict[str, Any] | None:
        """GET ``path`` as JSON; None for a 404 when ``missing_ok``."""
        token = await self.token()
        response = await self._send(
            "GET", self.api_url + path, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 401:  # expired or revoked early: one fresh token
            token = await self.token(fresh=True)
            response = await self._send(
                "GET", self.api_url + path, headers={"Authorization": f"Bearer {token}"}
            )
        if response.status_code == 404 and missing_ok:
            return None
        self._raise_for_status(response, path)
        try:
            body = response.json()
        except ValueError as exc:
            raise ResolveError(f"Genesys answered {path} with no JSON", reason="bad_json") from exc
        if not isinstance(body, dict):
            raise ResolveError(f"Genesys answered {path} with no object", reason="bad_json")
        return body

    # --- what the mapping reads ----------------------------------------------------------
    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        """Analytics details of one conversation; a 404 (not there yet) is retried."""
        path = f"/api/v2/analytics/conversations/{_seg(conversation_id, 'conversationId')}/details"
        body = await self.get_json(path)
        if body is None:
            raise ResolveError(
                f"conversation {conversation_id} is not in Genesys analytics yet",
                reason="not_found",
            )
        return body

    async def _named(
        self, cache: TtlCache[dict[str, Any] | None], path: str, entity_id: str, what: str
    ) -> dict[str, Any] | None:
        url = path + _seg(entity_id, what)
        return await cache.get(entity_id, lambda: self.get_json(url))

    async def user(self, user_id: str) -> dict[str, Any] | None:
        return await self._named(self.users, "/api/v2/users/", user_id, "userId")

    async def queue(self, queue_id: str) -> dict[str, Any] | None:
        return await self._named(self.queues, "/api/v2/routing/queues/", queue_id, "queueId")

    async def wrapup_code(self, code_id: str) -> dict[str, Any] | None:
        return await self._named(
            self.wrapup_codes, "/api/v2/routing/wrapupcodes/", code_id, "wrapUpCode"
        )

    async def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        return await self._named(
            self.campaigns, "/api/v2/outbound/campaigns/", campaign_id, "outboundCampaignId"
        )

    async def contact(self, list_id: str, contact_id: str) -> dict[str, Any] | None:
        """A dialer contact; not cached (its attempts change with every call)."""
        lists = f"/api/v2/outbound/contactlists/{_seg(list_id, 'outboundContactListId')}"
        return await self.get_json(f"{lists}/contacts/{_seg(contact_id, 'outboundContactId')}")


def _seg(value: str, what: str) -> str:
    """An id as a path segment: only a Genesys id (a UUID: hex digits and dashes) becomes
    one, so ``..``, ``/`` or ``%2e`` can never steer a request (and its token) elsewhere."""
    return quote(check_id(value, what), safe="")
