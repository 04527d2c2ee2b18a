"""The `scan` command: load everything, run one scan, write the report, pick the exit code."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from policies.catalog_loader import load_catalog
from policies.policy_loader import load_policies
from providers.base import Provider
from scanner.config import Config, default_config, load_config
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from scanner.report import write
from scanner.scan import Judge, StoreSpool, build_providers, run_scan

EXIT_OK, EXIT_FINDINGS, EXIT_SCAN_FAILED = 0, 1, 3


@dataclass
class ScanSetup:
    config: Config
    judge: Judge
    providers: list[Provider]


def prepare(config_path: str | None, home: list[str], as_of: dt.date | None = None) -> ScanSetup:
    """Load and validate catalog, config, policies and provider settings — before any cloud call."""
    catalog = load_catalog()
    config = load_config(config_path, catalog) if config_path else default_config()
    for code in home:
        if not catalog.is_jurisdiction(code):
            raise InputError(f"--home: unknown jurisdiction '{code}' (expected an ISO 3166-1 alpha-2 code or EU)")
    policies, waivers = load_policies(config.policy_files, catalog, home or config.home)
    providers = build_providers(config, catalog)
    judge = Judge(catalog, config, policies, waivers, as_of or dt.date.today())
    return ScanSetup(config, judge, providers)


def scan_once(setup: ScanSetup, state: str | None) -> tuple[ScanResult, StoreSpool]:
    """Run one scan; `state` None: record nothing; "": the config's state store; else that location.
    The stores stay readable after the state store closes (they are spooled to a temporary file)."""
    if state is None:
        return run_scan(setup.providers, setup.judge)
    from scanner.state import StateStore

    with StateStore(state or setup.config.state) as store:
        return run_scan(setup.providers, setup.judge, store)


def write_report(fmt: str, scan: ScanResult, stores: Iterable[DataStore], output: str | None) -> None:
    """Stream the report to `output` (a file) or to stdout."""
    if not output:
        write(fmt, scan, stores, sys.stdout)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8", newline="") as out:  # newline="": CSV rows end in \r\n as written
        write(fmt, scan, stores, out)
    print(f"scan {scan.id}: {scan.status}; report written to {output}", file=sys.stderr)


def scan_command(config_path: str | None, home: list[str], fmt: str, output: str | None, state: str | None,
                 fail_on_findings: bool = False, as_of: dt.date | None = None) -> int:
    setup = prepare(config_path, home, as_of)
    scan, stores = scan_once(setup, state)
    with stores:
        write_report(fmt, scan, stores, output)
    if scan.status == "failed":
        return EXIT_SCAN_FAILED
    if fail_on_findings and scan.counts["fail"]:
        return EXIT_FINDINGS
    return EXIT_OK
