"""Webhook targets checked against the addresses their host resolves to now."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from tasktracker.domain.errors import ValidationError
from tasktracker.domain.webhook_targets import (
    URL_INVALID,
    WebhookTarget,
    forbidden_address_reason,
    parse_webhook_url,
    target_not_allowed,
)

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Sequence[IPAddress]]


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system's resolver gives for the host, in its order, each once. It also reads the
    numeric forms of IPv4 that inet_aton accepts (2130706433, 0x7f.1, 127.1): whatever the host says, what is
    checked is the address a connection would go to."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP):
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class UnresolvableHost(ValidationError):
    """The host has no address now. A 400 when a user saves the URL; at delivery time it may be a passing DNS
    failure, so the sender tries again later."""

    code = URL_INVALID


@dataclass(frozen=True)
class ResolvedTarget:
    target: WebhookTarget
    # All allowed; the sender connects to these and only these.
    addresses: tuple[IPAddress, ...]


class ResolvingTargetPolicy:
    """`allow_private`: every address is allowed (a developer's own machine, where the receivers run locally).
    `resolver` is the system's unless a test gives its own."""

    def __init__(self, allow_private: bool, *, resolver: Resolver = system_resolver):
        self.allow_private = allow_private
        self.resolver = resolver

    def check(self, url: str) -> None:
        self.resolve(url)

    def resolve(self, url: str) -> ResolvedTarget:
        """The URL's target and the addresses its host resolves to, when every one of them may be called.
        ValidationError otherwise: WEBHOOK_URL_INVALID for a malformed URL or a host without an address
        (UnresolvableHost), WEBHOOK_TARGET_NOT_ALLOWED when any address is forbidden, since a connection may go
        to any of them."""
        target = parse_webhook_url(url)
        try:
            addresses = tuple(self.resolver(target.host, target.port))
        except (OSError, UnicodeError):
            addresses = ()
        if not addresses:
            message = f"The host {target.host} does not resolve to any address."
            raise UnresolvableHost(f"url: {message}", details={"fields": {"url": [message]}})
        if not self.allow_private:
            for address in addresses:
                reason = forbidden_address_reason(address)
                if reason is not None:
                    where = "" if target.host == str(address) else f", where {target.host} points"
                    raise target_not_allowed(f"Webhooks cannot call {address} ({reason}){where}.")
        return ResolvedTarget(target, addresses)
