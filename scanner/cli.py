"""The `scan` command: load everything, run one scan, write the report, pick the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

from policies.catalog_loader import load_catalog
from policies.policy_loader import load_policies
from scanner.config import default_config, load_config
from scanner.errors import InputError
from scanner.report import render
from scanner.scan import Judge, build_providers, run_scan

EXIT_OK, EXIT_FINDINGS, EXIT_SCAN_FAILED = 0, 1, 3


def scan_command(
    config_path: str | None,
    home: list[str],
    fmt: str,
    output: str | None,
    state: str | None,
    fail_on_findings: bool = False,
    summary_to: str | None = None,
) -> int:
    """Run one scan. `state` None: no state store; "" the config's; else that location.

    All input is validated before any cloud API is called."""
    catalog = load_catalog()
    config = load_config(config_path, catalog) if config_path else default_config()
    for code in home:
        if not catalog.is_jurisdiction(code):
            raise InputError(f"--home: unknown jurisdiction '{code}' (expected an ISO 3166-1 alpha-2 code or EU)")
    policies, waivers = load_policies(config.policy_files, catalog, home or config.home)
    providers = build_providers(config, catalog)
    store = None
    if state is not None:
        from scanner.state import StateStore

        store = StateStore(state or config.state)
    try:
        scan, stores = run_scan(providers, Judge(catalog, config, policies, waivers), store)
    finally:
        if store is not None:
            store.close()
    text = render(fmt, scan, stores)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text, encoding="utf-8")
        print(f"scan {scan.id}: {scan.status}; report written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if scan.status == "failed":
        return EXIT_SCAN_FAILED
    if fail_on_findings and any(s.status == "fail" for s in stores):
        return EXIT_FINDINGS
    return EXIT_OK
