"""`agent.py catalog ...`: the catalog's facts with their sources, as a table or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from scanner.catalog import Catalog
from scanner.kinds_view import render_kinds

TABLES = ("regions", "entities", "laws", "agreements", "blocking", "kinds")


def catalog_rows(catalog: Catalog, table: str, provider: str | None = None) -> list[dict[str, Any]]:
    if table == "regions":
        regions = [r for r in catalog.regions.values() if provider in (None, r.provider)]
        return [asdict(r) for r in sorted(regions, key=lambda r: (r.provider, r.partition, r.id))]
    if table == "entities":
        return [asdict(e) for e in sorted(catalog.entities.values(), key=lambda e: e.id)]
    facts = {"laws": catalog.laws, "agreements": catalog.agreements, "blocking": catalog.blocking}[table]
    return [_flat(asdict(fact)) for fact in facts]


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A law, agreement or blocking rule with its validity window's fields at the top level."""
    validity = row.pop("validity")
    return {**row, **validity}


COLUMNS = {
    "regions": ("provider", "id", "partition", "country", "city", "operator", "spans", "unverified", "source"),
    "entities": ("id", "name", "country", "parents", "lei", "unverified", "source"),
    "laws": ("id", "jurisdiction", "triggers", "chains", "applies_from", "applies_until", "status", "unverified",
             "citation"),
    "agreements": ("id", "parties", "applies_from", "status", "unverified", "citation"),
    "blocking": ("id", "jurisdiction", "applies_to", "prohibits", "unverified", "citation"),
}


def render_catalog(catalog: Catalog, table: str, fmt: str, provider: str | None = None) -> str:
    if table == "kinds":
        return render_kinds(fmt, provider)
    if fmt == "markdown":
        fmt = "table"
    rows = catalog_rows(catalog, table, provider)
    if fmt == "json":
        return json.dumps(rows, indent=2, default=str, ensure_ascii=False) + "\n"
    columns = COLUMNS[table]
    cells = [columns] + [tuple(_cell(row[c]) for c in columns) for row in rows]
    widths = [min(max(len(r[i]) for r in cells), 60) for i in range(len(columns))]
    lines = ["  ".join(_clip(cell, widths[i]).ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines) + f"\n\n{len(rows)} {table}\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple, frozenset, set)):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
