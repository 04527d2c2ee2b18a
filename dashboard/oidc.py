"""Sign-in with OpenID Connect: the authorization code flow with PKCE (S256), through Authlib.

`begin` makes the authorization request (state, nonce and code verifier made by Authlib) and
returns them to be kept in a short-lived signed cookie; `finish` checks the returned state against
that cookie, redeems the code with the verifier, and has Authlib validate the ID token: its
signature against the provider's JWKS (refetched once on an unknown key id), the algorithms the
provider announces, issuer, audience, expiry and the nonce. The provider's discovery document is
read once, and its issuer must be the configured one (OpenID Connect Discovery 4.3).
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client import BaseApp, FrameworkIntegration, OAuthError
from authlib.integrations.base_client.sync_app import OAuth2Mixin
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session

from dashboard.settings import DashboardSettings

SCOPES = "openid email profile"
CALLBACK = "/signin/oidc/callback"


class SignInFailed(Exception):
    """The provider refused, or its answer did not verify: one line for the sign-in page, never a token."""


class _Provider(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's synchronous OAuth 2 + OpenID client app over requests, as its Flask and Django integrations."""

    client_cls = OAuth2Session


@dataclass(frozen=True)
class Pending:
    """What the callback needs from the authorization request (kept in a signed cookie)."""

    state: str
    nonce: str
    code_verifier: str
    next: str


class OpenIDConnect:
    def __init__(self, settings: DashboardSettings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.public_url
        self.issuer = settings.oidc_issuer
        self.user_claim = settings.oidc_user_claim
        self.redirect_uri = settings.public_url + CALLBACK
        self._lock = threading.Lock()
        secret = settings.read_oidc_client_secret()
        self._provider = _Provider(
            FrameworkIntegration("custody"),
            client_id=settings.oidc_client_id,
            client_secret=secret or None,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPES, "code_challenge_method": "S256", "default_timeout": 10,
                           "token_endpoint_auth_method": "client_secret_basic" if secret else "none"},
        )

    def _metadata(self) -> dict[str, Any]:
        with self._lock:
            try:
                metadata = self._provider.load_server_metadata()
            except Exception as exc:  # httpx errors, a page that is not JSON
                raise SignInFailed(f"the OpenID provider {self.issuer} did not answer its discovery document "
                                   f"({type(exc).__name__})") from None
            if metadata.get("issuer", "").rstrip("/") != self.issuer:
                self._provider.server_metadata.pop("_loaded_at", None)  # read it again next time
                raise SignInFailed(f"the OpenID provider's discovery document names issuer "
                                   f"{metadata.get('issuer')!r}, not {self.issuer!r}")
            return metadata

    def begin(self, next_url: str) -> tuple[str, Pending]:
        """(the provider's authorization URL to redirect to, what the callback must check)."""
        self._metadata()
        made = self._provider.create_authorization_url(self.redirect_uri)
        return made["url"], Pending(made["state"], made["nonce"], made["code_verifier"], next_url)

    def finish(self, params: dict[str, str], pending: Pending) -> str:
        """The signed-in user's name, from a callback's query parameters; SignInFailed otherwise."""
        if params.get("error"):
            raise SignInFailed(f"the OpenID provider refused: {params['error'][:100]}"
                               + (f" ({params['error_description'][:200]})" if params.get("error_description") else ""))
        if not params.get("code") or not hmac.compare_digest(params.get("state", "").encode(), pending.state.encode()):
            raise SignInFailed("the sign-in answer does not match the request this browser made (state); "
                               "please sign in again")
        self._metadata()
        try:
            token = self._provider.fetch_access_token(redirect_uri=self.redirect_uri, code=params["code"],
                                                      state=pending.state, code_verifier=pending.code_verifier)
            claims = self._provider.parse_id_token(token, nonce=pending.nonce)
        except OAuthError as exc:
            raise SignInFailed(f"the OpenID provider refused the code: {exc.error}") from None
        except Exception as exc:  # a bad signature, nonce, issuer, audience or expiry; an unreachable provider
            raise SignInFailed(f"the ID token did not verify ({type(exc).__name__}: {str(exc)[:200]})") from None
        if claims is None:
            raise SignInFailed("the OpenID provider sent no ID token")
        name = claims.get(self.user_claim)
        if not isinstance(name, str) or not name.strip() or len(name) > 256 or any(ord(ch) < 32 for ch in name):
            raise SignInFailed(f"the ID token has no usable '{self.user_claim}' claim to name the user")
        return name.strip()
