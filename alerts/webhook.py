"""A generic webhook: the alert as JSON, signed with HMAC-SHA256, through the outbox like every channel.

The request:

    POST <url>
    Content-Type: application/json
    X-Custody-Alert: <alert key>                 stable: the same alert re-sent after a crash has the same key
    X-Custody-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

    {"key": ..., "channel": ..., "sent_at": <t>, "alert": {Alert.to_dict()}}

Verifying it (any language; `verify_signature` below does this):

1. split the header on "," into t= and v1=;
2. compute HMAC-SHA256 with the shared secret over the bytes `<t>` + "." + the raw request body;
3. compare with v1 in constant time, and reject a `t` more than 5 minutes from your clock (a
   replayed request); de-duplicate on X-Custody-Alert (delivery is at least once).

Answers: 2xx delivered; 429 (with Retry-After) and 5xx retried with backoff; other 4xx fail for good.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from alerts.config import WebhookSettings
from alerts.model import Alert
from alerts.sending import SendResult, post_json

SIGNATURE_HEADER = "X-Custody-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, now: float | None = None,
                     tolerance: float = TOLERANCE_SECONDS) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within `tolerance` of `now`."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


class WebhookSender:
    def __init__(self, settings: WebhookSettings, clock: Callable[[], float] = time.time) -> None:
        self.name = settings.name
        self.min_interval_seconds = settings.min_interval_seconds
        self.timeout = settings.timeout_seconds
        self._url = settings.url.read()
        self._secret = settings.secret.read()
        self.clock = clock

    def send(self, alert: Alert, key: str) -> SendResult:
        timestamp = int(self.clock())
        body = json.dumps({"key": key, "channel": self.name, "sent_at": timestamp, "alert": alert.to_dict()},
                          sort_keys=True).encode()
        return post_json(self._url, body, self.timeout, {"X-Custody-Alert": key,
                                                          SIGNATURE_HEADER: sign(self._secret, timestamp, body)})
