"""The read-only JSON API (described at /api/openapi.json): the same facts as the pages."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from dashboard import views
from dashboard.context import Ctx, UserDep
from dashboard.params import FindingDep, InventoryDep, Offset, ReachDep
from dashboard.routes.pages import CatalogTable

router = APIRouter(prefix="/api")


def plain(value: Any) -> Any:
    """Rows with datetimes and other non-JSON values as JSON-ready data."""
    return json.loads(json.dumps(value, default=str))


@router.get("/openapi.json", include_in_schema=False)
def openapi_json(request: Request, user: UserDep) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/me", tags=["session"], summary="The signed-in user")
def api_me(ctx: Ctx, user: UserDep) -> dict:
    return {"user": user.name, "auth": ctx.auth.mode}


@router.get("/audit", tags=["session"],
            summary="The audit trail, newest first: sign-ins, sign-outs, exports, reports, tokens, by named user")
def api_audit(ctx: Ctx, user: UserDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    return ctx.auth.accounts.trail(limit)


@router.get("/overview", tags=["stores"],
            summary="Stores by status, provider and reaching jurisdiction; trend; last scan health")
def api_overview(ctx: Ctx, user: UserDep) -> dict:
    return ctx.queries.overview()


@router.get("/map", tags=["stores"],
            summary="Stores per country (copies), replica links, stores per reaching jurisdiction")
def api_map(ctx: Ctx, user: UserDep) -> dict:
    return ctx.queries.map_data()


@router.get("/filters", tags=["stores"], summary="The values each inventory filter can take")
def api_filters(ctx: Ctx, user: UserDep) -> dict:
    return ctx.queries.choices()


@router.get("/tags", tags=["stores"], summary="Tag filter values (key=value) that start with a prefix")
def api_tags(ctx: Ctx, user: UserDep, prefix: Annotated[str, Query(max_length=200)] = "",
             limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[str]:
    return ctx.queries.tag_values(prefix, limit)


@router.get("/stores", tags=["stores"], summary="The inventory: filtered, searched, sorted and paginated")
def api_stores(ctx: Ctx, user: UserDep, query: InventoryDep) -> dict:
    return ctx.queries.inventory(query)


@router.get("/store", tags=["stores"], summary="One store: document, findings with history, events")
def api_store(ctx: Ctx, user: UserDep, id: Annotated[str, Query(max_length=2048)]) -> dict:
    record = ctx.queries.store(id)
    if record is None:
        raise HTTPException(404, f"no store with id {id!r}")
    return plain(record)


@router.get("/jurisdiction/{code}", tags=["stores"],
            summary="One jurisdiction: every store its law reaches, by basis and route, with the strongest ground")
def api_jurisdiction(ctx: Ctx, user: UserDep, query: ReachDep) -> dict:
    return ctx.reach.view(query)


@router.get("/findings", tags=["findings"], summary="Findings: new, open, waived, resolved, with age")
def api_findings(ctx: Ctx, user: UserDep, query: FindingDep) -> dict:
    return plain(ctx.queries.findings(query))


@router.get("/scans", tags=["scans"], summary="Scan history, newest first, with target status tallies")
def api_scans(ctx: Ctx, user: UserDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Offset = 0) -> dict:
    total, rows = ctx.queries.scans(limit=limit, offset=offset)
    return {"total": total, "items": rows}


@router.get("/scans/{scan_id}", tags=["scans"], summary="One scan with every account/region/service result")
def api_scan(ctx: Ctx, user: UserDep, scan_id: str) -> dict:
    scan = ctx.queries.scan(scan_id)
    if scan is None:
        raise HTTPException(404, f"no scan {scan_id!r}")
    return scan


@router.get("/catalog/{table}", tags=["catalog"], summary="Catalog facts with their sources")
def api_catalog(ctx: Ctx, user: UserDep, table: CatalogTable, provider: str = "") -> list[dict]:
    return views.catalog_rows(ctx.catalog, table, provider)
