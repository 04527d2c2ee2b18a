"""The SQLite state the dashboard benchmarks read: `--stores` synthetic stores written in two scans
(dashboard/synthetic.py), or an earlier run's file kept with `--db ... --reuse`."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dashboard.synthetic import write_estate
from state.store import StateStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stores", type=int, default=20_000)
    parser.add_argument("--db", help="SQLite file to write (default: a temporary file)")
    parser.add_argument("--reuse", action="store_true", help="read the existing --db instead of writing it anew")


def prepared(args: argparse.Namespace) -> str:
    """The state file's path, written anew unless `--reuse` names an existing `--db`."""
    location = args.db or str(Path(tempfile.mkdtemp(prefix="custody-bench-")) / "custody.db")
    if not (args.reuse and args.db and Path(location).exists()):
        Path(location).unlink(missing_ok=True)
        started = time.perf_counter()
        with StateStore(location) as state:
            write_estate(state, args.stores)
        print(f"wrote {args.stores:,} stores in two scans in {time.perf_counter() - started:.1f} s")
    return location
