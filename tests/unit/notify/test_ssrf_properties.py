"""Invariants of the SSRF guard and the retry policy (Hypothesis)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from infra.notify.backoff import RetryPolicy
from infra.notify.ssrf import refusal_reason

ipv4 = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)


@given(ipv4)
def test_an_ipv4_address_hidden_in_ipv6_is_judged_like_itself(
    address: ipaddress.IPv4Address,
) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)
    nat64 = ipaddress.IPv6Address((0x0064FF9B << 96) | int(address))
    refused = refusal_reason(address) is not None
    # the mapped form is the same address written in IPv6: the same verdict either way
    assert (refusal_reason(mapped) is not None) == refused
    if refused:
        # a refused IPv4 address stays refused in every IPv6 wrapping
        assert refusal_reason(sixtofour) is not None
        assert refusal_reason(nat64) is not None


@given(
    st.integers(min_value=1, max_value=40),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_a_retry_delay_never_exceeds_its_ceiling_or_the_cap(attempt: int, draw: float) -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=300.0, max_attempts=40)
    delay = policy.delay(attempt, draw)
    assert 0.0 <= delay <= policy.ceiling(attempt) <= 300.0
    if attempt > 1:
        assert policy.ceiling(attempt) >= policy.ceiling(attempt - 1)
