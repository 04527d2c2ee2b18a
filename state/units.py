"""A scan split into units that any replica can scan: one account, subscription or project each.

Each unit of a distributed scan is one row of `scan_units`, written `todo` when the scan is
planned and written once more when its scan ends, `done` (with the stores and targets it found)
or `failed`. That second write is guarded (`WHERE status = 'todo'`), and it happens while the
scan's own row is locked, so a unit that ran twice (its replica killed, the unit retried) is
counted once, and exactly one writer sees the last unit finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from scanner.model import TargetResult
from state.schema import scan_units_table, scans_table

TODO, DONE, FAILED = "todo", "done", "failed"



@dataclass(frozen=True)
class Unit:
    section: str
    unit_id: str

    @property
    def key(self) -> str:
        return f"{self.section}|{self.unit_id}"

    @classmethod
    def from_key(cls, key: str) -> Unit:
        section, _, unit_id = key.partition("|")
        return cls(section, unit_id)


@dataclass
class UnitResult:
    unit: Unit
    status: str
    stores: list[dict[str, Any]]
    targets: list[TargetResult]


def add_units(conn: Connection, scan_id: str, units: list[Unit]) -> None:
    if units:
        conn.execute(insert(scan_units_table), [
            {"scan_id": scan_id, "unit": unit.key, "section": unit.section, "unit_id": unit.unit_id,
             "status": TODO, "attempts": 0} for unit in units])


def lock_scan(conn: Connection, scan_id: str) -> str | None:
    """Lock the scan's row until the transaction ends (units of one scan finish one at a time); its status."""
    return conn.scalar(select(scans_table.c.status).where(scans_table.c.id == scan_id).with_for_update())


def unit_status(conn: Connection, scan_id: str, unit: Unit) -> str | None:
    return conn.scalar(select(scan_units_table.c.status).where(
        scan_units_table.c.scan_id == scan_id, scan_units_table.c.unit == unit.key))


def record_unit(conn: Connection, scan_id: str, unit: Unit, status: str, stores: list[dict[str, Any]],
                targets: list[TargetResult], replica: str, attempts: int, at: str) -> bool:
    """Write a unit's outcome once; False when it was already recorded (another run of it got there first)."""
    result = conn.execute(
        update(scan_units_table)
        .where(scan_units_table.c.scan_id == scan_id, scan_units_table.c.unit == unit.key,
               scan_units_table.c.status == TODO)
        .values(status=status, stores=stores, targets=[asdict(target) for target in targets], replica=replica,
                attempts=attempts, finished_at=at))
    return result.rowcount == 1


def units_left(conn: Connection, scan_id: str) -> int:
    return conn.scalar(select(func.count()).select_from(scan_units_table).where(
        scan_units_table.c.scan_id == scan_id, scan_units_table.c.status == TODO)) or 0


def unit_results(conn: Connection, scan_id: str) -> Iterator[UnitResult]:
    """The scan's units, one row at a time (a server-side cursor on PostgreSQL: a unit's stores at once)."""
    rows = conn.execution_options(stream_results=True, max_row_buffer=4).execute(
        select(scan_units_table).where(scan_units_table.c.scan_id == scan_id).order_by(scan_units_table.c.unit))
    for row in rows.mappings():
        yield UnitResult(Unit(row["section"], row["unit_id"]), row["status"], list(row["stores"] or []),
                         [TargetResult(**target) for target in row["targets"] or []])


def waiting_units(conn: Connection, scan_id: str) -> list[Unit]:
    rows = conn.execute(select(scan_units_table.c.section, scan_units_table.c.unit_id).where(
        scan_units_table.c.scan_id == scan_id, scan_units_table.c.status == TODO))
    return [Unit(section, unit_id) for section, unit_id in rows]
