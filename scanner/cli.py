"""The `scan` command: load everything, run one scan, write the report, pick the exit code."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from policies.catalog_loader import load_catalog
from policies.policy_loader import load_policies
from providers.base import Provider
from scanner.config import Config, default_config, load_config
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from scanner.report import render
from scanner.scan import Judge, build_providers, run_scan

EXIT_OK, EXIT_FINDINGS, EXIT_SCAN_FAILED = 0, 1, 3


@dataclass
class ScanSetup:
    config: Config
    judge: Judge
    providers: list[Provider]


def prepare(config_path: str | None, home: list[str]) -> ScanSetup:
    """Load and validate catalog, config, policies and provider settings — before any cloud call."""
    catalog = load_catalog()
    config = load_config(config_path, catalog) if config_path else default_config()
    for code in home:
        if not catalog.is_jurisdiction(code):
            raise InputError(f"--home: unknown jurisdiction '{code}' (expected an ISO 3166-1 alpha-2 code or EU)")
    policies, waivers = load_policies(config.policy_files, catalog, home or config.home)
    providers = build_providers(config, catalog)
    return ScanSetup(config, Judge(catalog, config, policies, waivers), providers)


def scan_once(setup: ScanSetup, state: str | None) -> tuple[ScanResult, list[DataStore]]:
    """Run one scan; `state` None: record nothing; "": the config's state store; else that location."""
    if state is None:
        return run_scan(setup.providers, setup.judge)
    from scanner.state import StateStore

    with StateStore(state or setup.config.state) as store:
        return run_scan(setup.providers, setup.judge, store)


def write_report(text: str, output: str | None, scan: ScanResult) -> None:
    if not output:
        sys.stdout.write(text)
        return
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    Path(output).write_text(text, encoding="utf-8")
    print(f"scan {scan.id}: {scan.status}; report written to {output}", file=sys.stderr)


def scan_command(config_path: str | None, home: list[str], fmt: str, output: str | None, state: str | None,
                 fail_on_findings: bool = False) -> int:
    setup = prepare(config_path, home)
    scan, stores = scan_once(setup, state)
    write_report(render(fmt, scan, stores), output, scan)
    if scan.status == "failed":
        return EXIT_SCAN_FAILED
    if fail_on_findings and any(s.status == "fail" for s in stores):
        return EXIT_FINDINGS
    return EXIT_OK
