"""AWS Backup (scanner/kinds.py `backup-vault`): vaults are found, and a backup plan whose rules copy recovery points
to a vault in another region gives every store its selections cover a `backup` location there, in the right
country; a plan copying abroad turns a passing store into a failing one. Recovery points in a vault of another
region (a copy job's, in this account or another account of the organization) are backup copies of their store
there; a denied ListRecoveryPointsByBackupVault leaves the vault's region not scanned."""

from __future__ import annotations

import pytest
import yaml

from demo.aws_estate import (
    MANAGEMENT_ACCOUNT_ID,
    Clients,
    assume_member,
    create_organization,
    seed_backup_plan,
    seed_recovery_point_copy,
)
from demo.moto_server import MotoServer
from providers.aws_vaults import PlanCopies, selection_covers
from providers.base import tags_unreadable
from runtime.cli import prepare, scan_once
from scanner.discovered import DiscoveredStore
from tests.fault_proxy import DENIED_JSON, operation_name
from tests.fixtures_aws import control_reach, places, scan_kinds, scan_kinds_denying

REGIONS = ["eu-central-1", "eu-west-1", "sa-east-1"]
TABLE_ARN = f"arn:aws:dynamodb:eu-central-1:{MANAGEMENT_ACCOUNT_ID}:table/"


def create_table(clients: Clients, name: str, tags: dict[str, str]) -> None:
    clients("dynamodb", "eu-central-1").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()])


def test_backup_plan_copies_are_backup_locations_and_a_copy_abroad_fails(tmp_path, moto_patched: MotoServer,
                                                                          aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    create_table(clients, "ledger-eu", {"backup": "eu-only"})
    create_table(clients, "ledger-br", {"backup": "nightly"})
    create_table(clients, "scratch", {"backup": "nightly"})
    # plan 1 selects by tag and copies to Ireland; plan 2 selects every table but two and copies to Brazil
    vaults = seed_backup_plan(clients, MANAGEMENT_ACCOUNT_ID, "eu-plan", "eu-central-1", "vault-fra-1", "eu-west-1",
                              "vault-dub", {"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup",
                                                            "ConditionValue": "eu-only"}]})
    vaults += seed_backup_plan(clients, MANAGEMENT_ACCOUNT_ID, "br-plan", "eu-central-1", "vault-fra-2", "sa-east-1",
                               "vault-gru", {"Resources": ["arn:aws:dynamodb:*:*:table/*"],
                                             "NotResources": [f"{TABLE_ARN}ledger-eu", f"{TABLE_ARN}scratch"]})

    result, stores = scan_kinds(tmp_path, ["dynamodb", "backup"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} >= {
        (region, "backup", "ok") for region in REGIONS}
    assert {(stores[v.name].kind, stores[v.name].id) for v in vaults} == {("backup-vault", v.id) for v in vaults}
    assert places(stores["vault-gru"]) == {("sa-east-1", "primary", "BR")}
    assert stores["vault-gru"].tags == {"env": "prod"}
    eu, br, scratch = stores["ledger-eu"], stores["ledger-br"], stores["scratch"]
    assert places(eu) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "backup", "IE")}
    assert places(br) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "backup", "BR")}
    assert places(scratch) == {("eu-central-1", "primary", "DE")}  # excluded by NotResources
    [learned] = [loc.learned_from for loc in br.locations if loc.role == "backup"]
    assert learned.startswith("GetBackupPlan.Rules.CopyActions.DestinationBackupVaultArn") and "br-plan" in learned

    # with what reaches the EU-only table through AWS's control waived, it passes, and the backup copies in
    # Brazil alone make the other one fail
    _, stores = scan_kinds(tmp_path, ["dynamodb", "backup"], REGIONS, waive=control_reach(eu))
    eu, br = stores["ledger-eu"], stores["ledger-br"]
    assert eu.status == "pass", eu.findings
    assert br.status == "fail" and {f.jurisdiction for f in br.findings if not f.waiver} == {"BR"}


def test_without_the_backup_service_no_backup_locations_are_claimed(tmp_path, moto_patched: MotoServer, aws_env):
    """AWS Backup not scanned: the table shows only where it is; the kind table says what is not seen."""
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    create_table(clients, "ledger-br", {})
    seed_backup_plan(clients, MANAGEMENT_ACCOUNT_ID, "br-plan", "eu-central-1", "vault-fra", "sa-east-1", "vault-gru",
                     {"Resources": ["*"]})
    result, stores = scan_kinds(tmp_path, ["dynamodb"], REGIONS)
    assert result.status == "complete" and "vault-gru" not in stores
    assert places(stores["ledger-br"]) == {("eu-central-1", "primary", "DE")}
    _, stores = scan_kinds(tmp_path, ["dynamodb", "backup"], REGIONS)
    assert places(stores["ledger-br"]) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "backup", "BR")}


def _table(name: str, tags: dict[str, str], unknowns: list[str] | None = None) -> DiscoveredStore:
    return DiscoveredStore(f"{TABLE_ARN}{name}", "aws", MANAGEMENT_ACCOUNT_ID, "dynamodb-table", name,
                           "eu-central-1", tags, unknowns=unknowns or [])


@pytest.mark.parametrize(("selection", "covered"), [
    ({"Resources": ["*"], "Conditions": {"StringLike": [{"ConditionKey": "aws:ResourceTag/env",
                                                         "ConditionValue": "pro*"}]}}, {"prod"}),
    ({"Resources": ["*"], "Conditions": {"StringNotEquals": [{"ConditionKey": "aws:ResourceTag/env",
                                                              "ConditionValue": "prod"}]}}, {"dev", "untagged"}),
    ({"Resources": ["*"], "Conditions": {"StringNotLike": [{"ConditionKey": "aws:ResourceTag/env",
                                                            "ConditionValue": "*"}]}}, {"untagged"}),
    ({"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "env", "ConditionValue": "dev"}],
      "Resources": [f"{TABLE_ARN}prod"]}, {"prod", "dev"}),  # ARNs OR tags
    ({"Resources": [f"{TABLE_ARN}*"], "NotResources": [f"{TABLE_ARN}d*"]}, {"prod", "untagged"}),
])
def test_selection_covers_as_the_backup_selection_reference_says(selection, covered):
    tables = [_table("prod", {"env": "prod"}), _table("dev", {"env": "dev"}), _table("untagged", {})]
    assert {t.name for t in tables if selection_covers(selection, t)} == covered


def test_a_tag_selection_over_unreadable_tags_is_unknown_never_assumed():
    unreadable = _table("secret", {}, [tags_unreadable("AccessDenied")])
    by_tags = {"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "env", "ConditionValue": "prod"}]}
    assert selection_covers(by_tags, unreadable) is None
    assert selection_covers({"Resources": [f"{TABLE_ARN}secret"]}, unreadable) is True  # by ARN: tags not needed
    plan = PlanCopies(MANAGEMENT_ACCOUNT_ID, "eu-central-1", "nightly", by_tags,
                      ("arn:aws:backup:sa-east-1:111111111111:backup-vault:dr",))
    plan.apply([unreadable])
    assert [loc.region for loc in unreadable.locations] == []
    assert any("AWS Backup plan nightly selects by tags" in u for u in unreadable.unknowns)
    covered = _table("prod", {"env": "prod"})
    plan.apply([covered])
    [copy] = covered.locations
    assert (copy.region, copy.role) == ("sa-east-1", "backup") and "(account 111111111111)" in copy.learned_from


def test_recovery_points_copied_to_another_region_are_backup_copies(tmp_path, moto_patched: MotoServer, aws_env):
    """On-demand copy jobs (no plan): a vault in another region holding a table's recovery point is a backup copy
    of the table there; a copy in Brazil fails the table, one in Ireland does not. The vault's lock is recorded."""
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    create_table(clients, "ledger-eu", {})
    create_table(clients, "ledger-br", {})
    seed_recovery_point_copy(clients, MANAGEMENT_ACCOUNT_ID, f"{TABLE_ARN}ledger-eu", "eu-central-1", "vault-fra",
                             "eu-west-1", "vault-dub")
    seed_recovery_point_copy(clients, MANAGEMENT_ACCOUNT_ID, f"{TABLE_ARN}ledger-br", "eu-central-1", "vault-fra-2",
                             "sa-east-1", "vault-gru")
    clients("backup", "sa-east-1").put_backup_vault_lock_configuration(
        BackupVaultName="vault-gru", MinRetentionDays=7, MaxRetentionDays=365)

    result, stores = scan_kinds(tmp_path, ["dynamodb", "backup"], REGIONS)

    assert result.status == "complete"
    eu, br = stores["ledger-eu"], stores["ledger-br"]
    assert places(eu) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "backup", "IE")}
    assert places(br) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "backup", "BR")}
    [learned] = [loc.learned_from for loc in br.locations if loc.role == "backup"]
    assert learned == "ListRecoveryPointsByBackupVault.ResourceArn (vault vault-gru)"
    lock = stores["vault-gru"].to_dict()["attributes"]["vault_lock"]  # in the report's JSON
    assert (lock["Locked"], lock["MinRetentionDays"], lock["MaxRetentionDays"]) == (True, 7, 365)
    assert stores["vault-dub"].attributes["vault_lock"]["Locked"] is False

    _, stores = scan_kinds(tmp_path, ["dynamodb", "backup"], REGIONS, waive=control_reach(eu))
    eu, br = stores["ledger-eu"], stores["ledger-br"]
    assert eu.status == "pass", eu.findings
    assert br.status == "fail" and {f.jurisdiction for f in br.findings if not f.waiver} == {"BR"}


def test_unreadable_recovery_points_leave_the_vaults_region_not_scanned(tmp_path, moto_patched: MotoServer,
                                                                          aws_env):
    """Denied ListRecoveryPointsByBackupVault in Brazil: that region's backup target is denied (its vault is not
    reported) and the table shows no copy there, never a certain "no copies" from a complete scan."""
    clients = Clients(moto_patched.url)
    create_table(clients, "ledger-br", {})
    seed_recovery_point_copy(clients, MANAGEMENT_ACCOUNT_ID, f"{TABLE_ARN}ledger-br", "eu-central-1", "vault-fra",
                             "sa-east-1", "vault-gru")
    result, stores, _calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["dynamodb", "backup"], REGIONS,
        lambda r: operation_name(r) == "backup:ListRecoveryPointsByBackupVault" and r.region == "sa-east-1",
        DENIED_JSON)
    assert result.status == "partial"
    assert ("sa-east-1", "backup", "denied") in {(t.region, t.service, t.status) for t in result.targets}
    assert "vault-gru" not in stores and "vault-fra" in stores


def test_a_recovery_point_copied_into_another_accounts_vault_is_a_copy_of_the_store(tmp_path, moto_patched: MotoServer,
                                                                                     aws_env):
    """An organization: a member's table backed up in its own account, the recovery point copied into a vault of the
    management account in Brazil (a cross-account copy job): the member's table has a backup copy in Brazil."""
    aws_env(moto_patched)
    management = Clients(moto_patched.url)
    _, members = create_organization(management)
    member_id = members["acme-prod-eu"]
    member = assume_member(moto_patched.url, member_id)
    create_table(member, "ledger", {})
    member("backup", "eu-central-1").create_backup_vault(BackupVaultName="vault-fra")
    management("backup", "sa-east-1").create_backup_vault(BackupVaultName="vault-gru")
    role = f"arn:aws:iam::{member_id}:role/backup"
    point = member("backup", "eu-central-1").start_backup_job(
        BackupVaultName="vault-fra", ResourceArn=f"arn:aws:dynamodb:eu-central-1:{member_id}:table/ledger",
        IamRoleArn=role)
    member("backup", "eu-central-1").start_copy_job(
        RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName="vault-fra", IamRoleArn=role,
        DestinationBackupVaultArn=f"arn:aws:backup:sa-east-1:{MANAGEMENT_ACCOUNT_ID}:backup-vault:vault-gru")
    config = tmp_path / "org.yaml"
    config.write_text(yaml.safe_dump({"home": "EU", "providers": {"aws": {
        "organization": True, "services": ["dynamodb", "backup"], "regions": REGIONS, "max_attempts": 1}}}))

    result, stores = scan_once(prepare(str(config), []), state=None)

    with stores:
        found = {(store.account, store.name): store for store in stores}
    assert result.status == "complete"
    ledger = found[(member_id, "ledger")]
    assert places(ledger) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "backup", "BR")}
    [learned] = [loc.learned_from for loc in ledger.locations if loc.role == "backup"]
    assert learned == ("ListRecoveryPointsByBackupVault.ResourceArn "
                       f"(vault vault-gru, account {MANAGEMENT_ACCOUNT_ID})")
