"""A store's stored document (DataStore.to_dict(), built fast) and what is derived from it: the
reach and location sets changes are compared on, the dashboard's facets and its narrow index rows.

Each reaching jurisdiction is also read for its strongest ground (`lead`): documents follow the reach
contract (one entry per jurisdiction, strongest first, led by its strongest ground); those written
before it have no `route`, and their entry is led by the strongest ground among `grounds` by basis
(a copy on the soil, then control, then establishment, then the rest), never by the alphabet."""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from scanner.control import BASIS_ORDER, ROUTE_ORDER
from scanner.model import DataStore, lists_for_parents
from state.schema import INDEX_COLUMNS, store_facets_table, store_index_table, stores_table

_ATOMS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type, None for any other type."""
    if dataclasses.is_dataclass(cls):
        return tuple(item.name for item in dataclasses.fields(cls))
    return None


def _plain(value: Any) -> Any:
    """dataclasses.asdict without its per-value deepcopy: the same result, several times faster on a document."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is list:
        return [_plain(item) for item in value]
    if kind is dict:
        return {_plain(key): _plain(item) for key, item in value.items()}
    names = _field_names(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list):
        return kind(_plain(item) for item in value)
    if isinstance(value, dict):
        return kind((_plain(key), _plain(item)) for key, item in value.items())
    if isinstance(value, tuple):
        items = [_plain(item) for item in value]
        return kind(*items) if hasattr(value, "_fields") else kind(items)
    return copy.deepcopy(value)


def document(store: DataStore) -> dict[str, Any]:
    """store.to_dict(), built without dataclasses.asdict (which costs ~0.4 ms a store): the tests hold them equal."""
    if type(store).to_dict is not DataStore.to_dict:  # a subclass with its own document
        return store.to_dict()
    document = _plain(store)
    lists_for_parents(document)
    for reach, item in zip(store.reachable_by, document["reachable_by"], strict=True):
        item["path_text"] = reach.path_text
    return document


def reach_set(store: DataStore) -> list[str]:
    return sorted({reach.jurisdiction for reach in store.reachable_by})


def location_set(store: DataStore) -> list[list[str]]:
    return [list(pair) for pair in sorted({(loc.region, loc.role) for loc in store.locations})]


def basis_rank(basis: str | None) -> int:
    return BASIS_ORDER.index(basis) if basis in BASIS_ORDER else len(BASIS_ORDER)


def route_rank(route: str | None) -> int:
    return ROUTE_ORDER.index(route) if route in ROUTE_ORDER else len(ROUTE_ORDER)


def lead(reach: dict) -> dict:
    """The strongest ground of one jurisdiction's entry: the entry itself under the contract, else by basis."""
    if "route" in reach:
        return reach
    grounds = [reach, *(reach.get("grounds") or [])]
    return min(grounds, key=lambda ground: basis_rank(ground.get("basis")))  # min keeps the first of equals


def reach_value(code: str, basis: str, route: str) -> str:
    """The `reach` facet's value: jurisdiction|basis|route of the strongest ground ('|' is in none of them)."""
    return f"{code}|{basis}|{route}"


def reach_values(document: dict) -> set[str]:
    """The `reach` facet values of a document: one per reaching jurisdiction, its strongest ground."""
    found = set()
    for entry in document.get("reachable_by") or []:
        ground = lead(entry)
        found.add(reach_value(str(entry.get("jurisdiction") or ""), str(ground.get("basis") or ""),
                              str(ground.get("route") or "direct")))
    return found


def refresh_index(conn: Connection, where: Any) -> None:
    """Rewrite the store_index rows of the stores matching `where` (None: all) from `stores`, in SQL."""
    columns = [stores_table.c[name] for name in INDEX_COLUMNS]
    source = select(*columns) if where is None else select(*columns).where(where)
    if where is not None:
        conn.execute(delete(store_index_table).where(store_index_table.c.id.in_(select(stores_table.c.id).where(where))))
    conn.execute(insert(store_index_table).from_select(list(INDEX_COLUMNS), source))


def facet_rows(store_id: str, values: Any) -> list[dict[str, str]]:
    """The store_facets rows of one store, from its stores-row values (document and jurisdictions)."""
    document = values["document"] or {}
    found: set[tuple[str, str]] = {("jurisdiction", code) for code in values["jurisdictions"] or []}
    for location in document.get("locations") or []:
        country = str(location.get("country") or "unknown")
        found.add(("country", country))
        found.add(("primary" if location.get("role") == "primary" else "replica", country))
    for reach in document.get("reachable_by") or []:
        found |= {("law", str(ground["law"])) for ground in reach.get("grounds") or [] if ground.get("law")}
        if reach.get("law"):
            found.add(("law", str(reach["law"])))
    found |= {("reach", value) for value in reach_values(document)}
    found |= {("policy", str(item["policy"])) for item in document.get("findings") or [] if item.get("policy")}
    found |= {("tag", f"{key}={value}") for key, value in (document.get("tags") or {}).items()}
    return [{"store_id": store_id, "facet": facet, "value": value} for facet, value in sorted(found)]


def rebuild_derived(conn: Connection, only_if_missing: bool) -> int:
    """Recompute `store_facets` and `store_index` from `stores`; with only_if_missing, only when stores
    exist and no facet (or index row) does. Returns the facet rows written."""
    if only_if_missing:
        if conn.scalar(select(stores_table.c.id).limit(1)) is None:
            return 0
        indexed = conn.scalar(select(store_index_table.c.id).limit(1)) is not None
        if indexed and conn.scalar(select(store_facets_table.c.store_id).limit(1)) is not None:
            return 0
    conn.execute(delete(store_facets_table))
    conn.execute(delete(store_index_table))
    refresh_index(conn, None)
    written = 0
    batch: list[dict[str, Any]] = []
    query = select(stores_table.c.id, stores_table.c.document, stores_table.c.jurisdictions)
    for row in conn.execute(query).mappings().all():
        batch += facet_rows(row["id"], row)
        if len(batch) >= 5000:
            conn.execute(insert(store_facets_table), batch)
            written, batch = written + len(batch), []
    if batch:
        conn.execute(insert(store_facets_table), batch)
        written += len(batch)
    return written
