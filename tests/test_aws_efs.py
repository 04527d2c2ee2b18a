"""EFS file systems (scanner/kinds.py `efs-file-system`): found, their replication destinations located as replicas
in the right countries, and a destination abroad turns a passing file system into a failing one."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_efs_replication
from demo.moto_server import MotoServer
from tests.fault_proxy import DENIED_JSON
from tests.fixtures_aws import control_reach, places, scan_kinds, scan_kinds_denying

REGIONS = ["eu-central-1", "eu-west-1", "sa-east-1"]


def test_efs_replicas_are_found_and_a_copy_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    [eu_source, eu_copy] = seed_efs_replication(clients, MANAGEMENT_ACCOUNT_ID, "payroll-files", "eu-central-1",
                                                "eu-west-1")
    [br_source, br_copy] = seed_efs_replication(clients, MANAGEMENT_ACCOUNT_ID, "hr-files", "eu-central-1",
                                                "sa-east-1")

    result, stores = scan_kinds(tmp_path, ["efs"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} >= {
        ("eu-central-1", "efs", "ok"), ("eu-west-1", "efs", "ok"), ("sa-east-1", "efs", "ok")}
    payroll, hr = stores["payroll-files"], stores["hr-files"]
    assert (payroll.kind, payroll.id, hr.id) == ("efs-file-system", eu_source.id, br_source.id)
    assert places(payroll) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "replica", "IE")}
    assert places(hr) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "replica", "BR")}
    assert {loc.learned_from for loc in hr.locations if loc.role == "replica"} == {
        "DescribeReplicationConfigurations.Destinations.Region"}
    # the destinations EFS created are listed too, as replicas of a primary in Frankfurt
    copy = next(s for s in stores.values() if s.id == br_copy.id)
    assert places(copy) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "replica", "BR")}
    assert stores[eu_copy.name].id == eu_copy.id

    # with what reaches the EU-only file system through AWS's control waived, it passes, and the copy in Brazil
    # alone makes the other one fail
    _, stores = scan_kinds(tmp_path, ["efs"], REGIONS, waive=control_reach(payroll))
    payroll, hr = stores["payroll-files"], stores["hr-files"]
    assert payroll.status == "pass", payroll.findings
    assert hr.status == "fail" and {f.jurisdiction for f in hr.findings if not f.waiver} == {"BR"}


def test_efs_replication_unreadable_is_a_target_not_scanned(tmp_path, moto_patched: MotoServer, aws_env):
    """Denied DescribeReplicationConfigurations: the region's EFS target is denied, never "no file systems"."""
    seed_efs_replication(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "hr-files", "eu-central-1", "us-east-1")
    result, stores, _calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["efs"], REGIONS,
        lambda r: r.service == "elasticfilesystem" and "replication-configurations" in r.path, DENIED_JSON)
    assert result.status == "failed"  # the only kind asked for could not be read: never "no stores"
    efs = {t.region: t.status for t in result.targets if t.service == "efs"}
    assert set(efs.values()) == {"denied"} and "eu-central-1" in efs
    assert "hr-files" not in stores
