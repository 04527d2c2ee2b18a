"""What every request handler shares, built once by `create_app`, and the dependencies that read it.

Handlers never reach into module globals: they ask for `Ctx` (the app's `Context`), `UserDep`
(the signed-in user, or a refusal) or a parsed query (`InventoryDep`, `FindingDep`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard.auth import Authenticator, User
from dashboard.jurisdiction import JurisdictionReach
from dashboard.queries import Queries
from dashboard.settings import DashboardSettings
from dashboard.worldmap import WorldMap
from scanner.catalog import Catalog

try:
    VERSION = version("custody")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    VERSION = "0"


class NotSignedIn(Exception):
    """No user on a request that needs one; errors.py turns it into a redirect, 401 or 403."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


@dataclass
class Context:
    settings: DashboardSettings
    auth: Authenticator
    catalog: Catalog
    queries: Queries
    reach: JurisdictionReach
    world: WorldMap
    templates: Jinja2Templates

    def page(self, request: Request, name: str, user: User | None, *, status_code: int = 200,
             headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        """A page of templates/ with the signed-in user and the sign-in mode in its context."""
        return self.templates.TemplateResponse(
            request, name, {"user": user, "auth_mode": self.auth.mode, **context}, status_code=status_code,
            headers=headers,
        )


def context(request: Request) -> Context:
    return request.app.state.dashboard


Ctx = Annotated[Context, Depends(context)]


def current_user(request: Request, ctx: Ctx) -> User:
    user = ctx.auth.user(request)
    if user is None:
        status, message = ctx.auth.refusal(request)
        raise NotSignedIn(status, message)
    return user


UserDep = Annotated[User, Depends(current_user)]


def audited(request: Request, ctx: Ctx, user: UserDep) -> None:
    """Record in the audit trail who asked for this download or report (a router dependency)."""
    query = f"?{request.url.query}" if request.url.query else ""
    ctx.auth.accounts.audit(user.name, "export", (request.url.path + query)[:2000])
