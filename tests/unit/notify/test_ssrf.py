"""The SSRF guard: which URLs a webhook may be registered with and delivered to.

Names are resolved by a fake resolver here (no DNS in unit tests); the integration tests
resolve the real name ``localhost``.
"""

from __future__ import annotations

import ipaddress

import pytest

from infra.notify.ssrf import (
    UnsafeUrlError,
    check_url,
    embedded_ipv4,
    parse_allowed_networks,
    refusal_reason,
)


class FakeResolver:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.table:
            raise UnsafeUrlError(f"host {host!r} does not resolve")
        return self.table[host]


PUBLIC = FakeResolver({"hooks.example.com": ["93.184.215.14"]})


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://127.1.2.3:8080/hook", "loopback"),
        ("http://10.0.0.5/hook", "private"),
        ("http://10.255.255.255/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.10/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://100.64.0.1/", "shared"),
        ("http://100.127.255.254/", "shared"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "reserved"),
        ("http://192.0.2.10/", "private"),  # TEST-NET-1, documentation
        ("http://[::1]/", "loopback"),
        ("http://[::]/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[2001:db8::1]/", "private"),  # documentation
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[::ffff:10.1.2.3]/", "private"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[::127.0.0.1]/", "loopback"),  # IPv4-compatible (deprecated form)
        ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[2002:a00:1::]/", "private"),  # 6to4 of 10.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of 169.254.169.254
        # Teredo whose client (bit-inverted) is 127.0.0.1: 0x7f000001 ^ 0xffffffff
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "loopback"),
    ],
)
def test_non_public_addresses_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrlError, match=why):
        check_url(url, PUBLIC)


def test_a_name_resolving_to_loopback_is_refused() -> None:
    resolver = FakeResolver({"innocent.example.com": ["127.0.0.1"]})
    with pytest.raises(UnsafeUrlError, match=r"innocent\.example\.com: .*127\.0\.0\.1 is loopback"):
        check_url("https://innocent.example.com/hook", resolver)


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    resolver = FakeResolver({"mixed.example.com": ["93.184.215.14", "2606:2800::1", "10.0.0.7"]})
    with pytest.raises(UnsafeUrlError, match=r"10\.0\.0\.7 is private"):
        check_url("https://mixed.example.com/", resolver)


def test_a_public_name_passes_and_names_the_checked_address_to_connect_to() -> None:
    resolver = FakeResolver({"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07::1"]})
    target = check_url("https://hooks.example.com:8443/in?x=1", resolver)
    assert resolver.asked == [("hooks.example.com", 8443)]
    assert target.address == ipaddress.ip_address("93.184.215.14")
    assert target.connect_url == "https://93.184.215.14:8443/in?x=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.path == "/in?x=1"


def test_default_ports_and_ipv6_connect_url() -> None:
    resolver = FakeResolver({"v6.example.com": ["2606:2800:21f:cb07::1"]})
    target = check_url("http://v6.example.com", resolver)
    assert target.port == 80
    assert target.path == "/"
    assert target.connect_url == "http://[2606:2800:21f:cb07::1]:80/"
    assert target.host_header == "v6.example.com"


def test_literal_addresses_are_not_resolved() -> None:
    resolver = FakeResolver({})
    target = check_url("http://93.184.215.14/x", resolver)
    assert resolver.asked == []
    assert str(target.address) == "93.184.215.14"


def test_the_allow_list_lets_a_listed_network_through_and_nothing_else() -> None:
    allowed = parse_allowed_networks("127.0.0.0/8, ::1/128")
    assert check_url("http://127.0.0.1:9000/hook", PUBLIC, allowed).port == 9000
    assert check_url("http://[::1]:9000/hook", PUBLIC, allowed).port == 9000
    # the mapped form of an allowed address is allowed too; other private ranges are not
    assert check_url("http://[::ffff:127.0.0.1]/", PUBLIC, allowed).port == 80
    with pytest.raises(UnsafeUrlError, match="private"):
        check_url("http://10.0.0.1/", PUBLIC, allowed)
    with pytest.raises(UnsafeUrlError, match="link-local"):
        check_url("http://169.254.169.254/", PUBLIC, allowed)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "http:// or https://"),
        ("HTTP://93.184.215.14/", "http:// or https://"),
        ("http://user:pw@93.184.215.14/", "user name or password"),
        ("http://93.184.215.14/#frag", "fragment"),
        ("http:///nohost", "no host"),
        ("http://93.184.215.14:99999/", "valid URL"),
        ("http://93.184.215.14/a b", "white space"),
        ("http://93.184.215.14/" + "a" * 3000, "longer than"),
        ("http://nowhere.invalid/", "does not resolve"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url: str, why: str) -> None:
    with pytest.raises(UnsafeUrlError, match=why):
        check_url(url, PUBLIC)


def test_allowed_networks_setting_parse_errors_name_the_entry() -> None:
    assert parse_allowed_networks("") == ()
    assert parse_allowed_networks(" 10.0.0.0/8 ,, ") == (ipaddress.ip_network("10.0.0.0/8"),)
    with pytest.raises(ValueError, match=r"entry 2 \('nonsense'\)"):
        parse_allowed_networks("10.0.0.0/8,nonsense")


def test_embedded_ipv4_forms() -> None:
    assert embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4")) == [
        ipaddress.IPv4Address("1.2.3.4")
    ]
    assert embedded_ipv4(ipaddress.ip_address("2002:102:304::")) == [
        ipaddress.IPv4Address("1.2.3.4")
    ]
    assert embedded_ipv4(ipaddress.ip_address("93.184.215.14")) == []
    assert refusal_reason(ipaddress.ip_address("93.184.215.14")) is None
    assert refusal_reason(ipaddress.ip_address("2606:2800:21f:cb07::1")) is None
