"""The SSRF guard: a webhook URL may only reach public addresses.

The host is resolved once; if ANY of its addresses is loopback, private, link-local,
shared (100.64.0.0/10), multicast, reserved, unspecified or otherwise not global -- IPv4
or IPv6, with IPv4 hidden in IPv6 (mapped, compatible, 6to4, Teredo, NAT64) unwrapped --
the URL is refused, unless the address lies in a network of the allow-list
(``AETHERIS_WEBHOOK_ALLOWED_NETWORKS``). The caller then connects to the checked
address itself, never resolving the name again (no DNS rebinding between check and use).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


class UnsafeUrlError(ValueError):
    """The URL is malformed, or it leads to an address webhooks may not reach."""


class Resolver(Protocol):
    """Turns a host name into its addresses (the system resolver, or a fake in tests)."""

    def resolve(self, host: str, port: int) -> list[str]: ...


_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class SystemResolver:
    """The operating system's resolver (``getaddrinfo``), every address it returns.

    ``getaddrinfo`` has no timeout of its own: the lookup runs on a helper thread and the
    caller stops waiting after ``timeout_seconds``.
    """

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds

    def resolve(self, host: str, port: int) -> list[str]:
        lookup = _LOOKUPS.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = lookup.result(timeout=self._timeout)
        except FutureTimeout:
            raise UnsafeUrlError(
                f"host {host!r} did not resolve within {self._timeout:g} s"
            ) from None
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrlError(f"host {host!r} does not resolve ({exc})") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class CheckedTarget:
    """A URL that passed the guard, and the address to connect to (checked, not re-resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: IPAddress
    addresses: tuple[IPAddress, ...]

    @property
    def connect_url(self) -> str:
        """The URL with the host replaced by the checked address."""
        shown = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def parse_allowed_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1/128"`` → networks; a bad entry is an error naming it."""
    networks: list[IPNetwork] = []
    for position, part in enumerate(text.split(","), start=1):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"AETHERIS_WEBHOOK_ALLOWED_NETWORKS entry {position} ({entry!r}) is not a "
                f"network in CIDR form: {exc}"
            ) from None
    return tuple(networks)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refusal_reason(address: IPAddress) -> str | None:
    """Why webhooks may not reach ``address`` (None: a public address).

    An IPv4-mapped or IPv4-compatible address is a way of writing its IPv4 address (the
    connection goes there) and is judged as that address alone. Any other carried IPv4
    address (6to4, Teredo, NAT64) must pass as well as the IPv6 address itself (Teredo,
    which is not global, is refused whatever it carries).
    """
    if isinstance(address, ipaddress.IPv6Address):
        written_as_ipv4 = address.ipv4_mapped
        if written_as_ipv4 is None and address in _IPV4_COMPATIBLE and int(address) > 1:
            written_as_ipv4 = ipaddress.IPv4Address(int(address))
        if written_as_ipv4 is not None:
            reason = refusal_reason(written_as_ipv4)
            return None if reason is None else f"{reason} (written as {address})"
    for inner in embedded_ipv4(address):
        reason = refusal_reason(inner)
        if reason is not None:
            return f"{reason} (carried in {address})"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "shared (CGNAT)"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (not address.is_global, "not global"),
    )
    for failed, reason in checks:
        if failed:
            return f"{address} is {reason}"
    return None


def _allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [address, *embedded_ipv4(address)]
    return any(
        candidate.version == network.version and candidate in network
        for candidate in candidates
        for network in allowed
    )


def check_address(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> None:
    """Raise :class:`UnsafeUrlError` unless ``address`` is public or allow-listed."""
    if _allowed(address, allowed):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise UnsafeUrlError(f"{reason}; webhooks may only reach public addresses")


def check_url(url: str, resolver: Resolver, allowed: Sequence[IPNetwork] = ()) -> CheckedTarget:
    """Parse and resolve ``url``; refuse it if any address is not allowed (see module doc)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrlError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(f"not a valid URL: {exc}") from None
    scheme = parts.scheme
    if not url.startswith(("http://", "https://")):
        raise UnsafeUrlError("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("the URL may not carry a user name or password")
    if parts.fragment:
        raise UnsafeUrlError("the URL may not carry a #fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrlError("the URL has no host")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeUrlError("the URL contains white space or control characters")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if not 0 < port < 65536:
        raise UnsafeUrlError(f"port {port} is out of range")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        resolved = resolver.resolve(host, port)
        if not resolved:
            raise UnsafeUrlError(f"host {host!r} resolves to no address")
        try:
            addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in resolved]
        except ValueError as exc:
            raise UnsafeUrlError(f"host {host!r} resolved to a bad address: {exc}") from None
    for address in addresses:
        try:
            check_address(address, allowed)
        except UnsafeUrlError as exc:
            raise UnsafeUrlError(f"{host}: {exc}") from None
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return CheckedTarget(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        address=addresses[0],
        addresses=tuple(addresses),
    )
