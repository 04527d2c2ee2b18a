"""`python agent.py demo`: scan a built-in estate on local emulators, with no cloud credentials.

Starts moto (AWS, with the documented patches that make it answer as real AWS does), an
ARM-compatible server (Azure) and GCS/BigQuery/Resource Manager servers (Google Cloud), all on
127.0.0.1; seeds an estate of several accounts with different owners; writes the config it
uses; scans through the same code path as `agent.py scan`; prints the table and writes the
JSON report, the CSV and the state database to the output directory.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from demo.arm_server import ArmServer
from demo.aws_estate import XKS_PROXY, seed_aws_estate
from demo.azure_estate import BLEU_OWNER, partner_accounts, seed_partner_estate
from demo.azure_estate import seed_estate as seed_azure_estate
from demo.gcp_estate import EKM_URI, EKM_VPC_HOST, GCP_OWNERS, gcp_accounts, gcp_config_section, start_gcp_estate
from demo.moto_patches import ESTATE_PATCHES
from demo.moto_server import start_moto
from runtime.cli import prepare, scan_once
from scanner.report import render

POLICY = Path(__file__).parent / "policy.yaml"

COMPANIES = [
    {"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
    {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"},
    {"id": "acme-japan", "name": "Acme Japan K.K.", "country": "JP", "parent": "acme-inc"},
    {"id": "acme-brasil", "name": "Acme Brasil Ltda.", "country": "BR", "parent": "acme-inc"},
    BLEU_OWNER,
    *GCP_OWNERS,
]


# external key managers, by endpoint host: where they are and who runs them (no cloud API tells)
KEY_STORES = {
    urlsplit(XKS_PROXY).hostname: {"country": "DE", "operator": "acme-europe"},  # AWS KMS external key store proxy
    urlsplit(EKM_URI).hostname: {"country": "DE", "operator": "northwind-analytics-gmbh"},  # Cloud EKM
    EKM_VPC_HOST: {"country": "DE", "operator": "northwind-analytics-gmbh"},  # Cloud EKM over VPC
}


def demo_config(aws_accounts: dict[str, str], azure: dict[str, Any], bleu: dict[str, Any], gcp: dict[str, Any],
                azure_accounts: dict[str, dict[str, str]], state: Path) -> dict[str, Any]:
    """The config a user would write for this estate. The sandbox account has no declared owner."""
    accounts: dict[str, dict[str, str]] = {
        aws_accounts["management"]: {"owner": "acme-inc", "name": "management"},
        aws_accounts["acme-prod-eu"]: {"owner": "acme-europe", "name": "acme-prod-eu"},
        aws_accounts["acme-analytics-jp"]: {"owner": "acme-japan", "name": "acme-analytics-jp"},
        **azure_accounts,
        **gcp_accounts(),
    }
    return {
        "home": "EU",
        "state": str(state),
        "policies": [str(POLICY)],
        "companies": COMPANIES,
        "accounts": accounts,
        "providers": {"aws": {"organization": True, "max_attempts": 2}, "azure": azure, "azure/bleu": bleu,
                      "gcp": gcp},
        "key_stores": KEY_STORES,
    }


def run_demo(output_dir: Path) -> int:
    output_dir.mkdir(parents=True, exist_ok=True)
    state = output_dir / "custody.db"
    state.unlink(missing_ok=True)
    print("starting local emulators on 127.0.0.1 and seeding the demo estate …", file=sys.stderr)
    with ExitStack() as stack:
        moto = stack.enter_context(start_moto(patches=ESTATE_PATCHES))
        arm = ArmServer().start()
        stack.callback(arm.stop)
        gcp = start_gcp_estate()
        stack.callback(gcp.stop)
        environment = {
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        os.environ.update(environment)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        aws = seed_aws_estate(moto.url)
        azure = seed_azure_estate(arm)
        bleu = seed_partner_estate(arm, azure)
        os.environ.update(azure.environment())
        aws_accounts = {"management": aws.management_account_id, **aws.member_account_ids}
        config = demo_config(aws_accounts, azure.provider_section(), bleu, gcp_config_section(gcp),
                             {**azure.accounts(), **partner_accounts()}, state)
        config_path = output_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

        scan, stores = scan_once(prepare(str(config_path), []), state="")
    report = output_dir / "report.json"
    report.write_text(render("json", scan, stores), encoding="utf-8")
    (output_dir / "report.csv").write_text(render("csv", scan, stores), encoding="utf-8")
    sys.stdout.write(render("table", scan, stores))
    print(f"\nfull report: {report}  (CSV: {output_dir / 'report.csv'}; config used: {config_path}; "
          f"state: {state})")
    return 0 if scan.status != "failed" else 3
