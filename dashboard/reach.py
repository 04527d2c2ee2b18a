"""One jurisdiction's reach over a store, as the columns people read: basis, route, addressee, law, citation, path.

Documents follow the reach contract (docs: each store's `reachable_by` holds one entry per
jurisdiction, strongest first, each with its strongest ground). Documents written before that
contract have no `route`: their entry is led by its strongest ground (state.documents.lead, the
rule the `reach` facet is written with). Keys a document may lack are read with defaults:
route "direct", effective true.
"""

from __future__ import annotations

from typing import Any

from state.documents import BASIS_ORDER, ROUTE_ORDER, basis_rank, lead, route_rank

__all__ = ["BASIS_ORDER", "COLUMNS", "ROUTE_ORDER", "basis_rank", "columns", "entry", "lead", "route_rank", "summary"]
COLUMNS = ("basis", "route", "addressee", "law", "citation", "path")


def entry(document: dict, code: str) -> dict | None:
    """The document's reach entry for one jurisdiction, or None when its law does not reach the store."""
    return next((r for r in document.get("reachable_by") or [] if r.get("jurisdiction") == code), None)


def columns(reach: dict) -> dict[str, Any]:
    """The lead ground of an entry as flat, readable columns (path as text, addressee by name)."""
    ground = lead(reach)
    path = [str(step) for step in ground.get("path") or []]
    agreement = ground.get("agreement") or {}
    return {
        "basis": ground.get("basis") or "",
        "route": ground.get("route") or "direct",
        "addressee": ground.get("addressee_name") or ground.get("addressee") or "",
        "law": ground.get("law") or "",
        "citation": ground.get("citation") or "",
        "path": ground.get("path_text") or " → ".join(path),
        "agreement": agreement.get("name") or agreement.get("id") or "",
        "effective": ground.get("effective", True) is not False,
        "access": ground.get("access") or "unknown",
        "grounds": len(reach.get("grounds") or []) or 1,
    }


def summary(document: dict) -> list[dict[str, str]]:
    """Each reaching jurisdiction with the basis and route of its strongest ground, in the document's order."""
    result = []
    for entry in document.get("reachable_by") or []:
        ground = lead(entry)
        result.append({"jurisdiction": str(entry.get("jurisdiction") or ""), "basis": ground.get("basis") or "",
                       "route": ground.get("route") or "direct"})
    return result
