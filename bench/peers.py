"""The peers, run against the same moto server as Custody: Cloud Custodian and Prowler, each from its own venv.

Install them once, outside the project (they pin other boto3 versions):

    python3 -m venv /tmp/peer-c7n && /tmp/peer-c7n/bin/pip install c7n            # c7n 0.9.53 measured
    python3 -m venv /tmp/peer-prowler && /tmp/peer-prowler/bin/pip install prowler  # prowler 5.46.0 measured

The commands are each tool's plain S3 inventory: c7n's default `aws.s3` resource, Prowler with one S3
check (it reads every bucket's attributes whatever check is picked). Both honour AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

C7N_POLICY = "policies:\n  - name: s3-inventory\n    resource: aws.s3\n"


@dataclass(frozen=True)
class Peer:
    name: str
    venv: Path

    @property
    def installed(self) -> bool:
        return (self.venv / "bin" / self.executable).exists()

    @property
    def executable(self) -> str:
        return "custodian" if self.name == "c7n" else "prowler"

    def command(self, workdir: Path) -> list[str]:
        exe = str(self.venv / "bin" / self.executable)
        if self.name == "c7n":
            (workdir / "policy.yml").write_text(C7N_POLICY, encoding="utf-8")
            return [exe, "run", "-s", str(workdir / "out"), "--region", "us-east-1", "--cache-period", "0",
                    str(workdir / "policy.yml")]
        return [exe, "aws", "--check", "s3_bucket_object_versioning", "--no-banner", "--no-color",
                "--ignore-exit-code-3", "-M", "csv", "json-ocsf", "-o", str(workdir / "out"), "-F", "scan"]

    def env(self, endpoint: str, workdir: Path) -> dict[str, str]:
        return {"PATH": f"{self.venv / 'bin'}:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                "AWS_CONFIG_FILE": str(workdir / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "none"),
                "AWS_EC2_METADATA_DISABLED": "true"}

    def found(self, workdir: Path, manifest: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
        """name -> (region, replica regions or None, tags or None) as the peer reported them."""
        return _c7n_found(workdir, manifest) if self.name == "c7n" else _prowler_found(workdir)


def _region(constraint: str | None) -> str | None:
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)


def _c7n_found(workdir: Path, manifest: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
    path = workdir / "out" / "s3-inventory" / "resources.json"
    if not path.exists():
        return {}
    found = {}
    for bucket in json.loads(path.read_text(encoding="utf-8")):
        region = _region((bucket.get("Location") or {}).get("LocationConstraint"))
        rules = ((bucket.get("Replication") or {}).get("ReplicationConfiguration") or {}).get("Rules", [])
        targets = {rule.get("Destination", {}).get("Bucket", "").split(":::")[-1] for rule in rules}
        replicas = {manifest[t]["region"] for t in targets if t in manifest} - {region}
        tags = {t["Key"]: t["Value"] for t in bucket.get("Tags") or []}
        found[bucket["Name"]] = (region, replicas, tags)
    return found


def _prowler_found(workdir: Path) -> dict[str, tuple[Any, Any, Any]]:
    files = sorted((workdir / "out").glob("*.csv")) if (workdir / "out").exists() else []
    found: dict[str, tuple[Any, Any, Any]] = {}
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                name = row.get("RESOURCE_NAME") or row.get("RESOURCE_UID", "").split(":::")[-1]
                if name:
                    found[name] = (row.get("REGION"), None, None)  # Prowler's CSV has no replicas or tags
    return found


def peers(c7n_venv: str, prowler_venv: str) -> list[Peer]:
    return [Peer("c7n", Path(os.path.expanduser(c7n_venv))), Peer("prowler", Path(os.path.expanduser(prowler_venv)))]
