"""Pure ASGI middleware (streams stay streams): security headers, a bound on URL size, HEAD as GET."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]


class SecurityHeaders:
    """CSP, no sniffing, no framing, no referrer, no caching (but /static), HSTS over https.

    `is_https(scope)` says whether the client came over https (directly, or through a trusted proxy
    that says so in X-Forwarded-Proto).
    """

    def __init__(self, app: ASGIApp, is_https: Callable[[Scope], bool] | None = None) -> None:
        self.app = app
        self.is_https = is_https or (lambda scope: scope.get("scheme") == "https")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                headers += HEADERS
                if not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if self.is_https(scope):
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_URL_BYTES = 8192  # path and query string: far above any link the dashboard makes, far below a costly page


class BoundedURL:
    """Refuse, before anything parses it, a request whose path and query string exceed MAX_URL_BYTES: 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b""))
        if size <= MAX_URL_BYTES:
            await self.app(scope, receive, send)
            return
        message = f"bad request: the URL is {size} bytes long, at most {MAX_URL_BYTES} are accepted"
        if scope.get("path", "").startswith(("/api/", "/export/")):
            body, media = json.dumps({"detail": message}).encode(), b"application/json"
        else:
            body, media = (message + "\n").encode(), b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _HeadAnswered(Exception):
    """The headers of a HEAD answer are sent: stop producing a body nobody will read."""


class HeadAsGet:
    """Answer HEAD on every page as GET would, headers only (FastAPI's routes declare GET alone)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            raise _HeadAnswered

        with contextlib.suppress(_HeadAnswered):
            await self.app({**scope, "method": "GET"}, receive, headers_only)
