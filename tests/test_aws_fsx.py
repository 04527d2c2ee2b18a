"""FSx file systems (scanner/kinds.py `fsx-file-system`): found, their backups copied to other regions located as
backups in the right countries, a backup copy abroad turns a passing file system into a failing one, and backups
that cannot be read make the region's FSx target not scanned."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_fsx_backup_copy
from demo.moto_server import MotoServer
from tests.fault_proxy import DENIED_JSON
from tests.fixtures_aws import control_reach, places, scan_kinds, scan_kinds_denying

REGIONS = ["eu-central-1", "eu-west-1", "sa-east-1"]


def test_fsx_backup_copies_are_backups_and_a_copy_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    eu = seed_fsx_backup_copy(clients, MANAGEMENT_ACCOUNT_ID, "payroll-fsx", "eu-central-1", "eu-west-1")
    br = seed_fsx_backup_copy(clients, MANAGEMENT_ACCOUNT_ID, "designs-fsx", "eu-central-1", "sa-east-1")
    local = seed_fsx_backup_copy(clients, MANAGEMENT_ACCOUNT_ID, "scratch-fsx", "eu-west-1", None)

    result, stores = scan_kinds(tmp_path, ["fsx"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {(r, "fsx", "ok") for r in REGIONS}
    payroll, designs, scratch = stores["payroll-fsx"], stores["designs-fsx"], stores["scratch-fsx"]
    assert (payroll.kind, payroll.id, designs.id, scratch.id) == ("fsx-file-system", eu.id, br.id, local.id)
    assert places(payroll) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "backup", "IE")}
    assert places(designs) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "backup", "BR")}
    assert places(scratch) == {("eu-west-1", "primary", "IE")}  # its backup is in its own region
    [copy] = [loc.learned_from for loc in designs.locations if loc.role == "backup"]
    assert copy.startswith("DescribeBackups.SourceBackupRegion") and "from eu-central-1" in copy
    assert payroll.tags["data-class"] == "personal"

    # with what reaches the EU-only file system through AWS's control waived, it passes, and the backup copied to
    # Brazil alone makes the other one fail
    _, stores = scan_kinds(tmp_path, ["fsx"], REGIONS, waive=control_reach(payroll))
    payroll, designs = stores["payroll-fsx"], stores["designs-fsx"]
    assert payroll.status == "pass", payroll.findings
    assert designs.status == "fail" and {f.jurisdiction for f in designs.findings if not f.waiver} == {"BR"}


def test_fsx_backups_unreadable_is_a_target_not_scanned(tmp_path, moto_patched: MotoServer, aws_env):
    """Denied DescribeBackups: the region's FSx target is denied, never "no file systems"."""
    seed_fsx_backup_copy(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "designs-fsx", "eu-central-1", "sa-east-1")
    result, stores, _calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["fsx"], REGIONS,
        lambda r: r.service == "fsx" and (r.target or "").endswith(".DescribeBackups"), DENIED_JSON)
    assert result.status == "failed"  # the only kind asked for could not be read: never "no stores"
    fsx = {t.region: t.status for t in result.targets if t.service == "fsx"}
    assert set(fsx.values()) == {"denied"} and set(fsx) == set(REGIONS)
    assert "designs-fsx" not in stores
