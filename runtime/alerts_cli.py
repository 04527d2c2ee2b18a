"""`custody alerts list|retry`: the alert outbox from the command line.

    custody alerts list  [--config FILE] [--state pending|failed|delivered] [--format table|json]
    custody alerts retry [--config FILE] (--failed | ID ...)

`retry` makes failed rows pending again (due now, with a fresh `give_up_after_hours` window); a
running agent picks them up within seconds, a stopped one at its next start. Delivered rows are
never sent again. Both read the state store named by the config's `state`.
"""

from __future__ import annotations

import argparse
import json
import sys

from alerts.outbox import listed, requeue
from policies.catalog_loader import load_catalog
from runtime.config import default_config, load_config
from scanner.clock import now_text
from scanner.errors import InputError
from state.store import StateStore

STATES = ("pending", "failed", "delivered")
COLUMNS = ("id", "status", "channel", "kind", "severity", "attempts", "created_at", "title", "last_error")


def add_parser(commands: argparse._SubParsersAction) -> None:
    alerts = commands.add_parser("alerts", help="list the alert outbox; queue failed alerts again")
    actions = alerts.add_subparsers(dest="action", required=True, parser_class=type(alerts))
    listing = actions.add_parser("list", help="the outbox, newest first")
    listing.add_argument("--config", help="config file (YAML)")
    listing.add_argument("--state", choices=STATES, dest="status", help="only the rows in this state")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    retry = actions.add_parser("retry", help="queue failed alerts again")
    retry.add_argument("--config", help="config file (YAML)")
    retry.add_argument("--failed", action="store_true", help="every failed alert")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox ids (see `alerts list`)")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, load_catalog()) if args.config else default_config()
    with StateStore(config.state) as state:
        if args.action == "list":
            with state.reading() as conn:
                rows = listed(conn, args.status)
            _print(rows, args.format)
            return 0
        if bool(args.failed) == bool(args.ids):
            raise InputError("alerts retry: give --failed or outbox ids, not both and not neither (see --help)")
        with state.writing() as conn:
            done = requeue(conn, now_text(), None if args.failed else list(args.ids))
        missing = sorted(set(args.ids) - set(done))
        print(f"{len(done)} alert(s) queued again: {', '.join(map(str, done)) or 'none'}"
              + (f"; not failed or unknown: {', '.join(map(str, missing))}" if missing else ""))
        return 0 if not missing else 1


def _print(rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = [COLUMNS, *[tuple(_cell(row.get(column)) for column in COLUMNS) for row in rows]]
    widths = [max(len(line[index]) for line in table) for index in range(len(COLUMNS) - 2)]
    for line in table:
        fixed = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        sys.stdout.write(f"{fixed}  {line[-2]}" + (f"  ({line[-1]})" if line[-1] and line is not table[0] else "")
                         + "\n")
    if not rows:
        sys.stdout.write("(no alerts)\n")


def _cell(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


