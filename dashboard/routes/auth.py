"""Sign-in and sign-out: the password form (CSRF-bound, rate-limited per client and per name, same-site
only) and OpenID Connect (the provider's page, then the callback); each recorded in the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from dashboard.auth import CSRF_COOKIE, OIDC_COOKIE, SESSION_COOKIE, clean_name, same_token
from dashboard.context import Context, Ctx, UserDep
from dashboard.oidc import CALLBACK, SignInFailed

router = APIRouter(include_in_schema=False)
SIGNIN_MODES = ("password", "oidc")


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
    response = ctx.page(request, "signin.html", None, status_code=status, headers=headers, csrf=token,
                        next=local(next_url), error=error)
    if ctx.auth.mode == "password":
        response.set_cookie(CSRF_COOKIE, token, max_age=3600, path="/signin", httponly=True, samesite="strict",
                            secure=ctx.auth.secure_cookie(request))
    return response


def start_session(ctx: Context, request: Request, name: str, response: Response, how: str) -> Response:
    cookie, _ = ctx.auth.new_session(name)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=ctx.auth.max_age, path="/", httponly=True,
                        samesite="strict", secure=ctx.auth.secure_cookie(request))
    ctx.auth.accounts.audit(name, "signin", f"{how} from {ctx.auth.client_address(request)}")
    return response


@router.get("/signin")
def signin_form(request: Request, ctx: Ctx, next: str = "/") -> Response:
    if ctx.auth.mode not in SIGNIN_MODES:
        return RedirectResponse("/", status_code=303)
    if ctx.auth.user(request):
        return RedirectResponse(local(next), status_code=303)
    return signin_page(ctx, request, next, None, 200)


@router.post("/signin")
def signin(
    request: Request,
    ctx: Ctx,
    password: Annotated[str, Form(max_length=1024)] = "",
    username: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    auth = ctx.auth
    if auth.mode != "password":
        raise HTTPException(404, "password sign-in is off: sign in through the organisation's provider")
    if cross_site(request):
        raise HTTPException(403, "forbidden: cross-site sign-in refused")
    client = auth.client_address(request)
    name = clean_name(username)
    wait = auth.retry_after(client, name or "")
    if wait:
        return signin_page(ctx, request, next, f"Too many failed sign-ins from your address or for this name. "
                           f"Try again in {wait} seconds.", 429, headers={"Retry-After": str(wait)})
    if not same_token(csrf, request.cookies.get(CSRF_COOKIE)):
        return signin_page(ctx, request, next, "The sign-in form expired. Please try again.", 400)
    if name is None:
        return signin_page(ctx, request, next, "Type your name (at most 128 characters): the audit trail shows it.",
                           400)
    if not auth.check_password(client, name, password):
        auth.accounts.audit(name, "signin_failed", f"password from {client}")
        return signin_page(ctx, request, next, "Wrong password.", 401)
    response = start_session(ctx, request, name, RedirectResponse(local(next), status_code=303), "password")
    response.delete_cookie(CSRF_COOKIE, path="/signin", httponly=True, samesite="strict")
    return response


@router.get("/signin/oidc")
def signin_oidc(request: Request, ctx: Ctx, next: str = "/") -> Response:
    """Off to the OpenID provider, with state, nonce and PKCE challenge; the verifier stays in a signed cookie."""
    oidc = ctx.auth.oidc
    if oidc is None:
        raise HTTPException(404, "OpenID Connect sign-in is off")
    try:
        url, pending = oidc.begin(local(next))
    except SignInFailed as exc:
        return signin_page(ctx, request, next, f"Sign-in is unavailable: {exc}", 502)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(OIDC_COOKIE, ctx.auth.pending_cookie(pending), max_age=600, path="/signin/oidc",
                        httponly=True, samesite="lax", secure=ctx.auth.secure_cookie(request))
    return response


@router.get(CALLBACK)
def signin_oidc_callback(request: Request, ctx: Ctx) -> Response:
    """The provider's answer: the code redeemed, the ID token verified, a session for the named user.

    Answered with a page that moves on by itself rather than a redirect: the session cookie is
    SameSite=Strict, and a browser sends it only on a navigation that starts on this site.
    """
    oidc = ctx.auth.oidc
    if oidc is None:
        raise HTTPException(404, "OpenID Connect sign-in is off")
    pending = ctx.auth.pending(request.cookies.get(OIDC_COOKIE))
    params = {key: value[:4096] for key, value in request.query_params.items()}
    try:
        if pending is None:
            raise SignInFailed("this browser's sign-in request expired or was never made here; please sign in again")
        name = oidc.finish(params, pending)
    except SignInFailed as exc:
        ctx.auth.accounts.audit("-", "signin_failed", f"oidc from {ctx.auth.client_address(request)}: {exc}")
        response = signin_page(ctx, request, "/", f"Sign-in failed: {exc}", 401)
    else:
        target = local(pending.next)
        page = ctx.page(request, "signed_in.html", None, signed_in_as=name, next=target)
        response = start_session(ctx, request, name, page, "oidc")
    response.delete_cookie(OIDC_COOKIE, path="/signin/oidc", httponly=True, samesite="lax")
    return response


@router.post("/signout")
def signout(request: Request, ctx: Ctx, user: UserDep, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
    if ctx.auth.mode not in SIGNIN_MODES:
        raise HTTPException(404, "sign-out is handled by the single sign-on proxy")
    if cross_site(request) or not same_token(csrf, user.csrf):
        raise HTTPException(403, "forbidden: sign-out form token missing or wrong")
    ctx.auth.revoke(user)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
