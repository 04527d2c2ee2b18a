"""What a channel's send returns, and the interface every channel implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from alerts.model import Alert

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
