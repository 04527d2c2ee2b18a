"""The published least-privilege roles, generated from the registry of store kinds (scanner/kinds.py).

`python scripts/generate_from_kinds.py` rewrites the permission lists of deploy/aws-iam-policy.json,
deploy/azure-role.json and deploy/gcp-role.yaml from `scanner.kinds.permissions(cloud)` and keeps everything
else in those files (names, descriptions, comments, the AssumeRole statement's resource). tests/test_least_privilege.py
checks that the committed files are what this renders, and that the scanner's recorded calls need exactly them.
"""

from __future__ import annotations

import json
from pathlib import Path

from scanner.kinds import CLOUDS, permissions

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ROLE_FILES = {"aws": DEPLOY / "aws-iam-policy.json", "azure": DEPLOY / "azure-role.json",
              "gcp": DEPLOY / "gcp-role.yaml"}
AWS_ASSUME_ROLE = "sts:AssumeRole"  # its own statement, scoped to the scanner's role in member accounts
GCP_LIST_KEY = "includedPermissions:"


def render(cloud: str, current: str) -> str:
    """The role file's text with its permission list taken from the registry; `current`: the file as committed."""
    needed = list(permissions(cloud))
    if cloud == "aws":
        policy = json.loads(current)
        policy["Statement"][0]["Action"] = [p for p in needed if p != AWS_ASSUME_ROLE]
        return json.dumps(policy, indent=2) + "\n"
    if cloud == "azure":
        role = json.loads(current)
        role["Actions"] = needed
        return json.dumps(role, indent=2) + "\n"
    head = current.split(GCP_LIST_KEY, 1)[0]
    return head + GCP_LIST_KEY + "\n" + "".join(f"  - {permission}\n" for permission in needed)


def generate(check: bool = False) -> list[str]:
    """Rewrite each role file (or, with `check`, only report it): the files that differed from the registry."""
    stale = []
    for cloud in CLOUDS:
        path = ROLE_FILES[cloud]
        current = path.read_text()
        wanted = render(cloud, current)
        if wanted != current:
            stale.append(str(path))
            if not check:
                path.write_text(wanted)
    return stale
