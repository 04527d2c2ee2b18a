"""Custody's entry point.

    python agent.py scan    [--config FILE] [--home EU] [--format table|json|csv] [--output FILE]
    python agent.py catalog regions|entities|laws|kinds [--format table|json] [--provider aws]
    python agent.py demo    [--output-dir DIR]
    python agent.py run     [--config FILE]     the daemon: scheduled scans, alerts, dashboard, health
    python agent.py serve   [--config FILE]     the dashboard alone, from the state store

Exit codes: 0 the scan ran (complete or partial), whatever it found; 1 stores failed and
--fail-on-findings was given; 2 bad input (config, policy, catalog, arguments); 3 nothing
could be scanned at all (every account, region and service failed).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

from scanner.errors import InputError

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_SCAN_FAILED = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + traceback
        raise InputError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="agent.py", description="Custody: which governments can compel access to your cloud data")
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

    catalog = commands.add_parser("catalog", help="show the sourced facts the control test runs on")
    catalog.add_argument("table", choices=("regions", "entities", "laws", "kinds"))
    catalog.add_argument("--format", choices=("table", "json", "markdown"), default="table",
                         help="markdown: the store kinds table of the README (kinds only)")
    catalog.add_argument("--provider", help="only this provider's regions or kinds")

    demo = commands.add_parser("demo", help="scan a built-in demo estate on local emulators")
    demo.add_argument("--output-dir", default="demo-output", help="where the report and state go")

    run = commands.add_parser("run", help="the agent: scheduled scans, alerts, dashboard, health and metrics")
    run.add_argument("--config", help="config file (YAML)")

    serve = commands.add_parser("serve", help="serve the dashboard alone from the state store")
    serve.add_argument("--config", help="config file (YAML)")
    return parser


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
            from scanner.daemon import run_agent

            return run_agent(args.config)
        if args.command == "serve":
            from dashboard.serve import serve_dashboard

            return serve_dashboard(args.config)
        from demo.run import run_demo

        return run_demo(Path(args.output_dir))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def cmd_scan(args: argparse.Namespace) -> int:
    from scanner.cli import scan_command

    return scan_command(
        config_path=args.config,
        home=args.home or [],
        fmt=args.format,
        output=args.output,
        state=None if args.no_state else (args.state or ""),
        fail_on_findings=args.fail_on_findings,
    )


def cmd_catalog(args: argparse.Namespace) -> int:
    from policies.catalog_loader import load_catalog
    from scanner.catalog_view import render_catalog

    sys.stdout.write(render_catalog(load_catalog(), args.table, args.format, args.provider))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
