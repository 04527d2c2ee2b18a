"""Render a scan as JSON (the contract), CSV (one row per store) or a terminal table."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from scanner.model import DataStore, ScanResult

FORMATS = ("table", "json", "csv")


def document(scan: ScanResult, stores: list[DataStore]) -> dict[str, Any]:
    return {"scan": scan.to_dict(), "stores": [store.to_dict() for store in stores]}


def render(fmt: str, scan: ScanResult, stores: list[DataStore]) -> str:
    if fmt == "json":
        return json.dumps(document(scan, stores), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return to_csv(stores)
    return to_table(scan, stores)


def where(store: DataStore) -> str:
    """Locations in words: `DE Frankfurt (primary); JP Tokyo (replica)`."""
    parts = []
    for location in store.locations:
        place = " ".join(part for part in (location.country, location.city or location.region) if part)
        parts.append(f"{place} ({location.role})")
    return "; ".join(parts) or "unknown"


def reached_by(store: DataStore) -> str:
    return ", ".join(f"{reach.jurisdiction}:{reach.basis}" for reach in store.reachable_by)


def chain_text(chain: list) -> str:
    return " → ".join(f"{entity.name} ({entity.country})" for entity in chain)


CSV_COLUMNS = [
    "id", "provider", "account", "kind", "name", "region", "countries", "locations",
    "operator", "owner", "reachable_by", "status", "status_reason",
]


def to_csv(stores: list[DataStore]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for store in stores:
        countries = sorted({location.country for location in store.locations})
        writer.writerow([
            store.id, store.provider, store.account, store.kind, store.name, store.region,
            " ".join(countries), where(store), chain_text(store.operator), chain_text(store.owner),
            reached_by(store), store.status, store.status_reason or "",
        ])
    return out.getvalue()


def to_table(scan: ScanResult, stores: list[DataStore], width: int = 48) -> str:
    header = ("STATUS", "PROVIDER", "ACCOUNT", "KIND", "NAME", "WHERE", "REACHABLE BY")
    rows = [
        (s.status, s.provider, s.account, s.kind, s.name, where(s), ", ".join(r.jurisdiction for r in s.reachable_by))
        for s in stores
    ]
    cells = [header, *[tuple(_clip(str(cell), width) for cell in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    counts = ", ".join(f"{key} {value}" for key, value in scan.counts.items())
    lines += ["", f"scan {scan.id}: {scan.status}; {counts}"]
    failed = [t for t in scan.targets if t.status != "ok"]
    lines.append(f"targets: {len(scan.targets) - len(failed)} ok, {len(failed)} not scanned")
    if scan.coverage_gaps:
        lines.append("coverage gaps:")
        lines += [f"  - {gap}" for gap in scan.coverage_gaps]
    return "\n".join(lines) + "\n"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
