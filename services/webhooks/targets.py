"""Which URLs a webhook may call: http(s) with a host, and, when the server says so, no internal address."""

import ipaddress
import socket
from urllib.parse import urlsplit


class RefusedTarget(ValueError):
    """A webhook URL this server will not call."""


def check_url(url: str) -> str:
    """The URL's host; refuses what is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as error:
        raise RefusedTarget(f"not a valid URL ({error})") from None
    if parts.scheme not in {"http", "https"}:
        raise RefusedTarget("must be an http or https URL")
    if not parts.hostname:
        raise RefusedTarget("must name a host, e.g. https://example.com/hooks")
    if parts.username or parts.password:
        raise RefusedTarget("must not carry credentials; verify the signature instead")
    return parts.hostname


def is_internal(address: str) -> bool:
    """Loopback, private, link-local, reserved or otherwise not a public internet address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_public(url: str) -> None:
    """Refuses a URL whose host is, or resolves to, an internal address (any of its addresses)."""
    host = check_url(url)
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedTarget(f"host {host!r} does not resolve ({error})") from None
    internal = sorted({info[4][0] for info in infos if is_internal(info[4][0])})
    if internal:
        raise RefusedTarget(f"host {host!r} is an internal address ({', '.join(internal)}); this server only calls "
                            "public addresses (DJ_WEBHOOK_ALLOW_PRIVATE_NETWORKS=false)")


def check_target(url: str, allow_private_networks: bool) -> None:
    """All the checks the server's settings ask for; raises RefusedTarget."""
    if allow_private_networks:
        check_url(url)
    else:
        check_public(url)
