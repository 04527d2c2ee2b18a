"""What a channel's send returns, and the interface every channel implements."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from alerts.model import Alert
from scanner.secrets import mask

Outcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    error: str | None = None  # masked, one line
    retry_after: float | None = None  # seconds the receiver asked us to wait (HTTP 429 Retry-After)


DELIVERED = SendResult("delivered")


class Sender(Protocol):
    name: str
    min_interval_seconds: float  # the channel's rate limit: at least this long between two sends

    def send(self, alert: Alert, key: str) -> SendResult:
        """Deliver once; never raise for a delivery problem, classify it."""
        ...


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP Retry-After in seconds (the delta form; the date form is taken as 'unknown')."""
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def classify_http(status: int, body: str, headers: Mapping[str, str]) -> SendResult:
    """Every HTTP channel's rule: 2xx delivered; 429 retry after Retry-After; 5xx retry; any other 4xx failed."""
    if 200 <= status < 300:
        return DELIVERED
    error = mask(f"HTTP {status}: {' '.join(str(body or '').split())[:200]}")
    if status == 429:
        lowered = {key.lower(): value for key, value in headers.items()}
        return SendResult("retry", error, retry_after_seconds(lowered.get("retry-after")))
    if status >= 500:
        return SendResult("retry", error)
    return SendResult("failed", error)


def post_json(url: str, body: bytes, timeout: float, headers: Mapping[str, str] | None = None) -> SendResult:
    """POST a JSON body once and classify the answer; a connection problem is retried. Never raises."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "custody-alerts", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return classify_http(response.status, response.read(2000).decode("utf-8", "replace"), response.headers)
    except urllib.error.HTTPError as exc:
        return classify_http(exc.code, exc.read(2000).decode("utf-8", "replace"), exc.headers or {})
    except Exception as exc:  # refused, reset, timeout, DNS, TLS: the receiver may come back
        return SendResult("retry", mask(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"))
