"""The dashboard: server-rendered pages over a read-only JSON API, behind sign-in.

`create_app(config, state_location)` returns a FastAPI app that another process may mount at
"/" (the agent daemon does, beside its own /healthz, /readyz and /metrics). Every route but
sign-in, sign-out and /static needs a signed-in user; nothing but sign-in and sign-out
accepts anything other than GET/HEAD. The OpenAPI description is at /api/openapi.json and
listed for people at /api/docs (no CDN-hosted Swagger UI: the dashboard runs air-gapped).
"""


import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard import exports
from dashboard.auth import CSRF_COOKIE, SESSION_COOKIE, Authenticator, User, same_token
from dashboard.queries import (
    COLUMN_FILTERS,
    FINDING_STATES,
    SORTS,
    STATUSES,
    FindingQuery,
    InventoryQuery,
    Queries,
    parse_time,
)
from dashboard.settings import DashboardSettings, settings_from_config
from dashboard.worldmap import WorldMap
from policies.catalog_loader import load_catalog
from scanner.catalog import Catalog, country_name
from scanner.config import Config
from state.store import StateStore

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FACET_PARAMS = ("country", "primary", "replica", "jurisdiction", "law", "policy", "tag")
BASIS_WORDS = {
    "location": "a copy of the data is on its soil",
    "control": "a company under its jurisdiction controls the store through this chain",
    "establishment": "a company in the chain is established there",
    "offering_services": "a company in the chain offers its services there",
    "all_organizations": "the law binds every organization that holds the data",
}
try:
    VERSION = version("custody")
except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
    VERSION = "0"


class SecurityHeaders:
    """Pure ASGI middleware (streams stay streams): CSP, no sniffing, no framing, no referrer, no caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
                ]
                if not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NotSignedIn(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


def create_app(config: Config, state_location: str) -> FastAPI:
    settings = settings_from_config(config)
    auth = Authenticator(settings)
    catalog = load_catalog()
    state = StateStore(state_location)
    state.rebuild_facets(only_if_missing=True)  # a database written before the facet index existed
    queries = Queries(state)
    world = WorldMap()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    account_names = {account_id: entry.name for account_id, entry in config.accounts.items() if entry.name}
    _template_globals(templates, catalog, account_names, settings)

    app = FastAPI(
        title="Custody dashboard API",
        version=VERSION,
        description="Read-only: where each data store's copies live, who controls them, which jurisdictions "
        "can compel access and why. Sign in first (session cookie) or come through the SSO proxy.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind sign-in like everything else
    )
    app.state.settings = settings
    app.state.auth = auth
    app.state.queries = queries
    app.state.state_store = state
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ---- errors -------------------------------------------------------------------------------

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/export/"))

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if wants_json(request) or exc.status == 403 or auth.mode != "password":
            if wants_json(request):
                return JSONResponse({"detail": exc.message}, status_code=exc.status)
            return templates.TemplateResponse(
                request, "error.html", {"status": exc.status, "message": exc.message, "user": None},
                status_code=exc.status,
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return templates.TemplateResponse(
            request, "error.html", {"status": exc.status_code, "message": exc.detail, "user": None},
            status_code=exc.status_code, headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', [])[1:])}: {err.get('msg')}" for err in exc.errors()
        )
        if wants_json(request):
            return JSONResponse({"detail": problems}, status_code=400)
        return templates.TemplateResponse(
            request, "error.html", {"status": 400, "message": f"bad request: {problems}", "user": None},
            status_code=400,
        )

    # ---- who -----------------------------------------------------------------------------------

    def current_user(request: Request) -> User:
        user = auth.user(request)
        if user is None:
            status, message = auth.refusal(request)
            raise NotSignedIn(status, message)
        return user

    UserDep = Annotated[User, Depends(current_user)]

    def page(request: Request, name: str, user: User, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"user": user, "auth_mode": auth.mode, **context})

    # ---- sign-in -------------------------------------------------------------------------------

    @app.get("/signin", include_in_schema=False)
    def signin_form(request: Request, next: str = "/") -> Response:
        if auth.mode != "password":
            return RedirectResponse("/", status_code=303)
        if auth.user(request):
            return RedirectResponse(_local(next), status_code=303)
        return _signin_page(request, next, None, 200)

    def _signin_page(request: Request, next_url: str, error: str | None, status: int,
                     headers: dict[str, str] | None = None) -> Response:
        token = auth.new_signin_token()
        response = templates.TemplateResponse(
            request, "signin.html",
            {"user": None, "csrf": token, "next": _local(next_url), "error": error},
            status_code=status, headers=headers,
        )
        response.set_cookie(
            CSRF_COOKIE, token, max_age=3600, path="/signin", httponly=True, samesite="strict",
            secure=auth.secure_cookie(request),
        )
        return response

    @app.post("/signin", include_in_schema=False)
    def signin(
        request: Request,
        password: Annotated[str, Form(max_length=1024)] = "",
        csrf: Annotated[str, Form(max_length=256)] = "",
        next: Annotated[str, Form(max_length=2048)] = "/",
    ) -> Response:
        if auth.mode != "password":
            raise HTTPException(404, "sign-in is handled by the single sign-on proxy")
        if _cross_site(request):
            raise HTTPException(403, "forbidden: cross-site sign-in refused")
        client = auth.client_address(request)
        wait = auth.limiter.retry_after(client)
        if wait:
            return _signin_page(
                request, next, f"Too many failed sign-ins from your address. Try again in {wait} seconds.", 429,
                headers={"Retry-After": str(wait)},
            )
        if not same_token(csrf, request.cookies.get(CSRF_COOKIE)):
            return _signin_page(request, next, "The sign-in form expired. Please try again.", 400)
        if not auth.check_password(password):
            auth.limiter.failed(client)
            return _signin_page(request, next, "Wrong password.", 401)
        auth.limiter.succeeded(client)
        cookie, _ = auth.new_session("dashboard")
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(
            SESSION_COOKIE, cookie, max_age=auth.max_age, path="/", httponly=True, samesite="strict",
            secure=auth.secure_cookie(request),
        )
        response.delete_cookie(CSRF_COOKIE, path="/signin", httponly=True, samesite="strict")
        return response

    @app.post("/signout", include_in_schema=False)
    def signout(request: Request, user: UserDep, csrf: Annotated[str, Form(max_length=256)] = "") -> Response:
        if auth.mode != "password":
            raise HTTPException(404, "sign-out is handled by the single sign-on proxy")
        if _cross_site(request) or not same_token(csrf, user.csrf):
            raise HTTPException(403, "forbidden: sign-out form token missing or wrong")
        auth.revoke(user)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # ---- dependencies: filters ---------------------------------------------------------------------

    def inventory_params(
        provider: Annotated[list[str] | None, Query(description="provider: aws, azure, gcp (repeatable)")] = None,
        account: Annotated[list[str] | None, Query(description="account, subscription or project id")] = None,
        kind: Annotated[list[str] | None, Query(description="store kind, e.g. s3-bucket")] = None,
        region: Annotated[list[str] | None, Query(description="the store's region id")] = None,
        status: Annotated[list[str] | None, Query(description="fail, pass, not_applicable, not_evaluated")] = None,
        country: Annotated[list[str] | None, Query(description="a copy lives in this country (ISO alpha-2)")] = None,
        primary: Annotated[list[str] | None, Query(description="a primary copy lives in this country")] = None,
        replica: Annotated[list[str] | None, Query(description="a replica or backup lives in this country")] = None,
        jurisdiction: Annotated[list[str] | None, Query(description="its law reaches the store")] = None,
        law: Annotated[list[str] | None, Query(description="this law (catalog id) reaches the store")] = None,
        policy: Annotated[list[str] | None, Query(description="this policy raised a finding on the store")] = None,
        tag: Annotated[list[str] | None, Query(description="key=value")] = None,
        q: Annotated[str, Query(max_length=200, description="search in name and id")] = "",
        sort: Annotated[Literal[tuple(SORTS)], Query()] = "name",  # type: ignore[valid-type]
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int | None, Query(ge=1, le=500)] = None,
        include_gone: Annotated[bool, Query(description="also stores no longer seen")] = False,
    ) -> InventoryQuery:
        values = {
            "provider": provider, "account": account, "kind": kind, "region": region, "status": status,
            "country": country, "primary": primary, "replica": replica, "jurisdiction": jurisdiction,
            "law": law, "policy": policy, "tag": tag,
        }
        filters = {name: [v for v in items if v] for name, items in values.items() if items}
        return InventoryQuery(
            filters={k: v for k, v in filters.items() if v}, q=q.strip(), sort=sort, order=order, page=page,
            per_page=per_page or settings.page_size, include_gone=include_gone,
        )

    InventoryDep = Annotated[InventoryQuery, Depends(inventory_params)]

    def finding_params(
        state: Annotated[Literal[tuple(FINDING_STATES)], Query()] = "open",  # type: ignore[valid-type]
        severity: Annotated[list[str] | None, Query()] = None,
        policy: Annotated[list[str] | None, Query()] = None,
        jurisdiction: Annotated[list[str] | None, Query()] = None,
        store: Annotated[str, Query(max_length=2048, description="one store's id")] = "",
        q: Annotated[str, Query(max_length=200)] = "",
        sort: Annotated[Literal["age", "recent", "severity", "store"], Query()] = "age",
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int | None, Query(ge=1, le=500)] = None,
    ) -> FindingQuery:
        return FindingQuery(
            state=state, severity=[v for v in severity or [] if v], policy=[v for v in policy or [] if v],
            jurisdiction=[v for v in jurisdiction or [] if v], store=store, q=q.strip(), sort=sort, page=page,
            per_page=per_page or settings.page_size,
        )

    FindingDep = Annotated[FindingQuery, Depends(finding_params)]

    # ---- pages ---------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def overview_page(request: Request, user: UserDep) -> HTMLResponse:
        data = queries.overview()
        return page(request, "overview.html", user, data=data, trend=_trend_bars(data["trend"]))

    @app.get("/map", include_in_schema=False)
    def map_page(request: Request, user: UserDep, view: Literal["where", "compel"] = "where") -> HTMLResponse:
        data = queries.map_data()
        drawn = world.where(data) if view == "where" else world.compel(data, catalog)
        return page(request, "map.html", user, map=drawn, view=view)

    @app.get("/inventory", include_in_schema=False)
    def inventory_page(request: Request, user: UserDep, query: InventoryDep) -> HTMLResponse:
        result = queries.inventory(query)
        return page(request, "inventory.html", user, result=result, query=query, choices=queries.choices(),
                    sorts=list(SORTS), column_filters=COLUMN_FILTERS, facet_filters=FACET_PARAMS)

    @app.get("/store", include_in_schema=False)
    def store_page(request: Request, user: UserDep, id: Annotated[str, Query(max_length=2048)]) -> HTMLResponse:
        record = queries.store(id)
        if record is None:
            raise HTTPException(404, f"no store with id {id!r} in the state store")
        return page(request, "store.html", user, store=_store_view(record, catalog), record=record)

    @app.get("/findings", include_in_schema=False)
    def findings_page(request: Request, user: UserDep, query: FindingDep) -> HTMLResponse:
        result = queries.findings(query)
        return page(request, "findings.html", user, result=result, query=query, choices=queries.finding_choices(),
                    states=FINDING_STATES)

    @app.get("/scans", include_in_schema=False)
    def scans_page(request: Request, user: UserDep, page_number: Annotated[int, Query(alias="page", ge=1)] = 1
                   ) -> HTMLResponse:
        per_page = settings.page_size
        total, rows = queries.scans(limit=per_page, offset=(page_number - 1) * per_page)
        return page(request, "scans.html", user, scans=rows, total=total, page_number=page_number,
                    pages=max(1, -(-total // per_page)))

    @app.get("/scans/{scan_id}", include_in_schema=False)
    def scan_page(request: Request, user: UserDep, scan_id: str,
                  status: Literal["all", "ok", "error", "denied", "not_ok"] = "all") -> HTMLResponse:
        scan = queries.scan(scan_id)
        if scan is None:
            raise HTTPException(404, f"no scan {scan_id!r} in the state store")
        targets = scan["targets"]
        shown = [t for t in targets if status == "all" or t["status"] == status
                 or (status == "not_ok" and t["status"] != "ok")]
        return page(request, "scan.html", user, scan=scan, groups=_target_groups(targets), shown=shown[:2000],
                    hidden=max(0, len(shown) - 2000), status=status)

    @app.get("/scans/{scan_id}/report", include_in_schema=False)
    def evidence_report(request: Request, user: UserDep, scan_id: str) -> StreamingResponse:
        scan = queries.scan(scan_id)
        if scan is None:
            raise HTTPException(404, f"no scan {scan_id!r} in the state store")
        latest = queries.scans(limit=1)[1]
        template = templates.env.get_template("report.html")
        context = {
            "request": request, "user": user, "scan": scan, "groups": _target_groups(scan["targets"]),
            "stores": (_store_view({"document": doc, "first_seen": doc.get("first_seen"), "findings": [],
                                    "events": [], "gone_at": doc.get("gone_at")}, catalog)
                       for doc in queries.scan_stores(scan_id)),
            "is_latest": bool(latest and latest[0]["id"] == scan_id),
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "laws": catalog.laws, "version": VERSION,
        }
        filename = f"custody-evidence-{_safe_name(scan_id)}.html"
        return StreamingResponse(
            template.generate(**context), media_type="text/html; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    @app.get("/catalog", include_in_schema=False)
    def catalog_page(request: Request, user: UserDep,
                     table: Literal["regions", "entities", "laws", "jurisdictions"] = "regions",
                     provider: str = "") -> HTMLResponse:
        return page(request, "catalog.html", user, table=table, provider=provider,
                    rows=_catalog_rows(catalog, table, provider), providers=sorted({p for p, _ in catalog.regions}))

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_json(user: UserDep) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request, user: UserDep) -> HTMLResponse:
        return page(request, "api.html", user, spec=app.openapi())

    # ---- API -----------------------------------------------------------------------------------

    @app.get("/api/me", tags=["session"], summary="The signed-in user")
    def api_me(user: UserDep) -> dict:
        return {"user": user.name, "auth": auth.mode}

    @app.get("/api/overview", tags=["stores"], summary="Stores by status, provider and reaching jurisdiction; "
                                                        "trend; last scan health")
    def api_overview(user: UserDep) -> dict:
        return queries.overview()

    @app.get("/api/map", tags=["stores"], summary="Stores per country (copies), replica links, stores per "
                                                   "reaching jurisdiction")
    def api_map(user: UserDep) -> dict:
        return queries.map_data()

    @app.get("/api/filters", tags=["stores"], summary="The values each inventory filter can take")
    def api_filters(user: UserDep) -> dict:
        return queries.choices()

    @app.get("/api/stores", tags=["stores"], summary="The inventory: filtered, searched, sorted and paginated")
    def api_stores(user: UserDep, query: InventoryDep) -> dict:
        return queries.inventory(query)

    @app.get("/api/store", tags=["stores"], summary="One store: document, findings with history, events")
    def api_store(user: UserDep, id: Annotated[str, Query(max_length=2048)]) -> dict:
        record = queries.store(id)
        if record is None:
            raise HTTPException(404, f"no store with id {id!r}")
        return json.loads(json.dumps(record, default=str))

    @app.get("/api/findings", tags=["findings"], summary="Findings: new, open, waived, resolved, with age")
    def api_findings(user: UserDep, query: FindingDep) -> dict:
        result = queries.findings(query)
        return json.loads(json.dumps(result, default=str))

    @app.get("/api/scans", tags=["scans"], summary="Scan history, newest first, with target status tallies")
    def api_scans(user: UserDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict:
        total, rows = queries.scans(limit=limit, offset=offset)
        return {"total": total, "items": rows}

    @app.get("/api/scans/{scan_id}", tags=["scans"], summary="One scan with every account/region/service result")
    def api_scan(user: UserDep, scan_id: str) -> dict:
        scan = queries.scan(scan_id)
        if scan is None:
            raise HTTPException(404, f"no scan {scan_id!r}")
        return scan

    @app.get("/api/catalog/{table}", tags=["catalog"], summary="Catalog facts with their sources")
    def api_catalog(user: UserDep, table: Literal["regions", "entities", "laws", "jurisdictions"],
                    provider: str = "") -> list[dict]:
        return _catalog_rows(catalog, table, provider)

    # ---- exports -------------------------------------------------------------------------------

    @app.get("/export/stores.csv", tags=["exports"], summary="The inventory view as CSV (all pages)")
    def export_stores_csv(user: UserDep, query: InventoryDep) -> StreamingResponse:
        return StreamingResponse(
            exports.stores_csv(queries.inventory_documents(query)), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="custody-stores.csv"'},
        )

    @app.get("/export/stores.json", tags=["exports"], summary="The inventory view as JSON documents (all pages)")
    def export_stores_json(user: UserDep, query: InventoryDep) -> StreamingResponse:
        meta = {"exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "filters": query.filters,
                "q": query.q, "sort": query.sort, "order": query.order, "include_gone": query.include_gone}
        return StreamingResponse(
            exports.stores_json(queries.inventory_documents(query), meta), media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="custody-stores.json"'},
        )

    @app.get("/export/findings.csv", tags=["exports"], summary="The findings view as CSV (all pages)")
    def export_findings_csv(user: UserDep, query: FindingDep) -> StreamingResponse:
        return StreamingResponse(
            exports.findings_csv(queries.finding_rows(query)), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="custody-findings.csv"'},
        )

    @app.get("/export/findings.json", tags=["exports"], summary="The findings view as JSON (all pages)")
    def export_findings_json(user: UserDep, query: FindingDep) -> StreamingResponse:
        rows = ({k: v for k, v in row.items() if k != "document"} for row in queries.finding_rows(query))
        return StreamingResponse(
            exports.json_array(rows), media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="custody-findings.json"'},
        )

    @app.get("/export/findings.ocsf.json", tags=["exports"],
             summary="The findings view as OCSF Detection Findings (class 2004), a JSON array")
    def export_findings_ocsf(user: UserDep, query: FindingDep,
                             lines: Annotated[bool, Query(description="newline-delimited JSON instead")] = False
                             ) -> StreamingResponse:
        events = (_ocsf(row) for row in queries.finding_rows(query))
        if lines:
            body: Iterator[str] = (json.dumps(event, ensure_ascii=False, default=str) + "\n" for event in events)
            return StreamingResponse(body, media_type="application/x-ndjson")
        return StreamingResponse(
            exports.json_array(events), media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="custody-findings.ocsf.json"'},
        )

    return app


# ---- helpers ---------------------------------------------------------------------------------------


def _ocsf(row: dict) -> dict:
    document = row.get("document") or {}
    reach = next((r for r in document.get("reachable_by") or [] if r.get("jurisdiction") == row.get("jurisdiction")),
                 None)
    event = exports.ocsf_finding(row, reach, VERSION)
    if row.get("region"):
        event["cloud"]["region"] = row["region"]
        event["resources"][0]["region"] = row["region"]
    return event


def _local(target: str | None) -> str:
    """Only a path on this site may be a redirect target (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cross_site(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] != host
    return origin == "null"


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def _trend_bars(trend: list[dict]) -> dict:
    """Stacked bars of store counts by status for recent scans, as SVG geometry (no inline style)."""
    width, height, gap = 600, 140, 4
    n = max(len(trend), 1)
    bar = max(4, (width - gap * (n - 1)) // n)
    peak = max((sum((row.get("counts") or {}).get(st, 0) for st in STATUSES) for row in trend), default=0) or 1
    bars = []
    for index, row in enumerate(trend):
        counts = row.get("counts") or {}
        x = index * (bar + gap)
        y = height
        segments = []
        for status in ("pass", "not_applicable", "not_evaluated", "fail"):
            value = counts.get(status, 0)
            h = round(height * value / peak, 1)
            if value:
                y -= h
                segments.append({"status": status, "y": round(y, 1), "h": h, "value": value})
        bars.append({"x": x, "w": bar, "segments": segments, "scan": row, "total": sum(
            counts.get(st, 0) for st in STATUSES)})
    return {"width": n * (bar + gap), "height": height, "bars": bars, "peak": peak}


def _target_groups(targets: list[dict]) -> list[dict]:
    """Per provider and account: how many region/service targets were ok, errors, denied."""
    groups: dict[tuple[str, str], dict] = {}
    for target in targets:
        key = (target["provider"], target["account"])
        group = groups.setdefault(key, {"provider": key[0], "account": key[1], "ok": 0, "error": 0, "denied": 0,
                                        "stores": 0, "services": set(), "regions": set()})
        group[target["status"]] = group.get(target["status"], 0) + 1
        group["stores"] += target.get("stores") or 0
        group["services"].add(target["service"])
        group["regions"].add(target["region"])
    result = []
    for group in groups.values():
        group["services"] = sorted(group["services"])
        group["regions"] = len(group["regions"])
        result.append(group)
    return sorted(result, key=lambda g: (g["provider"], g["account"]))


def _law_names(catalog: Catalog) -> dict[str, Any]:
    return {law.id: law for law in catalog.laws}


def _store_view(record: dict, catalog: Catalog) -> dict:
    """A store's facts arranged for reading: each reach with its law, citation, path in words."""
    doc = record.get("document") or {}
    laws = _law_names(catalog)
    reaches = []
    for reach in doc.get("reachable_by") or []:
        law = laws.get(reach.get("law"))
        code = reach.get("jurisdiction", "")
        name = catalog.jurisdiction_name(code) if code else code
        path = reach.get("path") or []
        basis = reach.get("basis", "")
        named = (g.get("law_name") for g in reach.get("grounds") or [] if g.get("law") == reach.get("law"))
        law_name = (law.name if law else None) or next(named, reach.get("law"))
        sentence = f"{name} can compel access under {law_name} ({reach.get('citation')}) because " + _because(
            basis, path) + "."
        others = [g for g in reach.get("grounds") or [] if g.get("path") != path]
        reaches.append({**reach, "name": name, "law_name": law_name, "sentence": sentence, "others": others,
                        "law_source": law.source if law else None, "law_unverified": bool(law and law.unverified)})
    return {
        "doc": doc,
        "reaches": reaches,
        "countries": sorted({str(loc.get("country")) for loc in doc.get("locations") or []}),
        "where": exports.where(doc.get("locations")),
        "operator": exports.chain(doc.get("operator")),
        "owner": exports.chain(doc.get("owner")),
    }


def _because(basis: str, path: list[str]) -> str:
    """Why a law reaches the store, in words, from the reach's path (store → … → citation)."""
    middle = path[1:-1] if len(path) > 2 else []
    if not middle:
        return BASIS_WORDS.get(basis, basis.replace("_", " "))
    if basis == "location":
        return f"its {middle[0]} lies on its soil"
    if basis == "control":
        if len(middle) == 1:
            return f"the store is held by {middle[0]}, which is subject to it"
        return f"the store is held by {middle[0]}, controlled by {' → '.join(middle[1:])}, which is subject to it"
    if basis == "establishment":
        return f"{middle[-1]}, which holds the store, is established there"
    if basis == "offering_services":
        return f"{middle[0]} {middle[-1]}" if len(middle) > 1 else f"{middle[0]} offers its services there"
    return f"{BASIS_WORDS.get(basis, basis)}: {' → '.join(middle)}"


def _catalog_rows(catalog: Catalog, table: str, provider: str = "") -> list[dict]:
    if table == "regions":
        return [
            {"provider": r.provider, "id": r.id, "name": r.name, "country": r.country, "city": r.city,
             "partition": r.partition, "operator": r.operator, "spans": list(r.spans), "pair": r.pair,
             "source": r.source, "unverified": r.unverified}
            for (p, _), r in sorted(catalog.regions.items()) if not provider or p == provider
        ]
    if table == "entities":
        return [
            {"id": e.id, "name": e.name, "country": e.country, "parents": list(e.parents), "lei": e.lei,
             "offers_services_in": list(e.offers_services_in), "source": e.source, "unverified": e.unverified}
            for e in sorted(catalog.entities.values(), key=lambda e: e.id)
        ]
    if table == "laws":
        return [
            {"id": law.id, "jurisdiction": law.jurisdiction, "name": law.name, "citation": law.citation,
             "triggers": list(law.triggers), "chains": list(law.chains), "summary": law.summary,
             "applies_from": law.validity.applies_from.isoformat() if law.validity.applies_from else None,
             "applies_until": law.validity.applies_until.isoformat() if law.validity.applies_until else None,
             "status": law.validity.status,
             "source": law.source, "unverified": law.unverified}
            for law in catalog.laws
        ]
    return [
        {"id": u.id, "name": u.name, "members": sorted(u.members), "source": u.source}
        for u in sorted(catalog.unions.values(), key=lambda u: u.id)
    ]


def _template_globals(templates: Jinja2Templates, catalog: Catalog, accounts: dict[str, str],
                      settings: DashboardSettings) -> None:
    env = templates.env

    def url_with(request: Request, path: str | None = None, drop: tuple[str, ...] = (), **changes: Any) -> str:
        """The current URL's query with some parameters changed (None removes them)."""
        items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and k not in drop]
        for key, value in changes.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                items += [(key, str(v)) for v in value]
            else:
                items.append((key, str(value)))
        query = urlencode(items)
        return (path or request.url.path) + (f"?{query}" if query else "")

    def jurisdiction_name(code: str) -> str:
        return catalog.jurisdiction_name(code) if code else ""

    def account_label(account: str) -> str:
        name = accounts.get(account)
        return f"{name} ({account})" if name else account

    def when(text: str | None) -> str:
        value = parse_time(text)
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else (text or "")

    env.globals.update(
        url_with=url_with, country_name=country_name, jurisdiction_name=jurisdiction_name,
        account_label=account_label, when=when, statuses=STATUSES, version=VERSION,
        store_href=lambda store_id: "/store?" + urlencode({"id": store_id}),
    )
    env.filters["label"] = lambda text: str(text or "").replace("_", " ")
