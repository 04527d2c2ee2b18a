"""A real OpenID provider for the tests: oidc-provider-mock (Authlib's server side, on Flask) on 127.0.0.1.

It serves discovery, JWKS (RS256, a key made at start), the authorization endpoint (a form that
signs in any subject) and the token endpoint, and issues ID tokens carrying the request's nonce
(required). It does not check PKCE itself, so `PKCEChecked` stands in front of it and refuses, as
RFC 7636 says, a token request whose code_verifier does not hash to the code's code_challenge (S256),
and an authorization request without one. `tamper_id_token` breaks the signature of the next ID
tokens it hands out, to show they are refused.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import werkzeug.serving


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


class PKCEChecked:
    """WSGI in front of the provider: PKCE (S256) required and verified; a record of what the client sent."""

    def __init__(self, app) -> None:
        self.app = app
        self.challenges: dict[str, str] = {}  # code -> code_challenge
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.tamper_id_token = False

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/authorize":
            return self._authorize(environ, start_response)
        if path == "/oauth2/token":
            return self._token(environ, start_response)
        return self.app(environ, start_response)

    def _authorize(self, environ, start_response):
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self.authorize_requests.append(query)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _error(start_response, "invalid_request", "PKCE with S256 is required")

        def noting_code(status, headers, exc_info=None):
            location = dict(headers).get("Location", "")
            code = parse_qs(urlsplit(location).query).get("code")
            if code:
                self.challenges[code[0]] = query["code_challenge"]
            return start_response(status, headers, exc_info)

        return self.app(environ, noting_code)

    def _token(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        form = {key: values[0] for key, values in parse_qs(body.decode("ascii")).items()}
        self.token_requests.append(form)
        challenge = self.challenges.pop(form.get("code", ""), None)
        if challenge is None or s256(form.get("code_verifier", "")) != challenge:
            return _error(start_response, "invalid_grant", "code_verifier does not match the code_challenge")
        environ["wsgi.input"] = io.BytesIO(body)
        if not self.tamper_id_token:
            return self.app(environ, start_response)
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers)
            return lambda data: None

        answer = json.loads(b"".join(self.app(environ, capture)))
        header, payload, signature = answer["id_token"].split(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        answer["id_token"] = f"{header}.{payload}.{flipped}"
        data = json.dumps(answer).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(data)))])
        return [data]


def _error(start_response, error: str, description: str):
    data = json.dumps({"error": error, "error_description": description}).encode()
    start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


@contextmanager
def provider(host: str = "127.0.0.1") -> Iterator[tuple[str, PKCEChecked]]:
    """(issuer URL, the PKCE-checking front) of a provider serving on 127.0.0.1 until the block ends.

    `host` names it in the issuer URL: "localhost" makes it another site than a dashboard on
    127.0.0.1, as a real provider is (the browser test's SameSite cookies see a cross-site return).
    """
    front = PKCEChecked(oidc_provider_mock.app(require_nonce=True))
    server = werkzeug.serving.make_server("127.0.0.1", 0, front, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}", front
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
