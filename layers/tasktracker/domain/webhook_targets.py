"""Which webhook URLs this service may call.

A webhook makes the server send a request wherever a user points it, from inside the deployment's network: the
shape of the URL is checked here, and so is every address its host resolves to, so that nobody can aim the
service at its own loopback, the private network around it or the cloud's metadata endpoint (which hands out
credentials). Resolving the host is an adapter's business; the rule about addresses is the domain's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

from .errors import ValidationError

WEBHOOK_URL_MAX_LENGTH = 2048
URL_INVALID = "WEBHOOK_URL_INVALID"
TARGET_NOT_ALLOWED = "WEBHOOK_TARGET_NOT_ALLOWED"

DEFAULT_PORTS = {"http": 80, "https": 443}

# Why an address is refused, as forbidden_address_reason names it.
CLOUD_METADATA = "cloud metadata"
UNSPECIFIED = "unspecified"
LOOPBACK = "loopback"
PRIVATE = "private"
LINK_LOCAL = "link-local"
SHARED_ADDRESS_SPACE = "shared address space"
MULTICAST = "multicast"
BROADCAST = "broadcast"
RESERVED = "reserved"

# First match wins, so the narrower, more telling reason comes before the network that contains it (the metadata
# addresses sit inside link-local and shared address space, broadcast inside 240.0.0.0/4).
_IPV4_RULES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), reason)
    for network, reason in (
        ("169.254.169.254/32", CLOUD_METADATA),  # AWS, GCP, Azure, OpenStack and most others
        ("100.100.100.200/32", CLOUD_METADATA),  # Alibaba Cloud
        ("0.0.0.0/8", UNSPECIFIED),  # "this network": Linux connects 0.0.0.0 to the local host
        ("127.0.0.0/8", LOOPBACK),
        ("10.0.0.0/8", PRIVATE),
        ("172.16.0.0/12", PRIVATE),
        ("192.168.0.0/16", PRIVATE),
        ("169.254.0.0/16", LINK_LOCAL),
        ("100.64.0.0/10", SHARED_ADDRESS_SPACE),  # RFC 6598, carrier-grade NAT: another provider's inside
        ("224.0.0.0/4", MULTICAST),
        ("255.255.255.255/32", BROADCAST),
        ("240.0.0.0/4", RESERVED),
        ("192.0.0.0/24", RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", RESERVED),  # documentation
        ("198.51.100.0/24", RESERVED),  # documentation
        ("203.0.113.0/24", RESERVED),  # documentation
        ("198.18.0.0/15", RESERVED),  # benchmarking
        ("192.88.99.0/24", RESERVED),  # the retired 6to4 relay anycast
    )
)

_IPV6_RULES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), reason)
    for network, reason in (
        ("fd00:ec2::254/128", CLOUD_METADATA),  # AWS's instance metadata over IPv6
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("fe80::/10", LINK_LOCAL),
        ("fc00::/7", PRIVATE),  # unique local addresses
        ("fec0::/10", PRIVATE),  # site-local, deprecated but still routed inside some networks
        ("64:ff9b:1::/48", PRIVATE),  # NAT64 for local use (RFC 8215): translates into a private network
        ("ff00::/8", MULTICAST),
        ("::/96", RESERVED),  # IPv4-compatible, deprecated
        ("100::/64", RESERVED),  # discard-only
        ("2001:db8::/32", RESERVED),  # documentation
        ("3fff::/20", RESERVED),  # documentation (RFC 9637)
        ("2001::/23", RESERVED),  # IETF protocol assignments (Teredo is unwrapped before this is reached)
    )
)
# Everything routable on the IPv6 Internet lies in here; anything outside that no rule named is unassigned.
_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_IPV4_TRANSLATED = IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_NAT64 = IPv6Network("64:ff9b::/96")

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_HOST_MAX_LENGTH = 253


@dataclass(frozen=True)
class WebhookTarget:
    """Where a valid webhook URL points. `host` is lower-case, ASCII (an international name in its xn-- form)
    and without brackets around an IPv6 literal; `target` is the path and query to request."""

    scheme: str
    host: str
    port: int
    target: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def invalid_url(message: str) -> ValidationError:
    return ValidationError(f"url: {message}", code=URL_INVALID, details={"fields": {"url": [message]}})


def target_not_allowed(message: str) -> ValidationError:
    return ValidationError(f"url: {message}", code=TARGET_NOT_ALLOWED, details={"fields": {"url": [message]}})


def parse_webhook_url(url: str) -> WebhookTarget:
    """The target of an absolute http(s) URL with a host, no credentials and no fragment; ValidationError with
    code WEBHOOK_URL_INVALID otherwise. Says nothing about where the host points: see forbidden_address_reason."""
    if not isinstance(url, str) or not url:
        raise invalid_url("Must be an http or https URL.")
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise invalid_url(f"Must be at most {WEBHOOK_URL_MAX_LENGTH} characters.")
    # urlsplit quietly drops tabs and newlines and reads a backslash as a path: such a URL means something
    # else to each program that reads it, so it is refused rather than guessed at.
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in url):
        raise invalid_url("Must not contain spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid_url("Is not a valid URL (check the host and port).") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise invalid_url("Must start with http:// or https://.")
    if not parts.netloc or not parts.hostname:
        raise invalid_url("Must name a host.")
    if "@" in parts.netloc:
        raise invalid_url("Must not contain a user name or password.")
    if "#" in url:
        raise invalid_url("Must not contain a fragment (#...).")
    if port == 0:
        raise invalid_url("Port 0 cannot be called.")
    if not (parts.path + parts.query).isascii():
        raise invalid_url("The path and query must be percent-encoded.")
    host = _normalise_host(parts.hostname, bracketed=parts.netloc.startswith("["))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], target)


def _normalise_host(hostname: str, *, bracketed: bool) -> str:
    if bracketed:
        # A zone (fe80::1%eth0) names an interface of whichever machine reads it: never one to call.
        if "%" in hostname:
            raise invalid_url("The host must not name a network interface (%...).")
        try:
            return str(IPv6Address(hostname))
        except ValueError:
            raise invalid_url("The host in brackets must be an IPv6 address.") from None
    try:
        ascii_host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
    except UnicodeError:
        raise invalid_url("The host is not a valid name.") from None
    ascii_host = ascii_host.lower()
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > _HOST_MAX_LENGTH or not all(_HOST_LABEL.match(label) for label in labels):
        raise invalid_url("The host is not a valid name.")
    return ascii_host


def embedded_ipv4(address: IPv6Address) -> tuple[str, tuple[IPv4Address, ...]] | None:
    """The IPv4 addresses an IPv6 address carries a packet to, and the name of the form, for the forms that do:
    IPv4-mapped and -translated, 6to4, NAT64 and Teredo (its server and its client)."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", (address.ipv4_mapped,)
    if address in _IPV4_TRANSLATED:
        return "IPv4-translated", (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.sixtofour is not None:
        return "6to4", (address.sixtofour,)
    if address in _NAT64:
        return "NAT64", (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.teredo is not None:
        return "Teredo", address.teredo
    return None


def forbidden_address_reason(address: IPv4Address | IPv6Address) -> str | None:
    """Why the service may not connect to this address (one of the reasons named in this module, and for an
    IPv6 form wrapping an IPv4 address, what wraps what), or None when it may."""
    if isinstance(address, IPv4Address):
        return next((reason for network, reason in _IPV4_RULES if address in network), None)
    wrapped = embedded_ipv4(address)
    if wrapped is not None:
        form, inner = wrapped
        for ipv4 in inner:
            reason = forbidden_address_reason(ipv4)
            if reason is not None:
                return f"{reason} ({ipv4}, wrapped as {form} IPv6)"
        return None
    reason = next((reason for network, reason in _IPV6_RULES if address in network), None)
    if reason is None and address not in _IPV6_GLOBAL_UNICAST:
        return RESERVED
    return reason
