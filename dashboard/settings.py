"""The config file's `dashboard` section: address, sign-in, single sign-on, session.

    dashboard:
      host: 127.0.0.1                 # address to listen on
      port: 8080
      auth: password                  # password (built-in sign-in) | oidc (OpenID Connect) | trusted_header (SSO proxy)
      password_env: CUSTODY_DASHBOARD_PASSWORD   # environment variable holding the password
      password_file: /run/secrets/custody-dashboard   # or a secret file (overrides password_env)
      public_url: https://custody.example.com   # where people reach the dashboard (oidc: the redirect URI's base)
      oidc_issuer: https://login.example.com/realms/corp   # the OpenID provider (its discovery document)
      oidc_client_id: custody-dashboard
      oidc_client_secret_env: CUSTODY_OIDC_CLIENT_SECRET   # or oidc_client_secret_file
      oidc_user_claim: email          # the ID token claim that names the user (audit trail, reports)
      trusted_proxies: [127.0.0.1]    # addresses/networks of the OIDC proxy (trusted_header mode)
      user_header: X-Forwarded-User   # the header the proxy sets to the signed-in user
      session_hours: 12
      session_secret_env: null        # env var with a session signing key; default: random per process
      secure_cookies: auto            # auto (when served over https) | true | false
      max_failed_signins: 5           # per client address, and per account name, within signin_window_minutes
      signin_window_minutes: 15
      page_size: 50

Every problem is one InputError naming the file and line. Secrets are read here, hashed by
the caller and never kept in these settings.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from scanner.config import Config
from scanner.errors import InputError
from scanner.yamlfile import Node

KEYS = {
    "host", "port", "auth", "password_env", "password_file", "trusted_proxies", "user_header", "session_hours",
    "session_secret_env", "secure_cookies", "max_failed_signins", "signin_window_minutes", "page_size",
    "public_url", "oidc_issuer", "oidc_client_id", "oidc_client_secret_env", "oidc_client_secret_file",
    "oidc_user_claim",
}
AUTH_MODES = ("password", "oidc", "trusted_header")
DEFAULT_OIDC_SECRET_ENV = "CUSTODY_OIDC_CLIENT_SECRET"
DEFAULT_PASSWORD_ENV = "CUSTODY_DASHBOARD_PASSWORD"
MIN_PASSWORD_LENGTH = 12

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class DashboardSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    auth: str = "password"
    password_env: str = DEFAULT_PASSWORD_ENV
    password_file: str | None = None
    trusted_proxies: list[Network] = field(default_factory=list)
    user_header: str = "X-Forwarded-User"
    session_hours: int = 12
    session_secret_env: str | None = None
    secure_cookies: str = "auto"  # auto | true | false
    max_failed_signins: int = 5
    signin_window_minutes: int = 15
    page_size: int = 50
    public_url: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_env: str = DEFAULT_OIDC_SECRET_ENV
    oidc_client_secret_file: str | None = None
    oidc_user_claim: str = "email"
    source: str = "<default config>"  # where these settings came from, for error messages

    def is_trusted_proxy(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def read_password(self) -> str:
        """The sign-in password from the secret file or the environment; an InputError when missing or weak."""
        if self.password_file:
            try:
                secret = Path(self.password_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise InputError(
                    f"dashboard.password_file: cannot read '{self.password_file}': {exc.strerror or exc}", self.source
                ) from None
            where = f"the file named by dashboard.password_file ({self.password_file})"
        else:
            secret = os.environ.get(self.password_env, "")
            where = f"environment variable {self.password_env}"
        if not secret:
            raise InputError(
                f"dashboard: no sign-in password: set {where}"
                + ("" if self.password_file else " or name a secret file in dashboard.password_file")
                + " (or use auth: trusted_header behind an SSO proxy)",
                self.source,
            )
        if len(secret) < MIN_PASSWORD_LENGTH:
            raise InputError(
                f"dashboard: the sign-in password in {where} is shorter than {MIN_PASSWORD_LENGTH} characters",
                self.source,
            )
        return secret

    def read_oidc_client_secret(self) -> str:
        """The OIDC client secret from its file or the environment; "" for a public client (PKCE alone)."""
        if self.oidc_client_secret_file:
            try:
                return Path(self.oidc_client_secret_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InputError(f"dashboard.oidc_client_secret_file: cannot read '{self.oidc_client_secret_file}': "
                                 f"{exc.strerror or exc}", self.source) from None
        return os.environ.get(self.oidc_client_secret_env, "")

    def read_session_secret(self) -> str | None:
        if not self.session_secret_env:
            return None
        secret = os.environ.get(self.session_secret_env, "")
        if len(secret) < 32:
            raise InputError(
                f"dashboard.session_secret_env: environment variable {self.session_secret_env} "
                "must hold at least 32 characters",
                self.source,
            )
        return secret


def parse_settings(node: Node) -> DashboardSettings:
    node.mapping(KEYS)
    settings = DashboardSettings(source=node.file)
    settings.host = node["host"].str(settings.host) or settings.host
    _check_host(node["host"], settings.host)
    settings.port = node["port"].int(settings.port, minimum=0)
    if settings.port > 65535:
        raise node["port"].error(f"{node['port'].name}: expected a port number 0-65535, got {settings.port}")
    settings.auth = node["auth"].str(settings.auth, choices=AUTH_MODES) or settings.auth
    settings.password_env = node["password_env"].str(settings.password_env) or settings.password_env
    settings.password_file = _path(node, "password_file")
    for item in node["trusted_proxies"].items() if not isinstance(node["trusted_proxies"].value, str) else [
        node["trusted_proxies"]
    ]:
        text = item.req_str()
        try:
            settings.trusted_proxies.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            problem = f"{item.name}: '{text}' is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            raise item.error(problem) from None
    settings.user_header = node["user_header"].str(settings.user_header) or settings.user_header
    settings.session_hours = node["session_hours"].int(settings.session_hours, minimum=1)
    settings.session_secret_env = node["session_secret_env"].str()
    secure = node["secure_cookies"]
    if isinstance(secure.value, bool):
        settings.secure_cookies = "true" if secure.value else "false"
    else:
        settings.secure_cookies = secure.str("auto", choices=("auto", "true", "false")) or "auto"
    settings.max_failed_signins = node["max_failed_signins"].int(settings.max_failed_signins, minimum=1)
    settings.signin_window_minutes = node["signin_window_minutes"].int(settings.signin_window_minutes, minimum=1)
    settings.page_size = node["page_size"].int(settings.page_size, minimum=1)
    if settings.page_size > 500:
        raise node["page_size"].error(f"{node['page_size'].name}: at most 500, got {settings.page_size}")
    _parse_oidc(node, settings)
    if settings.auth == "trusted_header" and not settings.trusted_proxies:
        raise node.error(
            f"{node.name}: auth: trusted_header needs trusted_proxies (the addresses of the SSO proxy); "
            "without them any client could name itself"
        )
    return settings


def _path(node: Node, key: str) -> str | None:
    """A file path setting, relative to the config file's folder."""
    path = node[key].str()
    if path and node.file and not Path(path).is_absolute() and node.file != "<default config>":
        path = str(Path(node.file).parent / path)
    return path


def _parse_oidc(node: Node, settings: DashboardSettings) -> None:
    settings.public_url = _url(node["public_url"], loopback_http=True)
    settings.oidc_issuer = _url(node["oidc_issuer"], loopback_http=True)
    settings.oidc_client_id = node["oidc_client_id"].str()
    settings.oidc_client_secret_env = node["oidc_client_secret_env"].str(DEFAULT_OIDC_SECRET_ENV) or (
        DEFAULT_OIDC_SECRET_ENV)
    settings.oidc_client_secret_file = _path(node, "oidc_client_secret_file")
    settings.oidc_user_claim = node["oidc_user_claim"].str(settings.oidc_user_claim) or settings.oidc_user_claim
    if settings.auth != "oidc":
        return
    for key in ("oidc_issuer", "oidc_client_id", "public_url"):
        if not getattr(settings, key):
            why = " (where people reach the dashboard; the redirect URI is <public_url>/signin/oidc/callback)"
            raise node.error(f"{node.name}: auth: oidc needs {key}" + (why if key == "public_url" else ""))


def _url(node: Node, loopback_http: bool) -> str | None:
    """An https URL without query or fragment (http only to a loopback host); trailing slash dropped."""
    text = node.str()
    if not text:
        return None
    parsed = urlsplit(text)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme not in ("https", "http") or not parsed.hostname or parsed.query or parsed.fragment or (
        parsed.scheme == "http" and not (loopback and loopback_http)
    ):
        raise node.error(f"{node.name}: '{text}' is not an https URL without query or fragment "
                         "(http is accepted only for 127.0.0.1 or localhost)")
    return text.rstrip("/")


def settings_from_config(config: Config) -> DashboardSettings:
    return parse_settings(config.section("dashboard"))


def _check_host(node: Node, host: str) -> None:
    if host in ("localhost", "0.0.0.0", "::"):
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        problem = f"{node.name}: '{host}' is not an IP address to listen on (e.g. 127.0.0.1 or 0.0.0.0)"
        raise node.error(problem) from None
