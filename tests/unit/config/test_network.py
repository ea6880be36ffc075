"""Client addresses behind trusted proxies, and network lists."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.config.network import client_address, in_networks, parse_networks
from relay.config.settings import Settings

PROXIES = parse_networks("10.0.0.0/8, fd00::/8")


def test_peer_is_the_client_without_trusted_proxies() -> None:
    """With no trusted proxy, X-Forwarded-For is ignored."""
    assert client_address("198.51.100.4", ["203.0.113.1"], []) == ipaddress.ip_address(
        "198.51.100.4"
    )


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (["203.0.113.1"], "203.0.113.1"),
        (["203.0.113.1, 10.1.1.1"], "203.0.113.1"),
        (["[2001:db8::1]:4711"], "2001:db8::1"),
        (["203.0.113.1:8080"], "203.0.113.1"),
        (["::ffff:203.0.113.1"], "203.0.113.1"),
        (["1.2.3.4, 203.0.113.1"], "203.0.113.1"),
        (["10.2.2.2"], "10.2.2.2"),
        (["unknown"], None),
        (["203.0.113.1, _hidden"], None),
    ],
)
def test_forwarded_chain(forwarded: list[str], client: str | None) -> None:
    """From a trusted peer, the right-most untrusted hop is the client."""
    found = client_address("10.0.0.1", forwarded, PROXIES)
    assert found == (ipaddress.ip_address(client) if client else None)


@given(
    spoofed=st.lists(st.ip_addresses().map(str) | st.text(max_size=20), max_size=5),
    client=st.ip_addresses(v=4, network="203.0.113.0/24"),
    hops=st.lists(st.ip_addresses(v=4, network="10.0.0.0/8"), max_size=3),
)
def test_client_cannot_choose_its_address(
    spoofed: list[str], client: ipaddress.IPv4Address, hops: list[ipaddress.IPv4Address]
) -> None:
    """Whatever a caller puts in X-Forwarded-For, the address its proxy saw wins."""
    chain = ", ".join([*(s.replace(",", "") for s in spoofed), str(client), *map(str, hops)])
    assert client_address("10.9.9.9", [chain], PROXIES) == client


def test_unknown_address_is_never_allowed() -> None:
    """An address that cannot be read is outside every allow-list."""
    assert not in_networks(None, parse_networks(["0.0.0.0/0"]))


def test_trusted_proxies_setting_reads_comma_separated_cidrs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RELAY_TRUSTED_PROXIES takes comma-separated CIDRs or addresses."""
    monkeypatch.setenv("RELAY_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7,fd00::/8")
    assert [str(n) for n in Settings().trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.1.7/32",
        "fd00::/8",
    ]


def test_bad_network_is_a_clear_error() -> None:
    """A value that is no address or CIDR names itself in the error."""
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300/8'")):
        parse_networks("10.0.0.300/8")
