"""Outbound address policy: which hosts, addresses and ports the Gateway may connect to, and the
normalisation that makes every spelling of a host (numeric, IDNA, bracketed...) compare equal."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import idna

from sophon.platform.errors import InvalidRequest

log = logging.getLogger("sophon.outbound")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str], Awaitable[Sequence[str]]]
"""Maps a normalised host name to its IP addresses (strings); raises OSError when it can't."""

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Cloud credential endpoints: reachable only through an allow entry naming the exact address.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)

LOOPBACK_NETWORKS: tuple[IPNetwork, ...] = (_V4("127.0.0.0/8"), _V6("::1/128"))

# First match wins: specific entries come before the ranges containing them.
_V4_REFUSED: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/32"), "unspecified"),
    (_V4("0.0.0.0/8"), "reserved"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (CGNAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "reserved"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)
_V6_REFUSED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "IPv4-compatible"),
    (_V6("64:ff9b:1::/48"), "private (NAT64)"),
    (_V6("100::/64"), "reserved"),
    (_V6("2001::/23"), "reserved"),  # Teredo, benchmarking, ORCHID and other IETF assignments
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "unique-local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("ff00::/8"), "multicast"),
)
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")
_GLOBAL_UNICAST = _V6("2000::/3")

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


class OutboundRefused(InvalidRequest):
    """An outbound request the policy does not allow (scheme, credentials or destination).

    400 `invalid_request`; `details` carries `host`, `port` and `reason`. The message names the
    host as the caller wrote it and the kind of address, never what an internal name resolved to
    (that goes to the log only)."""

    default_message = "The outbound destination is not allowed."


def _refuse(host: str, port: int | None, reason: str, why: str) -> OutboundRefused:
    target = host if port is None else f"{host}:{port}"
    return OutboundRefused(
        f"Outbound request to {target} refused: {why}.",
        {"host": host, "port": port, "reason": reason},
    )


def _parse_number(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part, 10)


def _parse_ipv4_number(host: str) -> ipaddress.IPv4Address:
    """inet_aton rules (what resolvers apply): 1-4 parts, each decimal, octal (0...) or hex
    (0x...); the last part fills the remaining bytes. `127.1`, `2130706433`, `0x7f.1` parse."""
    parts = host.split(".")
    if len(parts) > 4 or not all(_NUMERIC_LABEL.match(p) for p in parts):
        raise ValueError("not an IPv4 address")
    numbers = [_parse_number(p) for p in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("part out of range")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def canonical_address(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalize_host(raw: str) -> IPAddress | str:
    """The address a host literal denotes, or the host name in canonical form (IDNA A-labels,
    lower case, no trailing dot). Raises ValueError for a host no resolver could agree on."""
    host = raw.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if ":" not in host:
            raise ValueError("brackets hold only IPv6 addresses")
    if ":" in host:
        if "%" in host:
            raise ValueError("IPv6 zone identifiers are not allowed")
        return canonical_address(ipaddress.IPv6Address(host))
    if host.isascii():
        host = host.lower()
    else:
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"invalid internationalised name: {exc}") from None
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    # WHATWG URL rule: a host whose last label is a number must be an IPv4 address.
    if labels and _NUMERIC_LABEL.match(labels[-1]):
        return _parse_ipv4_number(host)
    if not _HOSTNAME.match(host):
        raise ValueError("not a valid host name")
    return host


def address_risk(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused by default, or None for a public address."""
    address = canonical_address(address)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv4Address):
        return next((why for net, why in _V4_REFUSED if address in net), None)
    embedded: ipaddress.IPv4Address | None = None
    if address in _NAT64:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    elif address in _SIX_TO_FOUR:
        embedded = address.sixtofour
    if embedded is not None:
        inner = address_risk(embedded)
        return None if inner is None else f"{inner} (embedded in IPv6)"
    for net, why in _V6_REFUSED:
        if address in net:
            return why
    return None if address in _GLOBAL_UNICAST else "reserved"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One allow-list entry: a host name or a network, optionally limited to one port."""

    name: str | None
    network: IPNetwork | None
    port: int | None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        """`host`, `host:port`, `a.b.c.d[:port]`, `a.b.c.d/nn[:port]`, `[v6][:port]`,
        `[v6/nn][:port]` or a bare IPv6 address/network. Raises ValueError."""
        entry = text.strip()
        target, port_text = entry, ""
        if entry.startswith("["):
            close = entry.find("]")
            if close < 0 or (entry[close + 1 :] and not entry[close + 1 :].startswith(":")):
                raise ValueError(f"invalid allow entry {text!r}: unbalanced brackets")
            target, port_text = entry[1:close], entry[close + 2 :]
        elif entry.count(":") == 1:
            target, port_text = entry.split(":")
        port = None
        if port_text or entry.endswith(":"):
            if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
                raise ValueError(f"invalid allow entry {text!r}: bad port")
            port = int(port_text)
        try:
            if "/" in target:
                return cls(None, ipaddress.ip_network(target, strict=True), port)
            host = normalize_host(target)
        except ValueError as exc:
            raise ValueError(f"invalid allow entry {text!r}: {exc}") from None
        if isinstance(host, str):
            return cls(host, None, port)
        return cls(None, ipaddress.ip_network(host), port)

    def admits(self, name: str | None, address: IPAddress, port: int, *, exact: bool) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is None:
            return not exact and name is not None and name == self.name
        if exact and self.network.num_addresses != 1:
            return False
        return self.network.version == address.version and address in self.network


def split_allow_setting(value: str | None) -> tuple[str, ...]:
    """Entries of `SOPHON_OUTBOUND_ALLOW`: separated by commas and/or whitespace."""
    return tuple(part for part in re.split(r"[,\s]+", value or "") if part)


class OutboundPolicy:
    """Decides whether a (host, addresses, port) destination may be contacted.

    Refused by default: every non-public address (see `address_risk`). An allow entry lets a
    matching address (or a host name, whatever it resolves to) through; `allow_loopback` lets
    127.0.0.0/8 and ::1 through. Metadata addresses pass only an entry naming that exact address."""

    def __init__(self, allow: Iterable[str] = (), *, allow_loopback: bool = False) -> None:
        self.entries = tuple(AllowEntry.parse(text) for text in allow)
        self.allow_loopback = allow_loopback

    def _admitted(self, name: str | None, address: IPAddress, port: int) -> bool:
        exact = address in METADATA_ADDRESSES
        if any(entry.admits(name, address, port, exact=exact) for entry in self.entries):
            return True
        if address_risk(address) is None:
            return True
        return self.allow_loopback and any(address in net for net in LOOPBACK_NETWORKS)

    def vet(
        self, host: str, name: str | None, addresses: Sequence[IPAddress], port: int
    ) -> list[IPAddress]:
        """The addresses to connect to (canonical, deduplicated) if EVERY one may be contacted;
        otherwise OutboundRefused. `host` is the host as the caller wrote it; `name` is its
        normalised DNS name, or None when the host was an address literal."""
        vetted = list(dict.fromkeys(canonical_address(a) for a in addresses))
        if not vetted:
            raise _refuse(host, port, "unresolved", "the host has no address")
        for address in vetted:
            if self._admitted(name, address, port):
                continue
            reason = address_risk(address) or "not allowed"
            log.warning(
                "outbound refused host=%s address=%s port=%s reason=%s", host, address, port, reason
            )
            if name is None:
                raise _refuse(host, port, reason, f"{reason} address")
            raise _refuse(
                host, port, reason, f"the name resolves to a non-public address ({reason})"
            )
        return vetted


def invalid_host(host: str, port: int | None, problem: str) -> OutboundRefused:
    return _refuse(host, port, "invalid host", problem)


async def system_resolver(host: str) -> list[str]:
    """The event loop's getaddrinfo (run in the loop's executor, so the loop never blocks)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def vetted_addresses(
    policy: OutboundPolicy, resolver: Resolver, host: str, port: int, limit: float | None
) -> list[IPAddress]:
    """The host normalised, resolved once and EVERY address vetted: the addresses a connection
    may be opened to. OutboundRefused for a refused one; TimeoutError when resolving outlasts
    `limit`, OSError when it fails."""
    try:
        target = normalize_host(host)
    except ValueError as exc:
        raise invalid_host(host, port, str(exc)) from None
    if not isinstance(target, str):
        return policy.vet(host, None, [target], port)
    async with asyncio.timeout(limit):
        answers = await resolver(target)
    addresses = []
    for answer in answers:
        try:
            address = normalize_host(answer)
        except ValueError:
            raise invalid_host(host, port, "the resolver returned a malformed address") from None
        if isinstance(address, str):
            raise invalid_host(host, port, "the resolver returned a name, not an address")
        addresses.append(address)
    return policy.vet(host, target, addresses, port)
