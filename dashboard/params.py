"""The query string of the inventory and findings views, parsed and bounded, as dependencies."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Path, Query

from dashboard.context import Ctx
from dashboard.jurisdiction import FINDING_STATES as REACH_FINDINGS
from dashboard.jurisdiction import ReachQuery
from dashboard.queries import FINDING_STATES, SORTS, FindingQuery, InventoryQuery

MAX_VALUES = 50  # values of one filter: each chip links to the view without it, so a page grows as their square
MAX_PAGE = 1_000_000
MAX_OFFSET = 500 * MAX_PAGE  # the deepest row a page number can reach
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE)]
PerPage = Annotated[int | None, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


def _kept(values: list[str] | None) -> list[str]:
    return [v for v in values or [] if v]


def bounded(filters: dict[str, list[str] | None]) -> dict[str, list[str]]:
    """The non-empty values of each filter; a 400 naming the filter when one has more than MAX_VALUES."""
    for name, values in filters.items():
        if values and len(values) > MAX_VALUES:
            raise HTTPException(400, f"{name}: at most {MAX_VALUES} values in one filter, got {len(values)}")
    return {name: _kept(values) for name, values in filters.items()}


def inventory_params(
    ctx: Ctx,
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
    page: PageNumber = 1,
    per_page: PerPage = None,
    include_gone: Annotated[bool, Query(description="also stores no longer seen")] = False,
) -> InventoryQuery:
    filters = bounded({
        "provider": provider, "account": account, "kind": kind, "region": region, "status": status,
        "country": country, "primary": primary, "replica": replica, "jurisdiction": jurisdiction,
        "law": law, "policy": policy, "tag": tag,
    })
    return InventoryQuery(
        filters={k: v for k, v in filters.items() if v}, q=q.strip(), sort=sort, order=order, page=page,
        per_page=per_page or ctx.settings.page_size, include_gone=include_gone,
    )


def finding_params(
    ctx: Ctx,
    state: Annotated[Literal[tuple(FINDING_STATES)], Query()] = "open",  # type: ignore[valid-type]
    severity: Annotated[list[str] | None, Query()] = None,
    policy: Annotated[list[str] | None, Query()] = None,
    jurisdiction: Annotated[list[str] | None, Query()] = None,
    store: Annotated[str, Query(max_length=2048, description="one store's id")] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[Literal["age", "recent", "severity", "store"], Query()] = "age",
    page: PageNumber = 1,
    per_page: PerPage = None,
) -> FindingQuery:
    filters = bounded({"severity": severity, "policy": policy, "jurisdiction": jurisdiction})
    return FindingQuery(
        state=state, severity=filters["severity"], policy=filters["policy"], jurisdiction=filters["jurisdiction"],
        store=store, q=q.strip(), sort=sort, page=page, per_page=per_page or ctx.settings.page_size,
    )


InventoryDep = Annotated[InventoryQuery, Depends(inventory_params)]
FindingDep = Annotated[FindingQuery, Depends(finding_params)]


def reach_params(
    ctx: Ctx,
    code: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,16}$", description="jurisdiction code, e.g. US or EU")],
    basis: Annotated[list[str] | None, Query(description="location, control, establishment, ...")] = None,
    route: Annotated[list[str] | None, Query(description="direct, agreement, mutual_legal_assistance")] = None,
    provider: Annotated[list[str] | None, Query()] = None,
    status: Annotated[list[str] | None, Query(description="the store's status")] = None,
    finding: Annotated[list[str] | None, Query(description="open, waived, or none (the reach is accepted)")] = None,
    q: Annotated[str, Query(max_length=200, description="search in name and id")] = "",
    include_gone: Annotated[bool, Query(description="also stores no longer seen")] = False,
    page: PageNumber = 1,
    per_page: PerPage = None,
) -> ReachQuery:
    if not ctx.reach.known(code):
        raise HTTPException(404, f"no store in the state store is reached by the law of {code!r}")
    filters = bounded({"basis": basis, "route": route, "provider": provider, "status": status, "finding": finding})
    wrong = [value for value in filters["finding"] if value not in REACH_FINDINGS]
    if wrong:
        raise HTTPException(400, f"finding: expected one of {', '.join(REACH_FINDINGS)}, got {wrong[0]!r}")
    return ReachQuery(code=code, q=q.strip(), include_gone=include_gone, page=page,
                      per_page=per_page or ctx.settings.page_size, **filters)


ReachDep = Annotated[ReachQuery, Depends(reach_params)]
