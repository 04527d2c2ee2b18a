"""Render a scan as JSON (the contract), CSV (one row per store) or a terminal table.

JSON and CSV are written as they go, one store at a time, so their memory does not grow with the
number of stores; the table lines its columns up over every row, so it holds them all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any, TextIO

from scanner.model import DataStore, ScanResult

FORMATS = ("table", "json", "csv")


def document(scan: ScanResult, stores: Iterable[DataStore]) -> dict[str, Any]:
    return {"scan": scan.to_dict(), "stores": [store.to_dict() for store in stores]}


def write(fmt: str, scan: ScanResult, stores: Iterable[DataStore], out: TextIO) -> None:
    """Write the report to `out`, reading `stores` once."""
    if fmt == "json":
        write_json(scan, stores, out)
    elif fmt == "csv":
        write_csv(stores, out)
    else:
        out.write(to_table(scan, list(stores)))


def render(fmt: str, scan: ScanResult, stores: Iterable[DataStore]) -> str:
    out = io.StringIO()
    write(fmt, scan, stores, out)
    return out.getvalue()


def write_json(scan: ScanResult, stores: Iterable[DataStore], out: TextIO) -> None:
    """`document(scan, stores)` as json.dumps(indent=2) + newline would write it, byte for byte, one store at a time."""
    out.write('{\n  "scan": ' + _json(scan.to_dict(), 1) + ',\n  "stores": [')
    empty = True
    for store in stores:
        out.write(("\n    " if empty else ",\n    ") + _json(store.to_dict(), 2))
        empty = False
    out.write("]\n}\n" if empty else "\n  ]\n}\n")


def _json(value: Any, depth: int) -> str:
    """`value` as json.dumps(indent=2) writes it `depth` levels down (a newline only ever separates lines)."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * depth)


def where(store: DataStore) -> str:
    """Locations in words: `DE Frankfurt (primary); JP Tokyo (replica)`."""
    parts = []
    for location in store.locations:
        place = " ".join(part for part in (location.country, location.city or location.region) if part)
        parts.append(f"{place} ({location.role})")
    return "; ".join(parts) or "unknown"


def reached_by(store: DataStore) -> str:
    """Every reach, strongest first: `US:control:direct; GB:control:agreement:not-effective`."""
    return "; ".join(f"{reach.jurisdiction}:{reach.basis}:{reach.route}" + ("" if reach.effective else ":not-effective")
                     for reach in store.reachable_by)


def effective_text(store: DataStore) -> str:
    """The jurisdictions that effectively reach the store, then those that reach it only by a route that is not
    effective (mutual legal assistance, or an agreement whose conditions fail): `US, DE; not effective: GB, CA`."""
    effective = [reach.jurisdiction for reach in store.reachable_by if reach.effective]
    others = [reach.jurisdiction for reach in store.reachable_by if not reach.effective]
    text = ", ".join(effective) or "none"
    return f"{text}; not effective: {', '.join(others)}" if others else text


def chain_text(chain: list) -> str:
    return " → ".join(f"{entity.name} ({entity.country})" for entity in chain)


CSV_COLUMNS = [
    "id", "provider", "account", "kind", "name", "region", "countries", "locations",
    "operator", "contracting_party", "owner", "reachable_by", "status", "status_reason",
]


def write_csv(stores: Iterable[DataStore], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for store in stores:
        countries = sorted({location.country for location in store.locations})
        writer.writerow([
            store.id, store.provider, store.account, store.kind, store.name, store.region,
            " ".join(countries), where(store), chain_text(store.operator), chain_text(store.contracting_party),
            chain_text(store.owner),
            reached_by(store), store.status, store.status_reason or "",
        ])


def to_table(scan: ScanResult, stores: list[DataStore], width: int = 48) -> str:
    header = ("STATUS", "PROVIDER", "ACCOUNT", "KIND", "NAME", "WHERE", "REACHABLE BY")
    rows = [
        (s.status, s.provider, s.account, s.kind, s.name, where(s), effective_text(s))
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
