"""Sign-in and sign-out (password mode): a CSRF-bound form, rate-limited, same-site only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from dashboard.auth import CSRF_COOKIE, SESSION_COOKIE, same_token
from dashboard.context import Context, Ctx, UserDep

router = APIRouter(include_in_schema=False)


def local(target: str | None) -> str:
    """Only a path on this site may be a redirect target (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def cross_site(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] != host
    return origin == "null"


def signin_page(ctx: Context, request: Request, next_url: str, error: str | None, status: int,
                headers: dict[str, str] | None = None) -> Response:
    token = ctx.auth.new_signin_token()
    response = ctx.templates.TemplateResponse(
        request, "signin.html", {"user": None, "csrf": token, "next": local(next_url), "error": error},
        status_code=status, headers=headers,
    )
    response.set_cookie(
        CSRF_COOKIE, token, max_age=3600, path="/signin", httponly=True, samesite="strict",
        secure=ctx.auth.secure_cookie(request),
    )
    return response


@router.get("/signin")
def signin_form(request: Request, ctx: Ctx, next: str = "/") -> Response:
    if ctx.auth.mode != "password":
        return RedirectResponse("/", status_code=303)
    if ctx.auth.user(request):
        return RedirectResponse(local(next), status_code=303)
    return signin_page(ctx, request, next, None, 200)


@router.post("/signin")
def signin(
    request: Request,
    ctx: Ctx,
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    auth = ctx.auth
    if auth.mode != "password":
        raise HTTPException(404, "sign-in is handled by the single sign-on proxy")
    if cross_site(request):
        raise HTTPException(403, "forbidden: cross-site sign-in refused")
    client = auth.client_address(request)
    wait = auth.limiter.retry_after(client)
    if wait:
        return signin_page(
            ctx, request, next, f"Too many failed sign-ins from your address. Try again in {wait} seconds.", 429,
            headers={"Retry-After": str(wait)},
        )
    if not same_token(csrf, request.cookies.get(CSRF_COOKIE)):
        return signin_page(ctx, request, next, "The sign-in form expired. Please try again.", 400)
    if not auth.check_password(password):
        auth.limiter.failed(client)
        return signin_page(ctx, request, next, "Wrong password.", 401)
    auth.limiter.succeeded(client)
    cookie, _ = auth.new_session("dashboard")
    response = RedirectResponse(local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=auth.max_age, path="/", httponly=True, samesite="strict",
        secure=auth.secure_cookie(request),
    )
    response.delete_cookie(CSRF_COOKIE, path="/signin", httponly=True, samesite="strict")
    return response


@router.post("/signout")
def signout(request: Request, ctx: Ctx, user: UserDep, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
    if ctx.auth.mode != "password":
        raise HTTPException(404, "sign-out is handled by the single sign-on proxy")
    if cross_site(request) or not same_token(csrf, user.csrf):
        raise HTTPException(403, "forbidden: sign-out form token missing or wrong")
    ctx.auth.revoke(user)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
