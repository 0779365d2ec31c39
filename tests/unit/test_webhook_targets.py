"""Which webhook URLs and addresses the service may call."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from tasktracker.domain import webhook_targets as rules
from tasktracker.domain.errors import ValidationError
from tasktracker.domain.webhook_targets import forbidden_address_reason, parse_webhook_url


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "target", "host_header"),
    [
        ("https://hooks.example.com/in", "https", "hooks.example.com", 443, "/in", "hooks.example.com"),
        ("http://hooks.example.com", "http", "hooks.example.com", 80, "/", "hooks.example.com"),
        ("HTTPS://Hooks.Example.COM:8443/a/b?x=1&y=2", "https", "hooks.example.com", 8443, "/a/b?x=1&y=2",
         "hooks.example.com:8443"),
        ("http://[2606:4700::1]:8080/x", "http", "2606:4700::1", 8080, "/x", "[2606:4700::1]:8080"),
        ("http://93.184.216.34/", "http", "93.184.216.34", 80, "/", "93.184.216.34"),
        ("https://bücher.example/hook", "https", "xn--bcher-kva.example", 443, "/hook", "xn--bcher-kva.example"),
        ("https://hooks.example.com:443/", "https", "hooks.example.com", 443, "/", "hooks.example.com"),
    ],
)  # fmt: skip
def test_valid_urls_give_their_target(
    url: str, scheme: str, host: str, port: int, target: str, host_header: str
) -> None:
    parsed = parse_webhook_url(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.target) == (scheme, host, port, target)
    assert parsed.host_header == host_header


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hooks.example.com/in",  # not absolute
        "//hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "javascript:alert(1)",
        "http://",
        "http:///path-only",
        "https://:443/",
        "http://user:secret@hooks.example.com/",
        "http://user@hooks.example.com/",
        "http://@hooks.example.com/",
        "https://hooks.example.com/in#part",
        "https://hooks.example.com/in#",
        "https://hooks.example.com:99999/",
        "https://hooks.example.com:0/",
        "https://hooks.example.com:port/",
        "https://hooks.example.com/in put",
        "https://hooks.example.com/in\nX-Injected: 1",
        "https://hooks.example.com\\@evil.example/",
        "https://hooks.example.com/\x00",
        "https://hooks.example.com/é",
        "http://[::1/",
        "http://[not-an-ip]/",
        "http://[fe80::1%25eth0]/",
        "http://exa$mple.com/",
        "http://-leading-hyphen.example/",
        "http://" + "a" * 64 + ".example/",
        "https://hooks.example.com/" + "a" * 2048,
    ],
)
def test_malformed_urls_are_refused_as_invalid(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_webhook_url(url)
    assert refused.value.code == rules.URL_INVALID
    assert list(refused.value.details["fields"]) == ["url"]
    assert refused.value.details["fields"]["url"][0]


def test_a_url_of_exactly_the_maximum_length_is_accepted() -> None:
    base = "https://hooks.example.com/"
    url = base + "a" * (rules.WEBHOOK_URL_MAX_LENGTH - len(base))
    assert parse_webhook_url(url).target.startswith("/aaa")
    with pytest.raises(ValidationError):
        parse_webhook_url(url + "a")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", rules.LOOPBACK),
        ("127.255.255.254", rules.LOOPBACK),
        ("::1", rules.LOOPBACK),
        ("10.0.0.1", rules.PRIVATE),
        ("172.16.0.1", rules.PRIVATE),
        ("172.31.255.255", rules.PRIVATE),
        ("192.168.1.1", rules.PRIVATE),
        ("fc00::1", rules.PRIVATE),
        ("fd12:3456:789a::1", rules.PRIVATE),
        ("169.254.0.1", rules.LINK_LOCAL),
        ("fe80::1", rules.LINK_LOCAL),
        ("febf:ffff::1", rules.LINK_LOCAL),
        ("169.254.169.254", rules.CLOUD_METADATA),
        ("fd00:ec2::254", rules.CLOUD_METADATA),
        ("100.100.100.200", rules.CLOUD_METADATA),
        ("0.0.0.0", rules.UNSPECIFIED),
        ("0.1.2.3", rules.UNSPECIFIED),
        ("::", rules.UNSPECIFIED),
        ("224.0.0.1", rules.MULTICAST),
        ("239.255.255.250", rules.MULTICAST),
        ("ff02::1", rules.MULTICAST),
        ("255.255.255.255", rules.BROADCAST),
        ("240.0.0.1", rules.RESERVED),
        ("192.0.2.1", rules.RESERVED),
        ("198.51.100.7", rules.RESERVED),
        ("203.0.113.9", rules.RESERVED),
        ("198.18.0.1", rules.RESERVED),
        ("192.0.0.8", rules.RESERVED),
        ("2001:db8::1", rules.RESERVED),
        ("100::1", rules.RESERVED),
        ("::127.0.0.1", rules.RESERVED),  # IPv4-compatible, deprecated
        ("4000::1", rules.RESERVED),  # outside global unicast
        ("100.64.0.1", rules.SHARED_ADDRESS_SPACE),
        ("100.127.255.254", rules.SHARED_ADDRESS_SPACE),
    ],
)
def test_each_kind_of_forbidden_address_is_named(address: str, reason: str) -> None:
    assert forbidden_address_reason(ip_address(address)) == reason


@pytest.mark.parametrize(
    ("address", "reason", "inner", "form"),
    [
        ("::ffff:127.0.0.1", rules.LOOPBACK, "127.0.0.1", "IPv4-mapped"),
        ("::ffff:10.0.0.1", rules.PRIVATE, "10.0.0.1", "IPv4-mapped"),
        ("::ffff:169.254.169.254", rules.CLOUD_METADATA, "169.254.169.254", "IPv4-mapped"),
        ("::ffff:0:192.168.1.1", rules.PRIVATE, "192.168.1.1", "IPv4-translated"),
        ("2002:7f00:1::", rules.LOOPBACK, "127.0.0.1", "6to4"),
        ("2002:a9fe:a9fe::1", rules.CLOUD_METADATA, "169.254.169.254", "6to4"),
        ("64:ff9b::10.0.0.1", rules.PRIVATE, "10.0.0.1", "NAT64"),
        ("64:ff9b::100.64.0.1", rules.SHARED_ADDRESS_SPACE, "100.64.0.1", "NAT64"),
        # Teredo: a public server (65.54.227.120), and the client 127.0.0.1, stored inverted.
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", rules.LOOPBACK, "127.0.0.1", "Teredo"),
        # Teredo whose server is private.
        ("2001:0:a00:1:8000:63bf:a5b8:ddfe", rules.PRIVATE, "10.0.0.1", "Teredo"),
    ],
)
def test_ipv6_forms_wrapping_a_forbidden_ipv4_address_are_unwrapped(
    address: str, reason: str, inner: str, form: str
) -> None:
    assert forbidden_address_reason(ip_address(address)) == f"{reason} ({inner}, wrapped as {form} IPv6)"


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",  # just past 172.16.0.0/12
        "100.128.0.1",  # just past 100.64.0.0/10
        "169.255.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4001:81c::200e",
        "::ffff:93.184.216.34",  # IPv4-mapped, public inside
        "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
        "64:ff9b::93.184.216.34",  # NAT64 of a public address
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_address_reason(ip_address(address)) is None


def test_an_invalid_url_error_carries_the_field_and_code() -> None:
    error = rules.invalid_url("Must name a host.")
    assert (error.code, error.details) == (rules.URL_INVALID, {"fields": {"url": ["Must name a host."]}})
    error = rules.target_not_allowed("No.")
    assert (error.code, error.details) == (rules.TARGET_NOT_ALLOWED, {"fields": {"url": ["No."]}})
