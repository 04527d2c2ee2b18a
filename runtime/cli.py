"""The command line: `custody` (the installed command) or `python agent.py`.

    custody scan    [--config FILE] [--home EU] [--format table|json|csv] [--output FILE] [--as-of DATE]
    custody catalog regions|entities|laws|agreements|blocking|kinds [--format table|json|markdown] [--provider aws]
    custody demo    [--output-dir DIR]
    custody run     [--config FILE]     the daemon: scheduled scans, alerts, dashboard, health
    custody serve   [--config FILE]     the dashboard alone, from the state store
    custody dashboard token create|revoke --name N | token list | revoke-sessions   (runtime/dashboard_commands.py)
    custody alerts  list [--state pending|failed|delivered] | retry (--failed | ID ...)   the alert outbox

Exit codes: 0 the scan ran (complete or partial), whatever it found; 1 stores failed and
--fail-on-findings was given; 2 bad input (config, policy, catalog, arguments); 3 nothing
could be scanned at all (every account, region and service failed).

The `scan` command loads everything, runs one scan, writes the report and picks the exit code;
`prepare` (the loading, before any cloud call) is shared with the daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from policies.catalog_loader import load_catalog
from policies.policy_loader import load_policies
from providers.base import Provider
from runtime import alerts_cli, dashboard_commands
from runtime.config import default_config, load_config
from runtime.scan import Judge, StoreSpool, build_providers, run_scan
from scanner.catalog_view import TABLES, render_catalog
from scanner.config import Config
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from scanner.report import write

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_SCAN_FAILED = 0, 1, 2, 3


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
    from state.store import StateStore

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + traceback
        raise InputError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    # prog: `custody` or `agent.py`, as the user typed it
    parser = _Parser(prog=Path(sys.argv[0]).name or "custody",
                     description="Custody: which governments can compel access to your cloud data")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scan = commands.add_parser("scan", help="run one scan and exit")
    scan.add_argument("--config", help="config file (YAML); default: scan AWS with the standard credential chain")
    scan.add_argument("--home", action="append", help="home jurisdiction, e.g. EU, DE, US (repeatable)")
    scan.add_argument("--format", choices=("table", "json", "csv"), default="table")
    scan.add_argument("--output", help="write the report here instead of standard output")
    scan.add_argument("--state", help="state store: SQLite path or SQLAlchemy URL (overrides the config)")
    scan.add_argument("--no-state", action="store_true", help="do not record the scan in the state store")
    scan.add_argument("--fail-on-findings", action="store_true", help="exit 1 when any store fails its policy")
    scan.add_argument("--as-of", type=_date, help="judge the laws in force on this day (YYYY-MM-DD; default: today)")

    catalog = commands.add_parser("catalog", help="show the sourced facts the control test runs on")
    catalog.add_argument("table", choices=TABLES)
    catalog.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                         help="markdown: the store kinds table of the README (kinds only)")
    catalog.add_argument("--provider", help="only this provider's regions or kinds")

    demo = commands.add_parser("demo", help="scan a built-in demo estate on local emulators")
    demo.add_argument("--output-dir", default="demo-output", help="where the report and state go")

    run = commands.add_parser("run", help="the agent: scheduled scans, alerts, dashboard, health and metrics")
    run.add_argument("--config", help="config file (YAML)")

    serve = commands.add_parser("serve", help="serve the dashboard alone from the state store")
    serve.add_argument("--config", help="config file (YAML)")
    alerts_cli.add_parser(commands)
    dashboard_commands.add_parser(commands)
    return parser


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got '{text}'") from None


def make_scratch_dir() -> None:
    """A scan spools its judged stores to a temporary file in TMPDIR (about 1.7 KB a store): create
    that directory when it is set but missing, as on a fresh volume (the image sets /data/tmp)."""
    path = os.environ.get("TMPDIR")
    if path:
        with contextlib.suppress(OSError):  # unwritable: tempfile falls back to /tmp
            os.makedirs(path, mode=0o700, exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    make_scratch_dir()
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "scan":
            return cmd_scan(args)
        if args.command == "catalog":
            return cmd_catalog(args)
        if args.command == "run":
            from runtime.daemon import run_agent

            return run_agent(args.config)
        if args.command == "alerts":
            return alerts_cli.run(args)
        if args.command == "serve":
            from runtime.serve import serve_dashboard

            return serve_dashboard(args.config)
        if args.command == "dashboard":
            return dashboard_commands.run(args)
        from demo.run import run_demo

        return run_demo(Path(args.output_dir))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def cmd_scan(args: argparse.Namespace) -> int:
    return scan_command(
        config_path=args.config,
        home=args.home or [],
        fmt=args.format,
        output=args.output,
        state=None if args.no_state else (args.state or ""),
        fail_on_findings=args.fail_on_findings,
        as_of=args.as_of,
    )


def cmd_catalog(args: argparse.Namespace) -> int:
    sys.stdout.write(render_catalog(load_catalog(), args.table, args.format, args.provider))
    return EXIT_OK
