"""AWS Config aggregator reads moto 5.2.5 lacks, answered from moto's own resources (patch `config_aggregator_query`,
installed by demo/moto_patches.py inside the moto server process).

- `SelectAggregateResourceConfig` (AWS Config API reference): request `Expression`, `ConfigurationAggregatorName`,
  `Limit` (at most 100; 0 or absent: 100 here), `NextToken`; response `Results` (each a JSON string of the selected
  fields), `QueryInfo.SelectFields` ([{Name}]) and `NextToken`. The SQL subset is the one Custody sends:
  `SELECT f1, f2, ... WHERE resourceType = 'T'` or `resourceType IN ('T1', 'T2')`, optionally `AND accountId = 'A'`
  and `AND awsRegion = 'R'`; anything else is `InvalidExpressionException`.
- `DescribeConfigurationAggregatorSourcesStatus`: request `ConfigurationAggregatorName`, `UpdateStatus`, `Limit`
  (at most 1000), `NextToken`; response `AggregatedSourceStatusList` ([{SourceId, SourceType, AwsRegion,
  LastUpdateStatus, LastUpdateTime, LastErrorCode, LastErrorMessage}]) and `NextToken`.

What the aggregator covers: an organization source covers every ACTIVE account of the aggregator account's
organization; an account source its `AccountIds`; in `AwsRegions`, or with `AllAwsRegions` every region botocore
lists for Config. An account source other than the aggregator's own account must have authorized the aggregator
(PutAggregationAuthorization in that account and region, as the Config developer guide requires); without it the
source's status is FAILED and its resources are not returned. Organization sources need no authorization.

The items (resource types `AWS::S3::Bucket`, `AWS::DynamoDB::Table`, `AWS::RDS::DBInstance`, `AWS::RDS::DBCluster`,
`AWS::KMS::Key`) are built the way Config documents its configuration items: `configuration` is the service's
Describe output for the resource with lowerCamelCase keys (serialized by moto and parsed by botocore, so it is what
a client of that Describe call sees), S3's item is moto's (with the replication and encryption patches),
`tags` a list of {key, value, tag}. Verified only against the documentation (no real AWS here): the key case of
`configuration`, the `tags` shape, the ordering of results (here: account, region, type, id), the token format, and
the error code of an unauthorized source (here `LastErrorCode` "AccessDeniedException"). A query's results are
computed on its first page and kept for its NextToken pages (the last few queries only). Simplifications: a source
is SUCCEEDED or FAILED (never OUTDATED), and every item's `configurationItemCaptureTime` is the query's time.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

MAX_SELECT_LIMIT = 100
MAX_STATUS_LIMIT = 1000
_TOKEN_MARK = "custody-agg1:"
KEPT_QUERIES = 8
_QUERIES: dict[str, list[dict[str, Any]]] = {}  # query id -> its results, for its NextToken pages
_SELECT = re.compile(r"^\s*SELECT\s+(?P<fields>.+?)\s+WHERE\s+(?P<where>.+?)\s*$", re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(
    r"^\s*(?P<field>resourceType|accountId|awsRegion)\s*(?:=\s*'(?P<one>[^']*)'|IN\s*\((?P<many>[^)]*)\))\s*$",
    re.IGNORECASE)
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


# -- the request handlers (methods of moto's ConfigResponse) ------------------------------------------------------
def select_aggregate_resource_config(response: Any) -> str:
    params = json.loads(response.body or "{}")
    aggregator = _aggregator(response, params.get("ConfigurationAggregatorName"))
    fields, conditions = parse_expression(params.get("Expression") or "")
    limit = _limit(params.get("Limit") or params.get("MaxResults"), MAX_SELECT_LIMIT)
    query, start = _position(params.get("NextToken"))
    if query not in _QUERIES:
        _QUERIES[query] = _items(response, aggregator, conditions)
        while len(_QUERIES) > KEPT_QUERIES:
            _QUERIES.pop(next(iter(_QUERIES)))
    items = _QUERIES[query]
    page = items[start:start + limit]
    answer: dict[str, Any] = {
        "Results": [json.dumps(_project(item, fields), default=str) for item in page],
        "QueryInfo": {"SelectFields": [{"Name": name} for name in fields]},
    }
    if start + limit < len(items):
        answer["NextToken"] = _token(query, start + limit)
    return json.dumps(answer)


def describe_configuration_aggregator_sources_status(response: Any) -> str:
    params = json.loads(response.body or "{}")
    aggregator = _aggregator(response, params.get("ConfigurationAggregatorName"))
    wanted = set(params.get("UpdateStatus") or [])
    rows = [row for row in _source_statuses(response, aggregator) if not wanted or row["LastUpdateStatus"] in wanted]
    limit = _limit(params.get("Limit"), MAX_STATUS_LIMIT)
    _, start = _position(params.get("NextToken"))
    answer: dict[str, Any] = {"AggregatedSourceStatusList": rows[start:start + limit]}
    if start + limit < len(rows):
        answer["NextToken"] = _token("status", start + limit)
    return json.dumps(answer, default=str)


# -- the expression -------------------------------------------------------------------------------------------
def parse_expression(expression: str) -> tuple[list[str], dict[str, set[str]]]:
    """The selected fields and the WHERE conditions (field -> accepted values) of the supported subset."""
    match = _SELECT.match(expression)
    if not match:
        raise _error("InvalidExpressionException", "expected SELECT <fields> WHERE <conditions>")
    fields = [name.strip() for name in match.group("fields").split(",")]
    if not all(_FIELD.match(name) for name in fields):
        raise _error("InvalidExpressionException", f"unsupported select list: {match.group('fields')}")
    conditions: dict[str, set[str]] = {}
    for part in re.split(r"\s+AND\s+", match.group("where"), flags=re.IGNORECASE):
        condition = _CONDITION.match(part)
        if not condition:
            raise _error("InvalidExpressionException", f"unsupported condition: {part.strip()}")
        values = ({condition.group("one")} if condition.group("one") is not None
                  else {v.strip().strip("'") for v in condition.group("many").split(",")})
        field = next(f for f in ("resourceType", "accountId", "awsRegion") if f.lower() == condition.group("field")
                     .lower())
        conditions[field] = conditions.get(field, values) & values
    if "resourceType" not in conditions:
        raise _error("InvalidExpressionException", "a resourceType condition is required in this emulator")
    return fields, conditions


def _project(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        head, _, rest = name.partition(".")
        if head not in item:
            continue
        if not rest:
            out[head] = item[head]
        elif isinstance(item[head], dict) and rest in item[head]:
            out.setdefault(head, {})[rest] = item[head][rest]
    return out


def _limit(raw: Any, maximum: int) -> int:
    if raw in (None, 0):
        return maximum
    if not isinstance(raw, int) or raw < 0 or raw > maximum:
        raise _error("InvalidLimitException", f"Value '{raw}' at 'limit' failed to satisfy constraint: "
                                              f"Member must have value less than or equal to {maximum}")
    return raw


def _token(query: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_MARK}{query}:{offset}".encode()).decode()


def _position(token: str | None) -> tuple[str, int]:
    """(query id, offset) of a NextToken; a new query id and 0 without one."""
    if not token:
        return uuid.uuid4().hex, 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if text.startswith(_TOKEN_MARK):
            query, offset = text[len(_TOKEN_MARK):].rsplit(":", 1)
            if query == "status" or query in _QUERIES:
                return query, int(offset)
    except ValueError:
        pass
    raise _error("InvalidNextTokenException", "The nextToken provided is invalid")


# -- what the aggregator covers -------------------------------------------------------------------------------
def _aggregator(response: Any, name: str | None) -> Any:
    from moto.config.exceptions import NoSuchConfigurationAggregatorException

    aggregator = response.config_backend.config_aggregators.get(name or "")
    if aggregator is None:
        raise NoSuchConfigurationAggregatorException()
    return aggregator


def _sources(response: Any, aggregator: Any) -> Iterator[tuple[str, str, str, bool]]:
    """(account, region, source type, authorized) of every source the aggregator covers."""
    backend = response.config_backend
    org = aggregator.organization_aggregation_source
    if org is not None:
        accounts, regions, kind = _organization_accounts(backend.account_id), _regions(org), "ORGANIZATION"
        for account in accounts:
            for region in regions:
                yield account, region, kind, True
        return
    for source in aggregator.account_aggregation_sources or []:
        for account in source.account_ids:
            for region in _regions(source):
                yield account, region, "ACCOUNT", _authorized(backend, account, region)


def _regions(source: Any) -> list[str]:
    if source.all_aws_regions:
        import boto3

        return sorted(boto3.session.Session().get_available_regions("config"))
    return list(source.aws_regions or [])


def _organization_accounts(management: str) -> list[str]:
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[management]["aws"]
    return [a.id for a in backend.accounts if getattr(a, "status", "ACTIVE") == "ACTIVE"]


def _authorized(backend: Any, account: str, region: str) -> bool:
    from moto.config.models import config_backends

    if account == backend.account_id:
        return True
    source = existing(config_backends, account, region)
    return source is not None and f"{backend.account_id}/{backend.region_name}" in source.aggregation_authorizations


def _source_statuses(response: Any, aggregator: Any) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).timestamp()
    rows = []
    for account, region, kind, authorized in _sources(response, aggregator):
        row: dict[str, Any] = {"SourceId": account, "SourceType": kind, "AwsRegion": region,
                               "LastUpdateStatus": "SUCCEEDED" if authorized else "FAILED", "LastUpdateTime": now}
        if not authorized:
            row.update(LastErrorCode="AccessDeniedException",
                       LastErrorMessage="The source account has not authorized the aggregator account")
        rows.append(row)
    return rows


# -- the items ------------------------------------------------------------------------------------------------
def _items(response: Any, aggregator: Any, conditions: dict[str, set[str]]) -> list[dict[str, Any]]:
    items = []
    for account, region, _, authorized in _sources(response, aggregator):
        if not authorized or account not in conditions.get("accountId", {account}) \
                or region not in conditions.get("awsRegion", {region}):
            continue
        for resource_type in sorted(conditions["resourceType"]):
            builder = ITEM_BUILDERS.get(resource_type)
            if builder is not None:
                items += sorted(builder(account, region), key=lambda item: item["resourceId"])
    return items


def _item(account: str, region: str, resource_type: str, resource_id: str, name: str, arn: str,
          configuration: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {
        "accountId": account, "awsRegion": region, "resourceType": resource_type, "resourceId": resource_id,
        "resourceName": name, "arn": arn, "configurationItemStatus": "OK", "configurationItemCaptureTime": now,
        "configuration": lower_camel(configuration), "supplementaryConfiguration": {},
        "tags": _tag_list(tags),
    }


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value, "tag": f"{key}={value}"} for key, value in sorted(tags.items())]


def lower_camel(value: Any) -> Any:
    """A Describe answer as Config's `configuration` spells it: every key with a lower-case first letter."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: lower_camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lower_camel(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def existing(backends: Any, account: str, region: str) -> Any:
    """moto's backend of an account and region if anything ever made it (None: nothing there), without making it
    (moto's own lookup builds every backend it is asked for: thousands for an organization's every region)."""
    regional = dict.get(backends, account)
    return dict.get(regional, region) if regional is not None else None


def _s3_items(account: str, region: str) -> list[dict[str, Any]]:
    from moto.s3.config import s3_config_query
    from moto.s3.models import s3_backends

    items: list[dict[str, Any]] = []
    backend = existing(s3_backends, account, "aws")
    for name in list(backend.buckets) if backend is not None else []:
        item = s3_config_query.get_config_resource(account, "aws", name, resource_region=region)
        if item is None:
            continue
        item = dict(item, accountId=account, awsRegion=region, configurationItemStatus="OK")
        item["tags"] = _tag_list(item.get("tags") or {})
        items.append(item)
    return items


def _dynamodb_items(account: str, region: str) -> list[dict[str, Any]]:
    from moto.dynamodb.models import dynamodb_backends

    items = []
    backend = existing(dynamodb_backends, account, region)
    for table in list(backend.tables.values()) if backend is not None else []:
        described = table.describe(base_key="Table")["Table"]
        tags = {t["Key"]: t["Value"] for t in table.tags or []}
        items.append(_item(account, region, "AWS::DynamoDB::Table", table.name, table.name, table.table_arn,
                           described, tags))
    return items


def _rds_items(kind: str) -> Callable[[str, str], list[dict[str, Any]]]:
    operation, key, name_key, arn_key, attribute = {
        "AWS::RDS::DBInstance": ("DescribeDBInstances", "DBInstances", "DBInstanceIdentifier", "DBInstanceArn",
                                 "databases"),
        "AWS::RDS::DBCluster": ("DescribeDBClusters", "DBClusters", "DBClusterIdentifier", "DBClusterArn", "clusters"),
    }[kind]

    def build(account: str, region: str) -> list[dict[str, Any]]:
        from moto.rds.models import rds_backends

        backend = existing(rds_backends, account, region)
        resources = list(getattr(backend, attribute).values()) if backend is not None else []
        items = []
        for described in _describe_output("rds", operation, key, resources):
            tags = {t["Key"]: t["Value"] for t in described.get("TagList") or []}
            resource_id = described.get("DbiResourceId") or described.get("DbClusterResourceId") or described[name_key]
            items.append(_item(account, region, kind, resource_id, described[name_key], described[arn_key],
                               described, tags))
        return items
    return build


def _kms_items(account: str, region: str) -> list[dict[str, Any]]:
    from moto.kms.models import kms_backends

    items = []
    backend = existing(kms_backends, account, region)
    for key in list(backend.keys.values()) if backend is not None else []:
        metadata = key.to_dict()["KeyMetadata"]
        items.append(_item(account, region, "AWS::KMS::Key", key.id, key.id, key.arn, metadata, {}))
    return items


def _describe_output(service: str, operation: str, result_key: str, resources: list[Any]) -> list[dict[str, Any]]:
    """moto's model objects as a client of the Describe operation sees them: moto's serializer, botocore's parser."""
    from botocore.parsers import create_parser
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model

    if not resources:
        return []
    model = get_service_model(service)
    op = model.operation_model(operation)
    serializer = get_serializer_class(service, model.protocol)(op, value_picker=XFormedAttributePicker())
    body = serializer.serialize({result_key: resources})["body"]
    raw = {"body": body.encode() if isinstance(body, str) else body, "headers": {}, "status_code": 200}
    return create_parser(model.protocol).parse(raw, op.output_shape).get(result_key, [])


ITEM_BUILDERS: dict[str, Callable[[str, str], list[dict[str, Any]]]] = {
    "AWS::S3::Bucket": _s3_items,
    "AWS::DynamoDB::Table": _dynamodb_items,
    "AWS::RDS::DBInstance": _rds_items("AWS::RDS::DBInstance"),
    "AWS::RDS::DBCluster": _rds_items("AWS::RDS::DBCluster"),
    "AWS::KMS::Key": _kms_items,
}
