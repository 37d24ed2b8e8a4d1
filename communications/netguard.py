"""SSRF protection: outbound URLs may not reach private, loopback, link-local or reserved hosts.

Checked when an endpoint is saved and again before every delivery, after DNS resolution; the
delivery then connects to the very address that was checked (no second lookup that a
DNS-rebinding attacker could answer differently). `WEBHOOK_ALLOW_PRIVATE_NETWORKS=true` turns
the check off (development, receivers on the same network).
"""

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

from . import conf

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


class UnsafeURL(ValueError):
    """The URL is not allowed as a notification target."""


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 address are judged by the address they reach.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_public(embedded)
    return ip.is_global and not ip.is_multicast


def check_scheme(url: str) -> None:
    """Only absolute http(s) URLs with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Only http:// and https:// URLs are allowed.")
    if parts.username or parts.password:
        raise UnsafeURL("Credentials in the URL are not allowed; use the endpoint secret.")


def resolve(host: str, port: int, timeout: float = 3.0) -> list[str]:
    """Every address `host` resolves to (numeric forms like `2130706433` included)."""
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout as exc:
        raise OSError(f"DNS lookup of {host} timed out") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def safe_addresses(url: str, *, allow_unresolved: bool = False) -> list[str]:
    """Check `url` and return the addresses it may be reached at.

    Raises UnsafeURL when any resolved address is not public (an attacker controlling DNS could
    otherwise alternate). When the name does not resolve, returns [] if `allow_unresolved`
    (saving an endpoint whose DNS is not live yet) and raises UnsafeURL otherwise.
    """
    check_scheme(url)
    if conf.allow_private_networks():
        return []
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".localdomain")):
        raise UnsafeURL(f"The host {host} is on a private network.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        if allow_unresolved:
            return []
        raise UnsafeURL(f"The host {host} does not resolve: {exc}") from exc
    for address in addresses:
        if not _is_public(ipaddress.ip_address(address.split("%", 1)[0])):
            raise UnsafeURL(
                f"The host {host} resolves to {address}, a private, loopback, link-local or reserved address."
            )
    return addresses


def validate_target_url(url: str) -> None:
    """Validation at save time: scheme, then the addresses if the name resolves already."""
    safe_addresses(url, allow_unresolved=True)
