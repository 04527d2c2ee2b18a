"""Errors as pages (with the navigation bar when signed in) for people and JSON for /api/ and /export/.

Never a traceback: bad input is 400, an unknown path 404, a bug 500 with its details in the log only.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from dashboard.context import NotSignedIn, context

log = logging.getLogger(__name__)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/export/"))


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error as JSON ({"detail": ...}) or as the error page, with the given status."""
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    ctx = context(request)
    user = ctx.auth.user(request) if status not in (401, 403) else None
    return ctx.page(request, "error.html", user, status_code=status, headers=headers, status=status, message=message)


async def not_signed_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotSignedIn)
    if wants_json(request) or exc.status == 403 or context(request).auth.mode not in ("password", "oidc"):
        return error_response(request, exc.status, exc.message)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(request, exc.status_code, str(exc.detail), exc.headers)


async def bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', [])[1:])}: {err.get('msg')}" for err in exc.errors()
    )
    return error_response(request, 400, problems if wants_json(request) else f"bad request: {problems}")


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("dashboard: %s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal error: the dashboard's log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(NotSignedIn, not_signed_in)
    app.add_exception_handler(HTTPException, http_error)  # Starlette's: FastAPI's and the router's own 404/405
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(Exception, server_error)
