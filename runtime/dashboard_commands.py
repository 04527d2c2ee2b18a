"""`custody dashboard ...`: administration of the dashboard's sign-in, in the config's state store.

    custody dashboard token create --name splunk [--config FILE]   a read-only API token, printed once
    custody dashboard token revoke --name splunk [--config FILE]
    custody dashboard token list [--config FILE]
    custody dashboard revoke-sessions [--config FILE]              end every signed-in session now
"""

from __future__ import annotations

import argparse
import sys

from runtime.config import default_config, load_config


def add_parser(commands: argparse._SubParsersAction) -> None:
    dashboard = commands.add_parser("dashboard", help="the dashboard's API tokens and sessions")
    actions = dashboard.add_subparsers(dest="dashboard_command", required=True, parser_class=type(dashboard))
    token = actions.add_parser("token", help="read-only API tokens for /api/ and /export/ (e.g. a SIEM)")
    token_actions = token.add_subparsers(dest="token_command", required=True, parser_class=type(dashboard))
    for name, text in (("create", "make a token and print it (once: only its hash is kept)"),
                       ("revoke", "revoke a token by name")):
        action = token_actions.add_parser(name, help=text)
        action.add_argument("--name", required=True, help="the token's name, e.g. splunk")
        action.add_argument("--config", help="config file (YAML): its state store")
    listing = token_actions.add_parser("list", help="every token: created, last used, revoked")
    listing.add_argument("--config", help="config file (YAML): its state store")
    revoke = actions.add_parser("revoke-sessions", help="end every signed-in session now")
    revoke.add_argument("--config", help="config file (YAML): its state store")


def run(args: argparse.Namespace) -> int:
    from dashboard.accounts import Accounts
    from policies.catalog_loader import load_catalog
    from state.store import StateStore

    config = load_config(args.config, load_catalog()) if args.config else default_config()
    with StateStore(config.state) as state:
        accounts = Accounts(state)
        if args.dashboard_command == "revoke-sessions":
            generation = accounts.revoke_sessions()
            print(f"every dashboard session signed in before now has ended (session generation {generation})",
                  file=sys.stderr)
        elif args.token_command == "create":
            token = accounts.create_token(args.name)
            print(f"token '{args.name}' (shown once; send it as 'Authorization: Bearer <token>' to /api/ and "
                  "/export/):", file=sys.stderr)
            print(token)
        elif args.token_command == "revoke":
            accounts.revoke_token(args.name)
            print(f"token '{args.name}' revoked", file=sys.stderr)
        else:
            for token in accounts.tokens():
                state_text = f"revoked {token.revoked_at}" if token.revoked_at else "valid"
                print(f"{token.name}\tcreated {token.created_at}\tlast used {token.last_used_at or 'never'}\t"
                      f"{state_text}")
    return 0
