"""Real servers on 127.0.0.1 that stand in for Slack and a mail server in the alert tests.

- `SlackReceiver`: an HTTP server taking incoming-webhook posts (any path) and Web API
  `chat.postMessage` calls (/api/chat.postMessage); it records every post (its raw body and
  headers too) with the status it answered, and answers what the test asks for: 200, 202, 429
  with Retry-After, 500, or any status. It also stands in for a Teams workflow, PagerDuty's
  Events API and a generic webhook receiver: they are JSON posts too.
- `MailServer`: aiosmtpd's Controller with STARTTLS (a self-signed certificate made here) and
  login; it records every message accepted, and can answer 451 (try later) on demand.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass
class Post:
    path: str
    payload: dict[str, Any]
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""


class SlackReceiver:
    """A stand-in for Slack. `answer(500)`, `answer(429, retry_after=1)`, `answer(200)`."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self._status = 200
        self._retry_after: int | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def answer(self, status: int, retry_after: int | None = None) -> None:
        with self._lock:
            self._status, self._retry_after = status, retry_after

    def accepted(self) -> list[dict[str, Any]]:
        """Payloads answered with 2xx, in arrival order."""
        with self._lock:
            return [post.payload for post in self.posts if 200 <= post.status < 300]

    def all_posts(self) -> list[Post]:
        with self._lock:
            return list(self.posts)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = raw.decode("utf-8")
                if "json" in (self.headers.get("Content-Type") or ""):
                    payload = json.loads(body or "{}")
                else:  # the Web API's form encoding
                    from urllib.parse import parse_qsl

                    payload = dict(parse_qsl(body))
                    if "blocks" in payload:
                        payload["blocks"] = json.loads(payload["blocks"])
                with receiver._lock:
                    status, retry_after = receiver._status, receiver._retry_after
                    receiver.posts.append(Post(self.path, payload, status, dict(self.headers.items()), raw))
                api = self.path.startswith("/api/")
                if status == 200:
                    data = json.dumps({"ok": True, "ts": "1.0"}).encode() if api else b"ok"
                elif status == 429:
                    data = json.dumps({"ok": False, "error": "ratelimited"}).encode() if api else b"rate_limited"
                else:
                    data = b"internal_error" if status >= 500 else b"invalid_payload"
                self.send_response(status)
                if status == 429 and retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.send_header("Content-Type", "application/json" if api else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written to `directory`; returns (cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: SMTP, _session: Any, envelope: Any) -> str:
        if self.server.failing:
            self.server.refused += 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self.server.lock:
            self.server.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


class MailServer:
    """aiosmtpd on 127.0.0.1 with STARTTLS required (or implicit TLS) and login (`user`, `password`)."""

    def __init__(self, directory: Path, user: str, password: str, port: int, implicit_tls: bool = False) -> None:
        import ssl

        self.cert, key = self_signed_certificate(directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.user, self.password = user, password
        self.messages: list[EmailMessage] = []
        self.logins: list[str] = []
        self.failing = False
        self.refused = 0
        self.lock = threading.Lock()
        self.port = port
        # aiosmtpd counts only STARTTLS as TLS for AUTH; an implicit-TLS connection is TLS from the first byte
        tls = ({"ssl_context": context, "auth_require_tls": False} if implicit_tls
               else {"tls_context": context, "require_starttls": True})
        self.controller = Controller(
            _Handler(self), hostname=HOST, port=port, auth_required=True, authenticator=self._authenticate,
            **tls,  # type: ignore[arg-type]
        )
        self.controller.start()

    def _authenticate(self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == self.user \
            and data.password.decode() == self.password
        self.logins.append(data.login.decode() if isinstance(data, LoginPassword) else "?")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)

    def stop(self) -> None:
        self.controller.stop()
