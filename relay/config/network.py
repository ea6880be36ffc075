"""Who is calling: the client address behind trusted proxies, and per-source allow-lists.

``X-Forwarded-For`` is only believed when the TCP peer is a configured trusted proxy
(``RELAY_TRUSTED_PROXIES``). The list is then read right to left, skipping the trusted
proxies' own addresses: the first address not trusted is the client. Entries left of it were
written by the client and are never used, so a caller cannot spoof its way into an
allow-list by sending its own ``X-Forwarded-For``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = [
    "IPAddress",
    "IPNetwork",
    "client_address",
    "in_networks",
    "parse_networks",
    "peer_is_trusted",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: str | Iterable[object]) -> list[IPNetwork]:
    """CIDRs (or bare addresses) from a list or a comma-separated string; ``ValueError`` else."""
    items = values.split(",") if isinstance(values, str) else values
    networks: list[IPNetwork] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or CIDR network") from None
    return networks


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IPAddress | None, networks: Sequence[IPNetwork]) -> bool:
    """Whether ``address`` is inside one of ``networks`` (an unknown address never is)."""
    return address is not None and any(address in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> IPAddress | None:
    """The caller's address, or ``None`` when it cannot be known (an unparsable hop).

    ``peer`` is the TCP peer; ``forwarded_for`` every ``X-Forwarded-For`` header value, in
    the order received.
    """
    address = _address(peer) if peer else None
    if address is None or not in_networks(address, trusted):
        return address
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None or not in_networks(address, trusted):
            return address
    return address  # every hop is a trusted proxy: the leftmost one is the best we know


def peer_is_trusted(peer: str | None, trusted: Sequence[IPNetwork]) -> bool:
    """Whether the TCP peer is a trusted proxy (whose ``X-Forwarded-*`` headers count)."""
    return bool(trusted) and peer is not None and in_networks(_address(peer), trusted)
