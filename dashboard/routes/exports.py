"""Downloads of the current view, every page of it, streamed: stores CSV/JSON, findings CSV/JSON/OCSF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from dashboard import exports
from dashboard.context import Ctx, UserDep, audited
from dashboard.jurisdiction import groups
from dashboard.params import FindingDep, InventoryDep, ReachDep

router = APIRouter(prefix="/export", tags=["exports"], dependencies=[Depends(audited)])
CSV = "text/csv; charset=utf-8"
JSON = "application/json"


def download(body: Iterator[str], media_type: str, filename: str) -> StreamingResponse:
    return StreamingResponse(exports.buffered(body), media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/stores.csv", summary="The inventory view as CSV (all pages)")
def export_stores_csv(ctx: Ctx, user: UserDep, query: InventoryDep) -> StreamingResponse:
    return download(exports.stores_csv(ctx.queries.inventory_documents(query)), CSV, "custody-stores.csv")


@router.get("/stores.json", summary="The inventory view as JSON documents (all pages)")
def export_stores_json(ctx: Ctx, user: UserDep, query: InventoryDep) -> StreamingResponse:
    meta = {"exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "filters": query.filters,
            "q": query.q, "sort": query.sort, "order": query.order, "include_gone": query.include_gone}
    return download(exports.stores_json(ctx.queries.inventory_documents(query), meta), JSON, "custody-stores.json")


@router.get("/findings.csv", summary="The findings view as CSV (all pages)")
def export_findings_csv(ctx: Ctx, user: UserDep, query: FindingDep) -> StreamingResponse:
    return download(exports.findings_csv(ctx.queries.finding_rows(query)), CSV, "custody-findings.csv")


@router.get("/findings.json", summary="The findings view as JSON (all pages)")
def export_findings_json(ctx: Ctx, user: UserDep, query: FindingDep) -> StreamingResponse:
    rows = ({k: v for k, v in row.items() if k != "document"} for row in ctx.queries.finding_rows(query))
    return download(exports.json_array(rows), JSON, "custody-findings.json")


@router.get("/findings.ocsf.json", summary="The findings view as OCSF Detection Findings (class 2004), a JSON array")
def export_findings_ocsf(ctx: Ctx, user: UserDep, query: FindingDep,
                         lines: Annotated[bool, Query(description="newline-delimited JSON instead")] = False
                         ) -> StreamingResponse:
    events = (exports.ocsf_event(row) for row in ctx.queries.finding_rows(query))
    if lines:
        body = (json.dumps(event, ensure_ascii=False, default=str) + "\n" for event in events)
        return StreamingResponse(exports.buffered(body), media_type="application/x-ndjson")
    return download(exports.json_array(events), JSON, "custody-findings.ocsf.json")


@router.get("/jurisdiction/{code}.csv", summary="One jurisdiction's view as CSV (all pages)")
def export_reach_csv(ctx: Ctx, user: UserDep, query: ReachDep) -> StreamingResponse:
    return download(exports.reach_csv(ctx.reach.rows(query)), CSV, f"custody-{query.code}.csv")


@router.get("/jurisdiction/{code}.json", summary="One jurisdiction's view as JSON (all pages)")
def export_reach_json(ctx: Ctx, user: UserDep, query: ReachDep) -> StreamingResponse:
    everything = ctx.reach.summary(query.code, query.include_gone)
    meta = {"exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "jurisdiction": query.code,
            "filters": query.filters(), "q": query.q, "include_gone": query.include_gone,
            "groups": groups(everything)}
    return download(exports.stores_json(ctx.reach.rows(query), meta), JSON, f"custody-{query.code}.json")
