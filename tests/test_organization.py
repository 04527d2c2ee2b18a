"""An AWS Organization of 50 accounts scanned end to end by `agent.py scan`, one account denying access.

The Organization is demo.replicas's (one bucket per account on moto, through tests/fault_proxy.py);
the proxy answers AccessDenied to the AssumeRole into one member account. The scan must read the
other 49, record the refused one as denied (a coverage gap, status partial), mark nothing gone
there, and assume each role once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.replicas import ROOT, replica_config
from tests.distributed_world import Organization, emulated_organization
from tests.fault_proxy import Request

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def organization() -> Iterator[Organization]:
    with emulated_organization() as world:
        yield world


def test_fifty_accounts_scanned_with_one_denying_access(organization: Organization, tmp_path: Path) -> None:
    refused = organization.accounts[17]
    assumed: list[str] = []

    def deny(request: Request) -> bool:
        if request.service == "sts" and b"AssumeRole" in request.body:
            account = next((a for a in organization.accounts if a.encode() in request.body), "?")
            assumed.append(account)
            return account == refused
        return False

    organization.proxy.deny(deny)
    try:
        config = replica_config(tmp_path, str(tmp_path / "state.db"))
        result = subprocess.run([sys.executable, str(ROOT / "agent.py"), "scan", "--config", str(config),
                                 "--format", "json", "--state", str(tmp_path / "state.db")],
                                capture_output=True, text=True, env=organization.env(tmp_path), timeout=600,
                                check=False)
    finally:
        organization.proxy.rules = [rule for rule in organization.proxy.rules if rule[0] is not deny]
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    found = {store["name"]: store["account"] for store in report["stores"]}
    expected = {name: account for name, account in organization.buckets.items() if account != refused}
    assert found == expected  # 49 accounts' buckets, none of the refused one's
    assert report["scan"]["status"] == "partial"
    denied = [t for t in report["scan"]["targets"] if t["status"] == "denied"]
    assert [(t["account"], t["service"]) for t in denied] == [(refused, "sts:AssumeRole")]
    assert any(refused in gap and "denied" in gap for gap in report["scan"]["coverage_gaps"])
    assert Counter(assumed) == Counter(organization.accounts[1:])  # each member's role once, the refused one too
