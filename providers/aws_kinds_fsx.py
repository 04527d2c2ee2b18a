"""The reader of FSx file systems and their backups (scanner/kinds.py `fsx-file-system`).

A file system's backups are listed by DescribeBackups in the region that holds them: a backup made there, or a
copy (CopyBackup) brought from another region, which names its source region in `SourceBackupRegion`. Every backup
carries its file system's metadata (`Backup.FileSystem`, kept even once the file system is deleted), so a region's
backups are matched to their file system by its ARN once the whole account is read (`scan.after_read`): the file
system gains a `backup` location in each region that holds one of its backups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from providers.aws_kinds import listing, read_all, reader, tag_list
from scanner.discovered import DiscoveredStore
from scanner.kinds import kind

if TYPE_CHECKING:
    from providers.aws import AccountScan

GONE = {"DELETED", "FAILED"}  # Backup.Lifecycle of a backup that holds no data


@reader("fsx")
def fsx_file_systems(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    spec = kind("fsx-file-system")
    stores = []
    for item in listing(scan, spec, region):
        tags = tag_list(item.get("Tags"))
        store = scan.store(item["ResourceARN"], spec.kind, tags.get("Name") or item["FileSystemId"], region, tags)
        store.add_location(region, "primary", "DescribeFileSystems.ResourceARN")
        stores.append(store)
    backups = tuple(_backup_place(backup, region)
                    for backup in read_all(scan, spec.api, spec.detail_calls[0].operation, "Backups", region)
                    if backup.get("Lifecycle") not in GONE and (backup.get("FileSystem") or {}).get("ResourceARN"))
    if backups:
        scan.after_read(FsxBackups(region, backups))
    return stores


def _backup_place(backup: dict[str, Any], region: str) -> tuple[str, str]:
    """(the backed-up file system's ARN, how the backup was learned)."""
    source = backup.get("SourceBackupRegion")
    copied = source and source != region
    learned = (f"DescribeBackups.SourceBackupRegion (copy {backup['BackupId']} of {backup.get('SourceBackupId')} "
               f"from {source})" if copied else f"DescribeBackups.FileSystem (backup {backup['BackupId']})")
    return backup["FileSystem"]["ResourceARN"], learned


@dataclass(frozen=True)
class FsxBackups:
    """The backups one region holds: each file system of the account they back up gains a backup location there."""

    region: str
    backups: tuple[tuple[str, str], ...]  # (file system ARN, learned from)

    def apply(self, stores: list[DiscoveredStore]) -> None:
        by_id = {store.id: store for store in stores if store.kind == "fsx-file-system"}
        for file_system, learned_from in self.backups:
            store = by_id.get(file_system)
            if store is not None:
                store.add_location(self.region, "backup", learned_from)
