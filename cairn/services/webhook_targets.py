"""Where a webhook may send: http(s) URLs whose host resolves only to public addresses.

Checked when a webhook is created or its URL changed, and again before every attempt (a
name's addresses can change between the two): the host is resolved, every address it
resolves to must be public, and the attempt then connects to the address that was checked,
not to whatever a second lookup would give. Refused: loopback, link-local (169.254.0.0/16,
the cloud metadata address among them, and fe80::/10), private (10/8, 172.16/12, 192.168/16,
100.64/10 shared), unique-local (fc00::/7), multicast, unspecified, reserved, and IPv6 forms
that carry one of those (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64).

``CAIRN_WEBHOOK_ALLOW_HOSTS`` lists exceptions, matched against the URL's host **as
written**: a name (``hooks.internal``) or an address (``127.0.0.1``, ``10.0.0.0/8``). Allowing
``127.0.0.1`` does not allow ``localhost``: a name is only trusted if it is listed itself.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from cairn.entities.errors import CairnError
from cairn.entities.webhooks import MAX_URL

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


def _refused(url: str, why: str) -> CairnError:
    return CairnError.invalid(f"Invalid value for parameter 'url' ({url!r}): {why}")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


def embedded(ip: IP) -> IP:
    """The IPv4 address an IPv6 transition form carries, else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return inner
    return ip


def why_not_public(ip: IP) -> str | None:
    """Why ``ip`` is not a public address to send to, or None when it is."""
    ip = embedded(ip)
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local (incl. the cloud metadata address)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED)),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for label, hit in checks:
        if hit:
            return label
    return None


@dataclass(frozen=True, slots=True)
class AllowList:
    """``CAIRN_WEBHOOK_ALLOW_HOSTS``: names, addresses and networks exempt from the checks."""

    names: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AllowList:
        names, networks = set(), []
        for entry in entries:
            text = entry.strip().lower().strip("[]")
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                names.add(text.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.names:
            return True
        literal = _literal(host)
        return literal is not None and any(literal in net for net in self.networks)


NOTHING_ALLOWED = AllowList(frozenset(), ())


def _literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: where to connect (``address``) and what to call it (``host``, for the
    Host header and TLS)."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str

    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        ip = _literal(self.address)
        shown = f"[{self.address}]" if isinstance(ip, ipaddress.IPv6Address) else self.address
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def parse(url: object) -> SplitResult:
    """``url`` split, or a 400 naming ``url`` (not a string, too long, not http(s), no
    host, credentials in it)."""
    if not isinstance(url, str) or not url.strip():
        raise CairnError.invalid("Missing value for required parameter 'url'")
    if len(url) > MAX_URL:
        raise CairnError.invalid(f"Parameter 'url' is longer than {MAX_URL} characters")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise _refused(url, "it contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise _refused(url, f"it is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise _refused(url, "only http and https URLs are allowed")
    if not parts.hostname:
        raise _refused(url, "it has no host")
    if parts.username is not None or parts.password is not None:
        raise CairnError.invalid(  # without the URL: it holds a password
            "Invalid value for parameter 'url': credentials in the URL are not allowed "
            "(use the webhook's secret)"
        )
    return parts


def check(url: object, allow: AllowList, resolve: Resolver = system_resolver) -> Target:
    """``url`` checked as the module says, resolved to the address to connect to."""
    parts = parse(url)
    assert isinstance(url, str)
    assert parts.hostname is not None
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    allowed = allow.allows(host)
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise _refused(url, f"its host {host!r} does not resolve ({exc})") from None
        if not addresses:
            raise _refused(url, f"its host {host!r} does not resolve")
    if not allowed:
        for address in addresses:
            found = _literal(address.split("%", 1)[0])
            why = "not an IP address" if found is None else why_not_public(found)
            if why is not None:
                shown = host if host == address else f"{host} -> {address}"
                raise _refused(
                    url,
                    f"{shown} is {why}; webhooks may only target public addresses unless the "
                    "host is listed in CAIRN_WEBHOOK_ALLOW_HOSTS",
                )
    return Target(url, parts.scheme, host, port, addresses[0], path)
