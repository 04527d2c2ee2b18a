"""The pages people read: overview, map, inventory, one store, findings, scans, evidence report, catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from dashboard import exports, views
from dashboard.context import VERSION, Ctx, UserDep, audited
from dashboard.params import MAX_PAGE, FindingDep, InventoryDep, ReachDep
from dashboard.queries import COLUMN_FILTERS, FINDING_STATES, SORTS

router = APIRouter(include_in_schema=False)
CatalogTable = Literal["regions", "entities", "laws", "jurisdictions"]
SHOWN_TARGETS = 2000


@router.get("/")
def overview_page(request: Request, ctx: Ctx, user: UserDep) -> HTMLResponse:
    data = ctx.queries.overview()
    return ctx.page(request, "overview.html", user, data=data, trend=views.trend_bars(data["trend"]))


@router.get("/map")
def map_page(request: Request, ctx: Ctx, user: UserDep, view: Literal["where", "compel"] = "where",
             zoom: Literal["world", "europe"] = "world") -> HTMLResponse:
    data = ctx.queries.map_data()
    drawn = ctx.world.where(data, zoom) if view == "where" else ctx.world.compel(data, ctx.catalog, zoom)
    return ctx.page(request, "map.html", user, map=drawn, view=view)


@router.get("/inventory")
def inventory_page(request: Request, ctx: Ctx, user: UserDep, query: InventoryDep) -> HTMLResponse:
    result = ctx.queries.inventory(query)
    return ctx.page(request, "inventory.html", user, result=result, query=query, choices=ctx.queries.choices(),
                    sorts=list(SORTS), column_filters=COLUMN_FILTERS)


@router.get("/jurisdiction/{code}")
def jurisdiction_page(request: Request, ctx: Ctx, user: UserDep, query: ReachDep) -> HTMLResponse:
    return ctx.page(request, "jurisdiction.html", user, r=ctx.reach.view(query), query=query)


@router.get("/jurisdictions")
def jurisdictions(user: UserDep, code: Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{0,16}$")] = "") -> Response:
    """`/jurisdictions?code=US` is `/jurisdiction/US`; without a code, the overview lists them all."""
    return RedirectResponse(f"/jurisdiction/{code}" if code else "/#by-jurisdiction", status_code=303)


@router.get("/store")
def store_page(request: Request, ctx: Ctx, user: UserDep, id: Annotated[str, Query(max_length=2048)]) -> HTMLResponse:
    record = ctx.queries.store(id)
    if record is None:
        raise HTTPException(404, f"no store with id {id!r} in the state store")
    return ctx.page(request, "store.html", user, store=views.store_view(record, ctx.catalog), record=record)


@router.get("/findings")
def findings_page(request: Request, ctx: Ctx, user: UserDep, query: FindingDep) -> HTMLResponse:
    result = ctx.queries.findings(query)
    return ctx.page(request, "findings.html", user, result=result, query=query,
                    choices=ctx.queries.finding_choices(), states=FINDING_STATES)


@router.get("/scans")
def scans_page(request: Request, ctx: Ctx, user: UserDep,
               page_number: Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)] = 1) -> HTMLResponse:
    per_page = ctx.settings.page_size
    total, rows = ctx.queries.scans(limit=per_page, offset=(page_number - 1) * per_page)
    return ctx.page(request, "scans.html", user, scans=rows, total=total, page_number=page_number,
                    pages=max(1, -(-total // per_page)))


@router.get("/scans/{scan_id}")
def scan_page(request: Request, ctx: Ctx, user: UserDep, scan_id: str,
              status: Literal["all", "ok", "error", "denied", "not_ok"] = "all") -> HTMLResponse:
    scan = ctx.queries.scan(scan_id)
    if scan is None:
        raise HTTPException(404, f"no scan {scan_id!r} in the state store")
    targets = scan["targets"]
    shown = [t for t in targets if status == "all" or t["status"] == status
             or (status == "not_ok" and t["status"] != "ok")]
    shown.sort(key=lambda target: target["status"] == "ok")  # failed targets first, each group in its order
    return ctx.page(request, "scan.html", user, scan=scan, groups=views.target_groups(targets),
                    shown=shown[:SHOWN_TARGETS], hidden=max(0, len(shown) - SHOWN_TARGETS), status=status)


@router.get("/scans/{scan_id}/report", dependencies=[Depends(audited)])
def evidence_report(request: Request, ctx: Ctx, user: UserDep, scan_id: str) -> StreamingResponse:
    scan = ctx.queries.scan(scan_id)
    if scan is None:
        raise HTTPException(404, f"no scan {scan_id!r} in the state store")
    latest = ctx.queries.scans(limit=1)[1]
    template = ctx.templates.env.get_template("report.html")
    stores = (
        views.store_view({"document": doc, "first_seen": doc.get("first_seen"), "findings": [], "events": [],
                          "gone_at": doc.get("gone_at")}, ctx.catalog)
        for doc in ctx.queries.scan_stores(scan_id)
    )
    context = {
        "request": request, "user": user, "scan": scan, "groups": views.target_groups(scan["targets"]),
        "stores": stores, "is_latest": bool(latest and latest[0]["id"] == scan_id),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"), "laws": ctx.catalog.laws, "version": VERSION,
    }
    filename = f"custody-evidence-{views.safe_name(scan_id)}.html"
    return StreamingResponse(
        exports.buffered(template.generate(**context)), media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/catalog")
def catalog_page(request: Request, ctx: Ctx, user: UserDep, table: CatalogTable = "regions",
                 provider: str = "") -> HTMLResponse:
    return ctx.page(request, "catalog.html", user, table=table, provider=provider,
                    rows=views.catalog_rows(ctx.catalog, table, provider),
                    providers=sorted({p for p, _ in ctx.catalog.regions}))


@router.get("/api/docs")
def api_docs(request: Request, ctx: Ctx, user: UserDep) -> HTMLResponse:
    return ctx.page(request, "api.html", user, spec=request.app.openapi())
