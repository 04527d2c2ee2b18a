"""A minimal Redshift Serverless backend for the moto server, which moto 5.2.5 does not have at all.

Registered by the `redshift_serverless` patch (demo/moto_patches.py) inside the moto server process only. It answers
the JSON 1.1 operations (`X-Amz-Target: RedshiftServerless.<Operation>`, SigV4 signing name `redshift-serverless`)
that Custody reads and the demo estate seeds, with the shapes of botocore's `redshift-serverless/2021-04-21`
service model (API reference "Amazon Redshift Serverless", actions and data types of the same names):

- CreateNamespace (`namespaceName` required, `tags` [{key, value}], `kmsKeyId`, `dbName`, `adminUsername`) answers
  `{"namespace": Namespace}` with `namespaceArn` `arn:aws:redshift-serverless:<region>:<account>:namespace/<uuid>`,
  `namespaceId`, `status` AVAILABLE, `creationDate` and `kmsKeyId` (the key given, else `AWS_OWNED_KMS_KEY`, as
  the service answers for its default key); a second namespace of the same name: ConflictException;
- ListNamespaces (`maxResults` 1-100, `nextToken`) answers `{"namespaces": [...], "nextToken"?}`;
- CreateSnapshotCopyConfiguration (`namespaceName`, `destinationRegion` required; `snapshotRetentionPeriod`,
  `destinationKmsKeyId`) answers `{"snapshotCopyConfiguration": {...}}` with `snapshotCopyConfigurationId` and
  `snapshotCopyConfigurationArn`; an unknown namespace: ResourceNotFoundException; the namespace's own region as
  destination: ValidationException;
- ListSnapshotCopyConfigurations (`namespaceName` optional: without it, every configuration of the account in the
  region; `maxResults` 1-100, `nextToken`) answers `{"snapshotCopyConfigurations": [...], "nextToken"?}`;
- TagResource / ListTagsForResource (`resourceArn`, `tags` [{key, value}]) answer `{}` / `{"tags": [...]}`; an
  unknown ARN: ResourceNotFoundException.

Simplifications: workgroups, snapshots and the other operations are not implemented (the server answers an error
for them); `nextToken` is the index of the next item; a namespace is AVAILABLE at once.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse

SERVICE = "redshift-serverless"
MODULE = "redshiftserverless"  # moto's name of the service: backends.get_backend imports moto.<MODULE>
MAX_RESULTS = 100
AWS_OWNED_KMS_KEY = "AWS_OWNED_KMS_KEY"  # the namespace's kmsKeyId when no customer managed key is given

url_bases = [r"https?://redshift-serverless\.(.+)\.amazonaws\.com"]


class RedshiftServerlessBackend(BaseBackend):
    """One account's namespaces and snapshot copy configurations in one region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.namespaces: dict[str, dict[str, Any]] = {}  # name -> Namespace
        self.copies: dict[str, dict[str, Any]] = {}  # configuration id -> SnapshotCopyConfiguration
        self.tags: dict[str, dict[str, str]] = {}  # resource ARN -> tags

    @property
    def _url_module(self) -> Any:
        return sys.modules[__name__]

    def create_namespace(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _required(params, "namespaceName")
        if name in self.namespaces:
            raise JsonRESTError("ConflictException", f"Namespace with the name {name} already exists.")
        namespace_id = str(uuid.uuid4())
        namespace = {
            "namespaceArn": f"arn:{self.partition}:{SERVICE}:{self.region_name}:{self.account_id}:namespace/"
                            f"{namespace_id}",
            "namespaceId": namespace_id, "namespaceName": name, "status": "AVAILABLE",
            "creationDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "dbName": params.get("dbName") or "dev", "adminUsername": params.get("adminUsername") or "admin",
            "iamRoles": params.get("iamRoles") or [], "logExports": params.get("logExports") or [],
            "kmsKeyId": params.get("kmsKeyId") or AWS_OWNED_KMS_KEY,
        }
        self.namespaces[name] = namespace
        self.tag_resource(namespace["namespaceArn"], params.get("tags") or [])
        return namespace

    def create_snapshot_copy_configuration(self, params: dict[str, Any]) -> dict[str, Any]:
        name, destination = _required(params, "namespaceName"), _required(params, "destinationRegion")
        namespace = self._namespace(name)
        if destination == self.region_name:
            raise JsonRESTError("ValidationException", "The destination region must differ from the namespace's.")
        copy_id = str(uuid.uuid4())
        copy = {
            "namespaceName": name, "destinationRegion": destination,
            "snapshotCopyConfigurationId": copy_id,
            "snapshotCopyConfigurationArn": f"{namespace['namespaceArn'].split(':namespace/')[0]}"
                                            f":snapshotcopyconfiguration/{copy_id}",
            "snapshotRetentionPeriod": params.get("snapshotRetentionPeriod", -1),
        }
        if params.get("destinationKmsKeyId"):
            copy["destinationKmsKeyId"] = params["destinationKmsKeyId"]
        self.copies[copy_id] = copy
        return copy

    def list_snapshot_copy_configurations(self, name: str | None) -> list[dict[str, Any]]:
        if name is not None:
            self._namespace(name)
        return [copy for copy in self.copies.values() if name is None or copy["namespaceName"] == name]

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        self._known(arn)
        self.tags.setdefault(arn, {}).update({tag["key"]: tag["value"] for tag in tags})

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        self._known(arn)
        return [{"key": key, "value": value} for key, value in self.tags.get(arn, {}).items()]

    def _namespace(self, name: str) -> dict[str, Any]:
        if name not in self.namespaces:
            raise JsonRESTError("ResourceNotFoundException", f"Namespace {name} does not exist.")
        return self.namespaces[name]

    def _known(self, arn: str) -> None:
        if arn not in {namespace["namespaceArn"] for namespace in self.namespaces.values()}:
            raise JsonRESTError("ResourceNotFoundException", f"Resource {arn} does not exist.")


def _required(params: dict[str, Any], name: str) -> Any:
    if not params.get(name):
        raise JsonRESTError("ValidationException", f"1 validation error detected: {name} must not be null")
    return params[name]


redshiftserverless_backends = BackendDict(RedshiftServerlessBackend, SERVICE)


class RedshiftServerlessResponse(BaseResponse):
    """The JSON 1.1 handlers: moto's dispatch calls the method named after the X-Amz-Target operation."""

    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)

    @property
    def backend(self) -> RedshiftServerlessBackend:
        return redshiftserverless_backends[self.current_account][self.region]

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    def create_namespace(self) -> str:
        return json.dumps({"namespace": self.backend.create_namespace(self.params)})

    def list_namespaces(self) -> str:
        items, token = _page(list(self.backend.namespaces.values()), self.params)
        return json.dumps({"namespaces": items, **token})

    def create_snapshot_copy_configuration(self) -> str:
        return json.dumps({"snapshotCopyConfiguration": self.backend.create_snapshot_copy_configuration(self.params)})

    def list_snapshot_copy_configurations(self) -> str:
        copies = self.backend.list_snapshot_copy_configurations(self.params.get("namespaceName"))
        items, token = _page(copies, self.params)
        return json.dumps({"snapshotCopyConfigurations": items, **token})

    def tag_resource(self) -> str:
        self.backend.tag_resource(_required(self.params, "resourceArn"), _required(self.params, "tags"))
        return "{}"

    def list_tags_for_resource(self) -> str:
        return json.dumps({"tags": self.backend.list_tags(_required(self.params, "resourceArn"))})


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of `items` from `nextToken` (an index), at most `maxResults` (1-100, default 100)."""
    size = params.get("maxResults") or MAX_RESULTS
    if not 1 <= size <= MAX_RESULTS:
        raise JsonRESTError("ValidationException", f"maxResults must be between 1 and {MAX_RESULTS}")
    token = params.get("nextToken") or "0"
    if not token.isdigit() or int(token) > len(items):
        raise JsonRESTError("ValidationException", f"Invalid nextToken {token!r}")
    start = int(token)
    end = start + size
    return items[start:end], ({"nextToken": str(end)} if end < len(items) else {})


url_paths = {"{0}/$": RedshiftServerlessResponse.dispatch}
