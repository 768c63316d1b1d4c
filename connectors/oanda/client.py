"""The OANDA v20 REST client: three GETs, every wait bounded, errors sorted into
"try again" (timeouts, connection failures, 5xx, 429 with its Retry-After) and
"give up" (a refused token, an unknown account, any other 4xx).

The API token goes only into the Authorization header of requests to the configured
base URL; redirects are not followed, and no message of this module contains it.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from connectors.oanda.wire import AccountSummaryResponse, Trade, TradeResponse, TransactionsResponse

M = TypeVar("M", bound=BaseModel)

# The longest Retry-After honoured; a server asking for more is waited on this long.
MAX_RETRY_AFTER = 900.0
# The largest answer read; a bigger one is refused before it fills the memory.
MAX_BODY_BYTES = 16 * 1024 * 1024


class OandaError(RuntimeError):
    """A request that did not give a usable answer."""


class RetryableError(OandaError):
    """Worth trying again later: ``retry_after`` is the server's wish, if it said one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(OandaError):
    """Trying again will not help (bad token, unknown account, bad request)."""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER)


def _reason(response: httpx.Response, content: bytes) -> str:
    try:
        body = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("errorMessage"), str):
        return str(body["errorMessage"])[:200]
    return response.reason_phrase


class OandaClient:
    """GETs against one account; ``transport`` lets unit tests plug in httpx's MockTransport."""

    def __init__(
        self,
        base_url: str,
        account_id: str,
        token: str,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"the OANDA API URL {base_url!r} must start with https:// or http://")
        if not account_id or "/" in account_id or "?" in account_id:
            raise ValueError(f"the OANDA account id {account_id!r} is not valid")
        self.account_id = account_id
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept-Datetime-Format": "RFC3339",
            },
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, model: type[M], params: dict[str, str] | None = None) -> M:
        what = f"GET {path}"
        try:
            with self._client.stream("GET", path, params=params) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise FatalError(
                            f"{what}: the answer is larger than {MAX_BODY_BYTES} bytes"
                        )
                content = bytes(body)
        except httpx.TimeoutException:
            raise RetryableError(f"{what}: timed out") from None
        except httpx.TransportError as exc:
            raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
            raise RetryableError(
                f"{what}: 429 rate limited ({_reason(response, content)})", retry_after
            )
        if status >= 500:
            raise RetryableError(f"{what}: {status} {_reason(response, content)}")
        if status in (401, 403):
            raise FatalError(
                f"{what}: {status}: the API token was refused ({_reason(response, content)})"
            )
        if status == 404:
            raise FatalError(f"{what}: 404: not found ({_reason(response, content)})")
        if status >= 300:  # redirects are not followed: the token stays with this host
            raise FatalError(f"{what}: {status} {_reason(response, content)}")
        try:
            return model.model_validate_json(content)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise RetryableError(
                f"{what}: the answer is not in OANDA's shape ({where}: {first['msg']})"
            ) from None

    def summary(self) -> AccountSummaryResponse:
        return self._get(f"/v3/accounts/{self.account_id}/summary", AccountSummaryResponse)

    def transactions_since(self, transaction_id: int) -> TransactionsResponse:
        return self._get(
            f"/v3/accounts/{self.account_id}/transactions/sinceid",
            TransactionsResponse,
            {"id": str(transaction_id)},
        )

    def trade(self, trade_id: str) -> Trade:
        if not trade_id.isdigit():
            raise FatalError(f"trade id {trade_id!r} is not a number")
        return self._get(f"/v3/accounts/{self.account_id}/trades/{trade_id}", TradeResponse).trade
