"""AWS Backup and S3 Glacier vaults, and the copies AWS Backup makes of the account's other stores.

Registered with `@reader` like the readers of providers/aws_kinds.py (providers/aws.py imports this module). A
backup plan's copy actions and the recovery points in a vault of another region are facts about other stores:
they go to `scan.after_read()` and are applied once the whole account is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from providers.aws_keys import service_owned
from providers.aws_kinds import arn_region, listing, read_all, reader
from scanner.discovered import DiscoveredStore
from scanner.kinds import StoreKind, kind
from scanner.model import TAGS_UNREADABLE

if TYPE_CHECKING:
    from providers.aws import AccountScan

VAULT_LOCK = ("Locked", "MinRetentionDays", "MaxRetentionDays")  # ListBackupVaults' vault lock fields


# -- AWS Backup: vaults, their recovery points, and the copies plans make ---------------------------------
@reader("backup")
def backup_vaults(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    """Each vault of the region, its lock and the stores its recovery points are of; then each plan whose rules copy
    to a vault in another region: every store of this region that one of the plan's selections covers gains a
    backup location in each destination's region."""
    spec = kind("backup-vault")
    client = scan.client(spec.api, region)
    stores = []
    for vault in listing(scan, spec, region):
        tags = client.list_tags(ResourceArn=vault["BackupVaultArn"]).get("Tags") or {}
        store = scan.store(vault["BackupVaultArn"], spec.kind, vault["BackupVaultName"], region, dict(tags))
        store.add_location(region, "primary", "ListBackupVaults.BackupVaultArn")
        store.encryption = scan.keys.facts("KMS", vault.get("EncryptionKeyArn"), region,
                                           "ListBackupVaults.EncryptionKeyArn")
        store.attributes["vault_lock"] = vault_lock(vault)
        _recovery_points(scan, spec, vault, region)
        stores.append(store)
    for plan in read_all(scan, spec.api, "ListBackupPlans", "BackupPlansList", region):
        rules = client.get_backup_plan(BackupPlanId=plan["BackupPlanId"])["BackupPlan"].get("Rules", [])
        destinations = {action["DestinationBackupVaultArn"] for rule in rules for action in rule.get("CopyActions", [])
                        if arn_region(action.get("DestinationBackupVaultArn", "")) not in (None, region)}
        if not destinations:
            continue
        for member in read_all(scan, spec.api, "ListBackupSelections", "BackupSelectionsList", region,
                               BackupPlanId=plan["BackupPlanId"]):
            selection = client.get_backup_selection(BackupPlanId=plan["BackupPlanId"],
                                                    SelectionId=member["SelectionId"])["BackupSelection"]
            scan.after_read(PlanCopies(scan.account.id, region, plan.get("BackupPlanName", plan["BackupPlanId"]),
                                       selection, tuple(sorted(destinations))))
    return stores


@dataclass(frozen=True)
class PlanCopies:
    """A backup plan's selection and the vaults in other regions its rules copy recovery points to."""

    account: str
    region: str  # the plan's region: AWS Backup backs up resources of its own region
    plan: str
    selection: dict[str, Any]
    destinations: tuple[str, ...]  # destination vault ARNs

    def apply(self, stores: list[DiscoveredStore]) -> None:
        for store in stores:
            if store.region != self.region or store.kind == "backup-vault":
                continue
            covered = selection_covers(self.selection, store)
            if covered is None:
                store.unknowns.append(f"AWS Backup plan {self.plan} selects by tags, which are unreadable: "
                                      "whether its copies in other regions include this store is unknown")
            elif covered:
                for vault in self.destinations:
                    other = arn_account(vault)
                    where = f" (account {other})" if other and other != self.account else ""
                    store.add_location(arn_region(vault) or "unknown", "backup",
                                       f"GetBackupPlan.Rules.CopyActions.DestinationBackupVaultArn{where} "
                                       f"(plan {self.plan}, selection {self.selection.get('SelectionName', '?')})")


def selection_covers(selection: dict[str, Any], store: DiscoveredStore) -> bool | None:
    """Whether a BackupSelection assigns the store to its plan (None: it selects by tags the store's are unknown).

    As the BackupSelection reference says: a resource is selected when its ARN matches one of `Resources` (`*`
    wildcards) or one of `ListOfTags` holds (OR); then every `Conditions` entry must hold (AND), and no
    `NotResources` may match."""
    by_arn = any(fnmatchcase(store.id, pattern) for pattern in selection.get("Resources") or [])
    tag_tests = [(cond.get("ConditionKey", ""), cond.get("ConditionValue", ""), "StringEquals")
                 for cond in selection.get("ListOfTags") or []]
    conditions = [(cond.get("ConditionKey", "").removeprefix("aws:ResourceTag/"), cond.get("ConditionValue", ""), op)
                  for op, listed in (selection.get("Conditions") or {}).items() for cond in listed or []]
    if ((tag_tests and not by_arn) or conditions) and any(u.startswith(TAGS_UNREADABLE) for u in store.unknowns):
        return None
    selected = by_arn or any(_tag_holds(store.tags, *test) for test in tag_tests)
    return (selected and all(_tag_holds(store.tags, *condition) for condition in conditions)
            and not any(fnmatchcase(store.id, pattern) for pattern in selection.get("NotResources") or []))


def _tag_holds(tags: dict[str, str], key: str, value: str, operator: str) -> bool:
    present = key in tags
    matches = {"StringEquals": present and tags[key] == value, "StringLike": present and fnmatchcase(tags[key], value)}
    negated = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike"}
    return not matches[negated[operator]] if operator in negated else matches.get(operator, False)


def arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4] else None


def vault_lock(vault: dict[str, Any]) -> dict[str, Any]:
    """AWS Backup Vault Lock as ListBackupVaults reports it (the same fields as DescribeBackupVault): whether the
    vault is locked (its recovery points cannot be deleted early), its retention bounds and when the lock became
    immutable (LockDate; none: still in governance mode or unlocked)."""
    lock: dict[str, Any] = {field: vault[field] for field in VAULT_LOCK if vault.get(field) is not None}
    lock["Locked"] = bool(vault.get("Locked"))
    if vault.get("LockDate") is not None:
        date = vault["LockDate"]
        lock["LockDate"] = date.isoformat() if hasattr(date, "isoformat") else str(date)
    lock["learned_from"] = "ListBackupVaults (Locked, MinRetentionDays, MaxRetentionDays, LockDate)"
    return lock


def _recovery_points(scan: AccountScan, spec: StoreKind, vault: dict[str, Any], region: str) -> None:
    """The stores the vault's recovery points are of: those inventoried in another region gain a backup copy here
    (a plan's copy action or an on-demand copy job put it in this vault)."""
    resources = {point["ResourceArn"] for point in read_all(
        scan, spec.api, "ListRecoveryPointsByBackupVault", "RecoveryPoints", region,
        BackupVaultName=vault["BackupVaultName"]) if point.get("ResourceArn")}
    if not resources:
        return
    fact = RecoveryPointCopies(vault["BackupVaultArn"], region, tuple(sorted(resources)))
    scan.after_read(fact)
    if any(arn_account(resource) != scan.account.id for resource in resources):  # S3 bucket ARNs name no account
        scan.provider.across_accounts(fact)


@dataclass(frozen=True)
class RecoveryPointCopies:
    """A vault's recovery points: each store they are of, when it lives in another region, has a backup copy in the
    vault's region."""

    vault: str  # the vault's ARN
    region: str
    resources: tuple[str, ...]  # the recovery points' ResourceArn

    def apply(self, stores: list[DiscoveredStore]) -> None:
        by_id = {store.id: store for store in stores}
        for resource in self.resources:
            store = by_id.get(resource)
            if store is not None and store.region != self.region:
                owner = arn_account(self.vault)
                where = f", account {owner}" if owner and owner != store.account else ""
                store.add_location(self.region, "backup", "ListRecoveryPointsByBackupVault.ResourceArn "
                                   f"(vault {self.vault.rsplit(':', 1)[-1]}{where})")


# -- S3 Glacier vaults (the original Glacier API, not the S3 storage classes) ------------------------------
@reader("glacier")
def glacier_vaults(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    """Each vault of the region (ListVaults for the caller's account, `-`), with its tags; Glacier keeps a vault's
    archives in its region and encrypts them with keys it manages."""
    spec = kind("glacier-vault")
    client = scan.client(spec.api, region)
    stores = []
    for vault in listing(scan, spec, region, accountId="-"):
        tags = client.list_tags_for_vault(accountId="-", vaultName=vault["VaultName"]).get("Tags") or {}
        store = scan.store(vault["VaultARN"], spec.kind, vault["VaultName"], region, dict(tags))
        store.add_location(region, "primary", "ListVaults.VaultARN")
        store.encryption = service_owned("AES-256, keys managed by S3 Glacier",
                                         "S3 Glacier encrypts every archive server-side (no customer key)", region)
        stores.append(store)
    return stores
