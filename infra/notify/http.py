"""Posting a signed webhook to a checked address: no redirects, bounded time and size.

The connection goes to the address the SSRF guard checked (the ``Host`` header and TLS
server name carry the URL's host), so the name is not resolved a second time. Proxies
from the environment are ignored: a proxy would reach addresses the guard never saw.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping

import httpx

from infra.notify.outcome import AttemptOutcome
from infra.notify.ssrf import CheckedTarget

USER_AGENT = "AETHERIS-Webhooks/1"


class WebhookHttpClient:
    """One ``httpx.Client`` for every delivery of a worker (connections are not pooled
    across addresses that were not checked: each request names its checked address)."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        connect_timeout_seconds: float = 5.0,
        max_response_bytes: int = 65_536,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_response_bytes = max_response_bytes
        self._total_seconds = timeout_seconds
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
            follow_redirects=False,
            trust_env=False,
            verify=tls_context if tls_context is not None else True,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=0),
        )

    def post(
        self, target: CheckedTarget, body: bytes, headers: Mapping[str, str]
    ) -> AttemptOutcome:
        """POST ``body``; success is a 2xx answer. A redirect is refused, never followed."""
        request_headers = {
            **headers,
            "host": target.host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        started = time.perf_counter()
        try:
            with self._client.stream(
                "POST",
                target.connect_url,
                content=body,
                headers=request_headers,
                extensions=extensions,
            ) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read > self._max_response_bytes:
                        break  # the answer's body is not needed; stop reading a flood
                    if time.perf_counter() - started > self._total_seconds:
                        break  # a slow drip of bytes must not hold the worker either
                status = response.status_code
                location = response.headers.get("location")
        except httpx.HTTPError as exc:
            return AttemptOutcome(
                succeeded=False,
                duration_ms=_elapsed_ms(started),
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
        duration_ms = _elapsed_ms(started)
        if 200 <= status < 300:
            return AttemptOutcome(succeeded=True, duration_ms=duration_ms, status_code=status)
        if 300 <= status < 400:
            error = f"HTTP {status}: redirect not followed (Location: {location!s:.200})"
        else:
            error = f"HTTP {status}"
        return AttemptOutcome(
            succeeded=False, duration_ms=duration_ms, status_code=status, error=error
        )

    def close(self) -> None:
        self._client.close()


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
