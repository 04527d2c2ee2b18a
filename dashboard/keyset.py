"""Keyset pagination: each batch starts after the last row of the one before, never at an OFFSET.

An OFFSET makes the database produce and throw away every earlier row again, so batch n costs
n times the first; a keyset condition ("after these sort values") costs the same for every
batch. The order must end in a unique column (a primary key) so that no two rows tie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

Order = Sequence[tuple[ColumnElement[Any], bool]]  # (sort expression, descending?)


def sorted_by(order: Order) -> list[ColumnElement[Any]]:
    """The ORDER BY clause of an order."""
    return [expr.desc() if descending else expr.asc() for expr, descending in order]


def after(order: Order, last: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `last` (the sort values of a row) in this order."""
    clauses = []
    for index, (expr, descending) in enumerate(order):
        ties = [order[j][0] == last[j] for j in range(index)]
        clauses.append(and_(*ties, expr < last[index] if descending else expr > last[index]))
    return or_(*clauses)


def batches(connect: Callable[[], AbstractContextManager[Connection]], query: Select, order: Order,
            size: int = 1000) -> Iterator[list[Row]]:
    """`query`'s rows in `order`, `size` at a time, each batch on its own short read.

    Each row carries the sort values after the query's own columns (drop them with row[:n]).
    """
    keyed = query.add_columns(*(expr.label(f"_key{index}") for index, (expr, _) in enumerate(order)))
    keyed = keyed.order_by(*sorted_by(order)).limit(size)
    last: Sequence[Any] | None = None
    while True:
        page = keyed if last is None else keyed.where(after(order, last))
        with connect() as conn:
            rows = conn.execute(page).all()
        if rows:
            yield rows
        if len(rows) < size:
            return
        last = tuple(rows[-1])[-len(order):]
