"""outboundIQ Relay: dialer webhooks in, durable queue, Dials out to outboundIQ."""

from __future__ import annotations

__version__ = "0.1.0"
