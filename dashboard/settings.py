"""The config file's `dashboard` section: address, sign-in, single sign-on, session.

    dashboard:
      host: 127.0.0.1                 # address to listen on
      port: 8080
      auth: password                  # password (built-in sign-in) | trusted_header (SSO proxy)
      password_env: CUSTODY_DASHBOARD_PASSWORD   # environment variable holding the password
      password_file: /run/secrets/custody-dashboard   # or a secret file (overrides password_env)
      trusted_proxies: [127.0.0.1]    # addresses/networks of the OIDC proxy (trusted_header mode)
      user_header: X-Forwarded-User   # the header the proxy sets to the signed-in user
      session_hours: 12
      session_secret_env: null        # env var with a session signing key; default: random per process
      secure_cookies: auto            # auto (when served over https) | true | false
      max_failed_signins: 5           # per client address within signin_window_minutes
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

from scanner.config import Config
from scanner.errors import InputError
from scanner.yamlfile import Node

KEYS = {
    "host", "port", "auth", "password_env", "password_file", "trusted_proxies", "user_header", "session_hours",
    "session_secret_env", "secure_cookies", "max_failed_signins", "signin_window_minutes", "page_size",
}
AUTH_MODES = ("password", "trusted_header")
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
    password_file = node["password_file"].str()
    if password_file and node.file and not Path(password_file).is_absolute() and node.file != "<default config>":
        password_file = str(Path(node.file).parent / password_file)
    settings.password_file = password_file
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
    if settings.auth == "trusted_header" and not settings.trusted_proxies:
        raise node.error(
            f"{node.name}: auth: trusted_header needs trusted_proxies (the addresses of the SSO proxy); "
            "without them any client could name itself"
        )
    return settings


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
