"""A fake RingCentral webhook sender: what RingCentral's platform does to a webhook address.

``create_subscription`` is ``POST /restapi/v1.0/subscription`` seen from the address's side:
RingCentral sends a validation request carrying a ``Validation-Token`` header (and no
``Verification-Token``, no notification) and creates the subscription only when the answer is
a 200 within 3000 ms that echoes the header and is at most 1024 bytes, headers and body
(https://developers.ringcentral.com/guide/notifications/webhooks/creating-webhooks); otherwise
creation fails with ``SUB-525 WebHook server response is invalid``. ``deliver`` then POSTs a
notification with the subscription's ``verificationToken`` in ``Verification-Token``, as
RingCentral's webhook user agent does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

USER_AGENT = "RingCentral-Webhook/8.3"
#: The validation answer's limits (RingCentral's guide).
VALIDATION_TIMEOUT_SECONDS = 3.0
VALIDATION_MAX_BYTES = 1024


class SubscriptionRefused(Exception):
    """``SUB-525``: the address did not answer the validation request as required."""


def response_size(response: httpx.Response) -> int:
    """The bytes of an answer's header lines and body, as RingCentral counts them."""
    head = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
    return head + len(response.content)


@dataclass
class FakeRingCentral:
    """Creates a webhook subscription to ``address`` and delivers notifications to it."""

    address: str
    verification_token: str
    validation_token: str = field(default_factory=lambda: secrets.token_hex(16))
    active: bool = False

    def create_subscription(self) -> httpx.Response:
        """The validation request; ``SubscriptionRefused`` unless it is answered correctly."""
        headers = {
            "Validation-Token": self.validation_token,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        answer = httpx.post(self.address, headers=headers, timeout=VALIDATION_TIMEOUT_SECONDS)
        if (
            answer.status_code != 200
            or answer.headers.get("validation-token") != self.validation_token
            or response_size(answer) > VALIDATION_MAX_BYTES
        ):
            raise SubscriptionRefused(f"SUB-525 WebHook server response is invalid: {answer}")
        self.active = True
        return answer

    def deliver(self, notification: dict[str, Any], token: str | None = None) -> httpx.Response:
        """POST one notification (``token``: another verification token, a forgery)."""
        assert self.active, "RingCentral delivers nothing before the subscription exists"
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Verification-Token": self.verification_token if token is None else token,
        }
        return httpx.post(self.address, content=orjson.dumps(notification), headers=headers)
