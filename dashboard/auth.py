"""Who may look: password or OpenID Connect sign-in, a trusted SSO header, or (for /api/ and /export/
only) a read-only API token; never anonymous.

- Password mode: the password (from the environment or a secret file) is hashed with scrypt
  and a random salt at start-up; only the hash is kept. Each attempt is hashed the same way
  and compared in constant time. The form also takes a name, which the audit trail and the
  evidence report show. Failed attempts are counted per client address and per account name;
  past the limit of either, the attempt gets 429 until the window passes, whatever it sends.
- OIDC mode: sign-in at the organisation's OpenID provider (dashboard.oidc): the user is named
  by a claim of the verified ID token.
- A successful sign-in sets a signed session cookie (itsdangerous): HttpOnly, SameSite=Strict,
  Secure when served over https (or configured), valid for `session_hours`. The signing key is
  the session secret bound to the password: a password change ends every earlier session. The
  cookie carries the session generation it was made under: `custody dashboard revoke-sessions`
  raises it and every session ends. Sign-outs are kept in the state store (dashboard.accounts),
  so the same cookie replayed is refused, after a restart and in other replicas too.
- API tokens: `Authorization: Bearer <token>` on /api/ and /export/ (everything there is read-only),
  named `token:<name>`; ignored everywhere else.
- The sign-in form carries a CSRF token bound to a pre-session cookie (double submit) and
  cross-site posts are refused (Origin / Sec-Fetch-Site).
- Trusted-header mode: the user named in `user_header` is accepted only when the TCP peer is
  one of `trusted_proxies`; any other peer is refused, with or without the header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.types import Scope

from dashboard.accounts import Accounts
from dashboard.oidc import OpenIDConnect, Pending
from dashboard.settings import DashboardSettings

SESSION_COOKIE = "custody_session"
CSRF_COOKIE = "custody_signin"
OIDC_COOKIE = "custody_oidc"  # the pending authorization request, SameSite=Lax: the provider redirects back
TOKEN_PATHS = ("/api/", "/export/")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class PasswordHash:
    """An scrypt hash of the sign-in secret; the secret itself is not kept."""

    def __init__(self, secret: str) -> None:
        self._salt = secrets.token_bytes(16)
        self._hash = self._derive(secret)

    def _derive(self, attempt: str) -> bytes:
        return hashlib.scrypt(attempt.encode("utf-8"), salt=self._salt, maxmem=64 * 1024 * 1024, **_SCRYPT)

    def matches(self, attempt: str) -> bool:
        return hmac.compare_digest(self._derive(attempt[:1024]), self._hash)


class RateLimiter:
    """Failed attempts per client within a sliding window; bounded memory."""

    def __init__(self, limit: int, window_seconds: float, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, client: str) -> int:
        """Seconds until the client may try again; 0 when it may try now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.limit:
                return 0
            return max(1, int(failures[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client, now)
            failures.append(now)
            self._failures[client] = failures
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


@dataclass
class User:
    name: str
    csrf: str  # the token a sign-out form must carry
    session_id: str | None = None


MAX_NAME = 128


def clean_name(name: str) -> str | None:
    """A user's name as typed or claimed: trimmed, printable, at most MAX_NAME characters; None otherwise."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return None
    return name


class Authenticator:
    def __init__(self, settings: DashboardSettings, accounts: Accounts) -> None:
        self.settings = settings
        self.accounts = accounts
        self.mode = settings.auth
        password = settings.read_password() if self.mode == "password" else ""
        self.password = PasswordHash(password) if self.mode == "password" else None
        self.oidc = OpenIDConnect(settings) if self.mode == "oidc" else None
        secret = session_key(settings.read_session_secret() or secrets.token_urlsafe(32), password)
        self._sessions = URLSafeTimedSerializer(secret, salt="custody-dashboard-session")
        self._pending = URLSafeTimedSerializer(secret, salt="custody-dashboard-oidc")
        self.max_age = settings.session_hours * 3600
        window = settings.signin_window_minutes * 60
        self.limiter = RateLimiter(settings.max_failed_signins, window)  # per client address
        self.account_limiter = RateLimiter(settings.max_failed_signins, window)  # per account name

    # ---- who is asking --------------------------------------------------------------------

    def peer(self, request: Request) -> str:
        return request.client.host if request.client else ""

    def client_address(self, request: Request) -> str:
        """The client's address for rate limiting: the peer, or the nearest untrusted hop a trusted proxy names."""
        peer = self.peer(request)
        if self.settings.is_trusted_proxy(peer):
            hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()]
            for hop in reversed(hops):
                if not self.settings.is_trusted_proxy(hop):
                    return hop
        return peer

    def is_https(self, request: Request) -> bool:
        """Served over https: directly, or a trusted proxy says so in X-Forwarded-Proto (its nearest hop)."""
        if request.url.scheme == "https":
            return True
        return self.settings.is_trusted_proxy(self.peer(request)) and (
            request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower() == "https"
        )

    def scope_is_https(self, scope: Scope) -> bool:
        """is_https for an ASGI scope (the security-headers middleware: HSTS)."""
        return self.is_https(Request(scope))

    def secure_cookie(self, request: Request) -> bool:
        if self.settings.secure_cookies == "auto":
            return self.is_https(request)
        return self.settings.secure_cookies == "true"

    def user(self, request: Request) -> User | None:
        """The signed-in user (or API token), or None."""
        if request.url.path.startswith(TOKEN_PATHS) and "authorization" in request.headers:
            return self._token_user(request)
        if self.mode == "trusted_header":
            return self._header_user(request)
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        try:
            data = self._sessions.loads(token, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("u", "s")):
            return None
        if not self.accounts.session_valid(data["s"], data.get("g")):
            return None
        return User(data["u"], str(data.get("c", "")), data["s"])

    def _token_user(self, request: Request) -> User | None:
        scheme, _, token = request.headers["authorization"].partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        name = self.accounts.token_name(token.strip())
        return User(f"token:{name}", csrf="") if name else None

    def _header_user(self, request: Request) -> User | None:
        if not self.settings.is_trusted_proxy(self.peer(request)):
            return None
        name = request.headers.get(self.settings.user_header, "").strip()
        if not name or len(name) > 256 or any(ord(ch) < 32 for ch in name):
            return None
        return User(name, csrf="")

    def refusal(self, request: Request) -> tuple[int, str]:
        """Why a request without a user is refused: (status, message)."""
        if self.mode == "trusted_header":
            if not self.settings.is_trusted_proxy(self.peer(request)):
                return 403, "forbidden: this dashboard accepts requests only through its single sign-on proxy"
            return 401, f"not signed in: the sign-on proxy sent no {self.settings.user_header} header"
        if request.url.path.startswith(TOKEN_PATHS) and "authorization" in request.headers:
            return 401, "not signed in: the API token is unknown or revoked"
        return 401, "not signed in"

    # ---- sign-in ----------------------------------------------------------------------------

    def new_signin_token(self) -> str:
        return secrets.token_urlsafe(24)

    def retry_after(self, client: str, account: str) -> int:
        """Seconds until this client may try this account again (0: now): the longer of both limits."""
        return max(self.limiter.retry_after(client), self.account_limiter.retry_after(account.casefold()))

    def check_password(self, client: str, account: str, attempt: str) -> bool:
        """Whether the password is right; a wrong one counts against the client and the account name."""
        if self.password is not None and self.password.matches(attempt):
            self.limiter.succeeded(client)
            self.account_limiter.succeeded(account.casefold())
            return True
        self.limiter.failed(client)
        self.account_limiter.failed(account.casefold())
        return False

    def new_session(self, name: str) -> tuple[str, str]:
        """(cookie value, csrf token) for a fresh session under the current generation."""
        csrf = secrets.token_urlsafe(24)
        data = {"u": name, "s": secrets.token_urlsafe(16), "c": csrf, "g": self.accounts.generation()}
        return self._sessions.dumps(data), csrf

    def revoke(self, user: User) -> None:
        if user.session_id:
            self.accounts.sign_out(user.session_id, user.name, self.max_age)

    # ---- OpenID Connect -------------------------------------------------------------------------

    def pending_cookie(self, pending: Pending) -> str:
        return self._pending.dumps([pending.state, pending.nonce, pending.code_verifier, pending.next])

    def pending(self, cookie: str | None) -> Pending | None:
        """The authorization request this browser made, at most 10 minutes ago; None otherwise."""
        try:
            data = self._pending.loads(cookie or "", max_age=600)
        except BadSignature:
            return None
        if not isinstance(data, list) or len(data) != 4 or not all(isinstance(item, str) for item in data):
            return None
        return Pending(*data)


def session_key(secret: str, password: str) -> str:
    """The key sessions are signed with: the session secret bound to the password, so that a new password
    (read at start-up) ends every session signed before it, even when the session secret stays."""
    generation = hmac.new(secret.encode("utf-8"), b"password:" + password.encode("utf-8"), hashlib.sha256)
    return f"{secret}:{generation.hexdigest()}"


def same_token(left: str | None, right: str | None) -> bool:
    return bool(left) and bool(right) and hmac.compare_digest(str(left), str(right))
