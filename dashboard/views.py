"""Facts arranged for reading: a store's reaches in words, scan target tallies, trend bars, catalog tables."""

from __future__ import annotations

from typing import Any

from dashboard import exports, reach
from dashboard.queries import STATUSES
from scanner.catalog import Catalog

BASIS_WORDS = {
    "location": "a copy of the data is on its soil",
    "control": "a company under its jurisdiction controls the store through this chain",
    "establishment": "a company in the chain is established there",
    "offering_services": "a company in the chain offers its services there",
    "all_organizations": "the law binds every organization that holds the data",
}


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def trend_bars(trend: list[dict]) -> dict:
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


def target_groups(targets: list[dict]) -> list[dict]:
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


def law_names(catalog: Catalog) -> dict[str, Any]:
    return {law.id: law for law in catalog.laws}


def store_view(record: dict, catalog: Catalog) -> dict:
    """A store's facts arranged for reading: each reach led by its strongest ground, with law, citation, path
    and route in words; the strongest reach first (documents before the reach contract: by basis)."""
    doc = record.get("document") or {}
    laws = law_names(catalog)
    entries = doc.get("reachable_by") or []
    if not any("route" in entry for entry in entries):
        entries = sorted(entries, key=lambda entry: reach.basis_rank(reach.lead(entry).get("basis")))
    reaches = []
    for entry in entries:
        ground = reach.lead(entry)
        law = laws.get(ground.get("law"))
        code = entry.get("jurisdiction", "")
        name = catalog.jurisdiction_name(code) if code else code
        path = ground.get("path") or []
        named = (g.get("law_name") for g in entry.get("grounds") or [] if g.get("law") == ground.get("law"))
        law_name = (law.name if law else None) or ground.get("law_name") or next(named, ground.get("law"))
        sentence = f"{name} can compel access under {law_name} ({ground.get('citation')}) because " + because(
            ground.get("basis", ""), path) + "."
        others = [g for g in entry.get("grounds") or [] if g.get("path") != path]
        reaches.append({**entry, **reach.columns(entry), "basis": ground.get("basis", ""), "law": ground.get("law"),
                        "citation": ground.get("citation"), "path": path, "name": name, "law_name": law_name,
                        "sentence": sentence, "others": others, "conditions": ground.get("conditions") or [],
                        "conflicts": ground.get("conflicts") or [], "law_source": law.source if law else None,
                        "law_unverified": bool(law and law.unverified)})
    return {
        "doc": doc,
        "reaches": reaches,
        "countries": sorted({str(loc.get("country")) for loc in doc.get("locations") or []}),
        "where": exports.where(doc.get("locations")),
        "operator": exports.chain(doc.get("operator")),
        "owner": exports.chain(doc.get("owner")),
    }


def because(basis: str, path: list[str]) -> str:
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


def catalog_rows(catalog: Catalog, table: str, provider: str = "") -> list[dict]:
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
             "triggers": list(law.triggers), "summary": law.summary,
             "chains": list(law.chains),
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
