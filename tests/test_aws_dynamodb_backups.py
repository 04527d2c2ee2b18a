"""DynamoDB on-demand backups and point-in-time recovery (scanner/kinds.py `dynamodb-table`): each is a `backup`
copy in the table's own region, beside its primary, saying how it was learned; an unreadable ListBackups or
DescribeContinuousBackups leaves the region's DynamoDB target not scanned, never a table without backups."""

from __future__ import annotations

import pytest

from demo.aws_estate import Clients, seed_table_backups
from demo.moto_server import MotoServer
from tests.fault_proxy import DENIED_JSON
from tests.fixtures_aws import places, scan_kinds, scan_kinds_denying
from tests.test_aws_backup import create_table

REGIONS = ["eu-central-1", "sa-east-1"]


def test_backups_and_pitr_are_backup_copies_in_the_tables_region(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    for name in ("orders", "sessions", "scratch"):
        create_table(clients, name, {})
    seed_table_backups(clients, "orders", "eu-central-1", on_demand=2, pitr=True)
    seed_table_backups(clients, "sessions", "eu-central-1", on_demand=0, pitr=True)

    result, stores = scan_kinds(tmp_path, ["dynamodb"], REGIONS)

    assert result.status == "complete"
    orders, sessions, scratch = stores["orders"], stores["sessions"], stores["scratch"]
    assert places(orders) == {("eu-central-1", "primary", "DE"), ("eu-central-1", "backup", "DE")}
    [learned] = [loc.learned_from for loc in orders.locations if loc.role == "backup"]
    assert "ListBackups.BackupSummaries (2 backups)" in learned and "PITR enabled" in learned
    [learned] = [loc.learned_from for loc in sessions.locations if loc.role == "backup"]
    assert learned == "DescribeContinuousBackups.PointInTimeRecoveryDescription (PITR enabled)"
    assert places(scratch) == {("eu-central-1", "primary", "DE")}


@pytest.mark.parametrize("operation", ["ListBackups", "DescribeContinuousBackups"])
def test_unreadable_backups_leave_the_target_not_scanned(tmp_path, moto_patched: MotoServer, aws_env, operation):
    clients = Clients(moto_patched.url)
    create_table(clients, "orders", {})
    seed_table_backups(clients, "orders", "eu-central-1")
    result, stores, _calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["dynamodb"], ["eu-central-1"],
        lambda r: r.service == "dynamodb" and (r.target or "").endswith(f".{operation}"), DENIED_JSON)
    assert result.status == "failed"  # never "no stores", never a table without backups
    assert {(t.region, t.service, t.status) for t in result.targets} == {("eu-central-1", "dynamodb", "denied")}
    assert "orders" not in stores
