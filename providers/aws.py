"""AWS: S3 buckets and the regional kinds of scanner/kinds.py (DynamoDB, RDS, EBS, EFS, ...) — read-only.

Credentials come from boto3's standard chain; `AWS_ENDPOINT_URL` is honoured by boto3 itself.
Config section `providers.aws` (every key optional):

    regions: [eu-central-1, us-east-1]   # default: the regions enabled for each account
    organization: false                  # true: also scan every ACTIVE member of the AWS Organization
    organizational_units: [ou-ab12-cdef3456]  # only the accounts in these OUs (or roots), nested OUs included
    accounts: ["222222222222"]           # further accounts to scan by assuming `assume_role`
    exclude_accounts: ["333333333333"]   # never scanned, whatever else names them
    assume_role: OrganizationAccountAccessRole
    external_id: null                    # for assume_role, if the role requires one
    services: [s3, dynamodb]             # default: every AWS service of scanner/kinds.py (`catalog kinds`)
    max_accounts: 4                      # accounts scanned at once
    max_workers: 8                       # concurrent API calls per account
    max_workers_per_api: 8               # concurrent calls per account to one service (s3, tagging, rds, ...)
    max_requests_per_second: null        # ceiling on the whole scan's request rate, all accounts together
    max_attempts: 4                      # botocore adaptive-retry attempts per call (throttling backs off)
    list_buckets_page_size: 1000         # ListBuckets MaxBuckets (1 to 10000)
    replication_max_age_minutes: 0       # reuse a GetBucketReplication answer this long (daemon: e.g. 360)
    config_aggregator: org-aggregator    # read the organization in bulk from this AWS Config aggregator
                                         # (providers/aws_aggregator.py), the rest per account

With `organizational_units` the accounts scanned are those under the OUs (the calling account only if it
is under one of them) plus `accounts`; `organization: true` without OUs scans every member and the
calling account.

Where a copy lives: an S3 bucket's region comes from ListBuckets' `BucketRegion` where the
endpoint returns it, else from GetBucketLocation (null means us-east-1, "EU" eu-west-1);
replication rules give replica buckets. The regional kinds are read by their readers in providers/aws_kinds.py
(DynamoDB `Replicas`, RDS read replicas and replicated automated backups, EBS snapshot copies, EFS replication
destinations), planned, rate-limited, region-guarded and recorded here by `AccountScan` alike.

The fewest calls for S3: paginated ListBuckets gives every bucket's region; the Resource Groups
Tagging API (`tag:GetResources`, S3 only, once per region that holds buckets, 100 per page) gives
the tags of every tagged bucket; replication comes in bulk from AWS Config where Config records S3
(`S3Inventory.replication_from_config`), else from GetBucketReplication per bucket, in parallel.
A bucket absent from a completed GetResources listing of its own region has no tags (the
API lists every tagged or previously tagged resource located in the region). Where GetResources
fails, that region's buckets fall back to GetBucketTagging, and the fallback is recorded as a target.
Unverified here (no real AWS): how soon a bucket's new tags reach GetResources; the tags reported are
the tagging API's view at scan time.

Replication from AWS Config, per region that holds buckets (Config is regional and records a bucket in
the bucket's own region): DescribeConfigurationRecorderStatus (the customer-managed recorder); if it is
recording and its last status is not a failure, DescribeConfigurationRecorders to check that it records
`AWS::S3::Bucket` continuously (a DAILY recording of S3 may be a day behind: not used); then
BatchGetResourceConfig for the region's buckets, 100 keys a call. A bucket Config returns as current
(`OK` or `ResourceDiscovered`) has its replication from `supplementaryConfiguration.
BucketReplicationConfiguration` (absent: no replication configured, as of `configurationItemCaptureTime`,
which the replica locations name). Every other bucket (not recorded, unprocessed, deleted, an item that
does not parse) and every bucket of a region where Config is not recording S3, denied or failing is read
with GetBucketReplication, so a bucket is never assumed not to replicate because Config lacks it.
Unverified here (no real AWS): how soon a replication change reaches Config (minutes, for continuous
recording, per the Config documentation).

Every location carries `observed_at`, when the API told it: the listing's start for a bucket's region, Config's
`configurationItemCaptureTime` for replicas learned from Config, the GetBucketReplication call for the others.
Incremental rescans (`replication_max_age_minutes` > 0, for the daemon, which scans again and again in one
process): a bucket's GetBucketReplication answer is kept in the process (`REPLICATION_CACHE`) with the bucket's
listing signature (region and ListBuckets CreationDate) and reused by later scans while it is younger than the
maximum age and the signature is unchanged; its replica locations then keep the original `observed_at` and say
`(cached)` in `learned_from`. A recreated or moved bucket, an expired answer or a bucket whose listing gives no
CreationDate is read again; a failed read is never kept (the replicas stay unknown). A replication change on an
unchanged bucket is therefore seen at most the maximum age late, and its `observed_at` says how old the fact
is. 0 (the default): every scan reads every bucket not answered by Config.

Gentle on production: bounded concurrency per account and per API, an optional global token bucket
(`max_requests_per_second`) in front of every request, botocore's adaptive retry mode on
throttling, and regions an SCP denies are skipped once the first calls show it (see `RegionGuard`):
a denied region costs one call, is recorded as denied for every service, and is never retried.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from providers import aws_kinds_cache, aws_kinds_fsx, aws_kinds_serverless, aws_vaults  # noqa: F401  (readers register)
from providers.aws_aggregator import AccountView, Aggregate
from providers.aws_keys import KeyReader, service_owned
from providers.aws_kinds import READERS, AfterRead
from providers.aws_kinds import tag_list as _tag_list
from providers.base import Provider, TargetLog, tags_unreadable
from providers.errors import AWS_DENIED_CODES, describe_error
from providers.errors import aws_error_code as error_code
from scanner.clock import now_iso
from scanner.custody import UNKNOWN, KeyFacts
from scanner.discovered import DiscoveredStore
from scanner.kinds import PLATFORM, kind, kinds_of, services_of
from scanner.model import TargetResult
from scanner.yamlfile import Node

log = logging.getLogger(__name__)

SERVICES = services_of("aws")  # the config `services`, from the registry of store kinds (scanner/kinds.py)
# read per region, in the order a region is probed (EC2 reads are the most permitted)
REGIONAL_SERVICES = tuple(dict.fromkeys(
    spec.service for spec in sorted(kinds_of("aws"), key=lambda spec: spec.probe_rank) if spec.scope == "regional"))
# Denials that are about the region itself (not enabled, or credentials not valid there), whatever the API.
REGION_DENIED_CODES = {"OptInRequired", "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure"}
TAGS_PAGE_SIZE = 100  # GetResources ResourcesPerPage: at most 100 (botocore resourcegroupstaggingapi model)
BUCKETS_PER_TASK = 25  # per-bucket reads are batched into tasks of this many buckets of one region
# target name -> the API whose concurrency slot it takes
API_OF = {**{spec.service: spec.api for spec in kinds_of("aws")}, **PLATFORM["aws"].api_of}
S3_CONFIG_TYPE = kind("s3-bucket").bulk_type
CONFIG_KEYS_PER_CALL = 100  # BatchGetResourceConfig: at most 100 resource keys (botocore config model)
CONFIG_CURRENT = {"OK", "ResourceDiscovered"}  # configurationItemStatus of a resource Config still records
REPLICATION_FROM_CONFIG = "config:BatchGetResourceConfig"
REPLICATION_READ = "GetBucketReplication.Rules.Destination"
REPLICATION_CACHED = f"{REPLICATION_READ} (cached)"  # an earlier scan's answer, reused (see ReplicationCache)
ENCRYPTION_READ = "GetBucketEncryption.Rules.ApplyServerSideEncryptionByDefault"
AGGREGATOR_NAME = re.compile(r"[\w\-]{1,256}")  # ConfigurationAggregatorName (botocore config model)


# every call Custody makes is named so, but AssumeRole (Select: AWS Config's advanced queries)
READ_OPERATIONS = ("Get", "List", "Describe", "BatchGet", "Select")


class ReadOnlyViolation(RuntimeError):
    """A call that is not a read, refused before it is sent: Custody is read-only."""


def refuse_writes(model: Any, **_: Any) -> None:
    """botocore `before-call` on every client: refuse an operation that is not a read, by its name, not its HTTP
    method (reads such as OpenSearch's DescribeDomains are POSTs, as is every query- and JSON-protocol call)."""
    if not model.name.startswith(READ_OPERATIONS) and model.name != "AssumeRole":
        raise ReadOnlyViolation(f"refusing {model.service_model.service_name}:{model.name}: Custody is read-only")


@dataclass(frozen=True)
class AwsSettings:
    regions: tuple[str, ...] = ()
    organization: bool = False
    organizational_units: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    assume_role: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    services: tuple[str, ...] = SERVICES
    max_accounts: int = 4
    max_workers: int = 8
    max_workers_per_api: int = 8
    max_requests_per_second: float | None = None
    max_attempts: int = 4
    list_buckets_page_size: int = 1000
    replication_max_age_minutes: int = 0  # 0: never reuse a GetBucketReplication answer
    # only these buckets (an S3 event's re-read), located one by one, read bucket by bucket; empty: every bucket
    buckets: tuple[str, ...] = ()
    config_aggregator: str | None = None  # an AWS Config aggregator of the caller's account: bulk reads


@dataclass
class Account:
    id: str
    session: boto3.Session  # the calling identity's session, shared by every account (it caches the API models)
    partition: str
    credentials: dict[str, str] = field(default_factory=dict)  # an assumed role's keys; empty: the session's own


class RateLimiter:
    """A token bucket shared by every client of a scan: at most `rate` requests per second, all threads and
    accounts together, with bursts of at most `burst` requests. Thread-safe; waiters queue in arrival order.

    Registered on botocore's `before-send` event, so every HTTP attempt (retries included) takes a token."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else min(rate, 10.0))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is due; return the time waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0  # may go negative: a debt the next callers wait behind
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def before_send(self, **_: object) -> None:
        self.acquire()  # returning None lets botocore send the request


class RegionGuard:
    """Which regions of one account are denied as a whole (an SCP on `aws:RequestedRegion`, a region not
    enabled), judged from the calls already made there, so that the other services are not called.

    A region is denied when nothing has succeeded there and a denial there is region-shaped: its code is
    about the region itself (`REGION_DENIED_CODES`), or the same operation succeeded in another region of
    the account, or two different operations were denied there. A denial of one API everywhere (an IAM
    policy without that action) is therefore not mistaken for a denied region. The scan probes every
    region with its first call before making any other, so a denied region normally costs one call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._succeeded: dict[str, set[str]] = defaultdict(set)
        self._denials: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)  # region -> op -> (code, text)
        self.denied: dict[str, str] = {}  # region -> the first denial seen there

    def allowed(self, region: str) -> bool:
        return region not in self.denied

    def succeeded(self, region: str, operation: str) -> None:
        with self._lock:
            self._succeeded[region].add(operation)
            self._judge()

    def failed(self, region: str, operation: str, exc: Exception) -> None:
        code = error_code(exc)
        if code not in AWS_DENIED_CODES:
            return  # throttling, server errors, dead endpoints say nothing about the region
        with self._lock:
            self._denials[region].setdefault(operation, (code, describe_error(exc)[0]))
            self._judge()

    def _judge(self) -> None:
        for region, denials in self._denials.items():
            if region in self.denied or self._succeeded.get(region):
                continue
            elsewhere = {op for other, ops in self._succeeded.items() if other != region for op in ops}
            if (any(code in REGION_DENIED_CODES for code, _ in denials.values())
                    or denials.keys() & elsewhere or len(denials) >= 2):
                self.denied[region] = next(iter(denials.values()))[1]


class AwsProvider(Provider):
    name = "aws"

    def __init__(self, settings: AwsSettings | None = None, session: boto3.Session | None = None):
        self.settings = settings or AwsSettings()
        self._session = session
        self._boto_config = BotoConfig(
            retries={"mode": "adaptive", "max_attempts": self.settings.max_attempts},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=max(10, self.settings.max_workers * 2),
        )
        rate = self.settings.max_requests_per_second
        self.limiter = RateLimiter(rate) if rate else None
        self._client_lock = threading.Lock()  # boto3 sessions are not thread-safe; the clients they make are
        self._identity_lock = threading.Lock()
        self._identity: tuple[Account, Any] | None = None  # the caller's account and its STS client
        self._across_accounts: list[AfterRead] = []  # facts one account's scan found about other accounts' stores
        self._across_lock = threading.Lock()
        self._aggregate_lock = threading.Lock()
        self._aggregate: tuple[Aggregate | None] | None = None  # this scan's aggregator read, once read

    @classmethod
    def from_config(cls, section: Node) -> AwsProvider:
        section.mapping({
            "regions", "organization", "organizational_units", "accounts", "exclude_accounts", "assume_role",
            "external_id", "services", "max_accounts", "max_workers", "max_workers_per_api",
            "max_requests_per_second", "max_attempts", "list_buckets_page_size", "replication_max_age_minutes",
            "config_aggregator",
        })
        page_size = section["list_buckets_page_size"].int(1000, minimum=1)
        if page_size > 10000:
            raise section["list_buckets_page_size"].error(
                "providers.aws.list_buckets_page_size: expected a whole number from 1 to 10000")
        services = tuple(section["services"].str_list()) or SERVICES
        for service in services:
            if service not in SERVICES:
                raise section["services"].error(f"providers.aws.services: unknown service '{service}' "
                                                f"(expected some of: {', '.join(SERVICES)})")
        return cls(AwsSettings(
            regions=tuple(section["regions"].str_list()),
            organization=section["organization"].bool(False),
            organizational_units=tuple(section["organizational_units"].str_list()),
            accounts=tuple(section["accounts"].str_list()),
            exclude_accounts=tuple(section["exclude_accounts"].str_list()),
            assume_role=section["assume_role"].str("OrganizationAccountAccessRole") or "OrganizationAccountAccessRole",
            external_id=section["external_id"].str(),
            services=services,
            max_accounts=section["max_accounts"].int(4, minimum=1),
            max_workers=section["max_workers"].int(8, minimum=1),
            max_workers_per_api=section["max_workers_per_api"].int(8, minimum=1),
            max_requests_per_second=_rate(section["max_requests_per_second"]),
            max_attempts=section["max_attempts"].int(4, minimum=1),
            list_buckets_page_size=page_size,
            replication_max_age_minutes=section["replication_max_age_minutes"].int(0, minimum=0),
            config_aggregator=_aggregator_name(section["config_aggregator"]),
        ))

    def new_client(self, session: boto3.Session, service: str, region: str | None = None,
                   credentials: dict[str, str] | None = None):
        """A client with the scan's retry config, behind the scan's request-rate ceiling if one is set.

        Every account's clients come from one session (with the assumed role's keys), so the API models are
        loaded and parsed once per scan rather than once per account."""
        with self._client_lock:
            client = session.client(service, region_name=region, config=self._boto_config, **(credentials or {}))
        client.meta.events.register("before-call", refuse_writes)
        if self.limiter is not None:
            client.meta.events.register("before-send", self.limiter.before_send)
        return client

    # -- accounts ------------------------------------------------------------------------------
    def units(self, log: TargetLog) -> list[str]:
        """The account ids to scan: the caller's own, the Organization's or OUs' members, the listed ones."""
        home = self._home(log)
        return self._account_ids(home, log) if home else []

    def discover_unit(self, unit: str, log: TargetLog) -> list[DiscoveredStore]:
        """One account, start to end; its failure is recorded and never reaches the other accounts."""
        home = self._home(log)
        if home is None:
            return []
        aggregate = self._aggregated(home, log)
        view = AccountView(self, aggregate, Account(unit, home.session, home.partition)) if aggregate else None
        stores = view.complete() if view is not None else None
        if view is not None and stores is not None:  # every target from the aggregator: the account is not entered
            view.record(log)
            return stores
        try:
            account = home if unit == home.id else self._assume(home, unit)
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            log.failed(self.name, unit, "*", "sts:AssumeRole", error, denied)
            return []
        try:
            return AccountScan(self, account, log, view).run()
        except Exception as exc:  # a bug or a dead endpoint in one account must not lose the others
            error, denied = describe_error(exc)
            log.failed(self.name, unit, "*", "*", error, denied)
            return []

    def discover(self, log: TargetLog) -> Iterator[DiscoveredStore]:
        """Every account's stores as each account is done; with AWS Backup read in several accounts, all of them
        at the end instead, once the facts one account found about another's stores (a recovery point copied into
        another account's vault) are applied."""
        self._identity = None  # looked up again for each scan
        self._aggregate = None  # and the aggregator read again
        account_ids = self.units(log)
        self._across_accounts = []
        held = len(account_ids) > 1 and "backup" in self.settings.services
        stores: list[DiscoveredStore] = []
        with ThreadPoolExecutor(max_workers=self.settings.max_accounts) as pool:
            futures = [pool.submit(self.discover_unit, account_id, log) for account_id in account_ids]
            for future in as_completed(futures):
                if not held:
                    yield from future.result()
                else:
                    stores += future.result()
        for fact in self._across_accounts:
            fact.apply(stores)
        yield from stores

    def across_accounts(self, fact: AfterRead) -> None:
        """Keep a fact about stores of other accounts, applied when the whole organization is read (`discover`;
        a scan unit of one account alone cannot apply it)."""
        with self._across_lock:
            self._across_accounts.append(fact)

    def _aggregated(self, home: Account, log: TargetLog) -> Aggregate | None:
        """The configured aggregator's read, once per scan (None: none configured, or it failed)."""
        if not self.settings.config_aggregator:
            return None
        with self._aggregate_lock:
            if self._aggregate is None:
                self._aggregate = (Aggregate.read(self, home, log),)
            return self._aggregate[0]

    def _home(self, log: TargetLog) -> Account | None:
        """The account of the configured credentials (one sts:GetCallerIdentity per scan or per process)."""
        with self._identity_lock:
            if self._identity is None:
                session = self._session or boto3.Session()
                sts = self.new_client(session, "sts")
                try:
                    identity = sts.get_caller_identity()
                except (ClientError, BotoCoreError) as exc:
                    error, denied = describe_error(exc)
                    log.failed(self.name, "*", "*", "sts", error, denied)
                    return None
                self._identity = (Account(identity["Account"], session, identity["Arn"].split(":")[1]), sts)
            return self._identity[0]

    def _account_ids(self, home: Account, log: TargetLog) -> list[str]:
        settings = self.settings
        if settings.organizational_units:
            ids = self._unit_members(home, log)
        else:
            ids = [home.id, *(self._organization_members(home, log) if settings.organization else [])]
        excluded = set(settings.exclude_accounts)
        return [account for account in dict.fromkeys([*ids, *settings.accounts]) if account not in excluded]

    def _organization_members(self, home: Account, log: TargetLog) -> list[str]:
        client = self.new_client(home.session, "organizations")
        try:
            pages = client.get_paginator("list_accounts").paginate()
            members = [a["Id"] for page in pages for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"]
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            log.failed(self.name, home.id, "global", "organizations", error, denied)
            return []
        log.ok(self.name, home.id, "global", "organizations", 0)
        return members

    def _unit_members(self, home: Account, log: TargetLog) -> list[str]:
        """ACTIVE accounts directly in each configured OU (or root) and in every OU nested below it."""
        client = self.new_client(home.session, "organizations")
        members: list[str] = []
        for unit in self.settings.organizational_units:
            try:
                members += self._accounts_under(client, unit)
            except (ClientError, BotoCoreError) as exc:
                error, denied = describe_error(exc)
                log.failed(self.name, home.id, "global", f"organizations:{unit}", error, denied)
                continue
            log.ok(self.name, home.id, "global", f"organizations:{unit}", 0)
        return members

    @staticmethod
    def _accounts_under(client, unit: str) -> list[str]:
        accounts: list[str] = []
        parents, seen = [unit], set()
        while parents:
            parent = parents.pop(0)
            if parent in seen:
                continue
            seen.add(parent)
            for page in client.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
                accounts += [a["Id"] for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"]
            for page in client.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
                parents += [ou["Id"] for ou in page["OrganizationalUnits"]]
        return accounts

    def _assume(self, home: Account, account_id: str) -> Account:
        role_arn = f"arn:{home.partition}:iam::{account_id}:role/{self.settings.assume_role}"
        kwargs = {"RoleArn": role_arn, "RoleSessionName": "custody-scan"}
        if self.settings.external_id:
            kwargs["ExternalId"] = self.settings.external_id
        assert self._identity is not None
        creds = self._identity[1].assume_role(**kwargs)["Credentials"]
        return Account(account_id, home.session, home.partition, {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        })


def _aggregator_name(node: Node) -> str | None:
    """An AWS Config aggregator name: 1 to 256 letters, digits, `_` or `-` (the API's pattern)."""
    if node.value is None:
        return None
    if not isinstance(node.value, str) or not AGGREGATOR_NAME.fullmatch(node.value):
        raise node.error(f"{node.name}: expected an AWS Config aggregator name (1 to 256 letters, digits, '_' or "
                         f"'-'), got {node.value!r}")
    return node.value


def _rate(node: Node) -> float | None:
    if node.value is None:
        return None
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)) or node.value <= 0:
        raise node.error(f"{node.name}: expected a number of requests per second > 0, got {node.value!r}")
    return float(node.value)


@dataclass
class Task:
    """One unit of work in one region; its outcome is recorded after the whole account is done."""

    service: str  # the target name in the scan record: "tag:GetResources", "s3", or a regional service ("ebs", ...)
    region: str
    run: Callable[[], list[DiscoveredStore]]
    outcome: str = "pending"  # ok, denied, error, skipped
    error: str | None = None
    stores: list[DiscoveredStore] = field(default_factory=list)

    @property
    def api(self) -> str:
        return API_OF[self.service]


class AccountScan:
    """Everything scanned in one account: S3 once, the regional services per enabled region."""

    def __init__(self, provider: AwsProvider, account: Account, log: TargetLog, view: AccountView | None = None):
        self.provider = provider
        self.view = view  # the aggregator's answers for this account, target by target (None: no aggregator)
        self._bulk: list[DiscoveredStore] = []  # the stores of the targets the aggregator answered
        self.settings = provider.settings
        self.account = account
        self.log = log
        self.guard = RegionGuard()
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._after_read: list[AfterRead] = []  # facts the readers found about other stores of the account
        self.keys = KeyReader(self)  # the KMS keys the stores name, each read once
        self.api_region = account.session.region_name or "us-east-1"

    def client(self, service: str, region: str):
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self.provider.new_client(self.account.session, service, region,
                                                              self.account.credentials)
            return self._clients[key]

    @contextmanager
    def slot(self, api: str) -> Iterator[None]:
        """At most `max_workers_per_api` concurrent calls to one API in this account."""
        with self._lock:
            semaphore = self._slots.setdefault(api, threading.Semaphore(self.settings.max_workers_per_api))
        with semaphore:
            yield

    def run(self) -> list[DiscoveredStore]:
        regional = [service for service in REGIONAL_SERVICES if service in self.settings.services]
        regions = self._regions() if regional else []
        s3 = S3Inventory(self) if "s3" in self.settings.services else None
        buckets = self.view.s3() if s3 is not None and self.view is not None else None
        if buckets is not None:
            self._bulk += buckets
            s3 = None
        if s3 is not None and not s3.list():
            s3 = None
        plan = self._plan(regions, regional, s3)
        with ThreadPoolExecutor(max_workers=self.settings.max_workers) as pool:
            # Every region's first call before any other, so a region an SCP denies costs one call; where that
            # call was denied and no other region shows whether the region or the API is denied, one call of
            # another API decides before the rest.
            list(pool.map(self._execute, [tasks[0] for tasks in plan.values() if tasks]))
            undecided = [tasks for tasks in plan.values()
                         if len(tasks) > 1 and tasks[0].outcome == "denied" and self.guard.allowed(tasks[0].region)]
            list(pool.map(self._execute, [tasks[1] for tasks in undecided]))
            if s3 is not None and not s3.named:  # replication in bulk where Config records S3, before per bucket
                list(pool.map(s3.replication_from_config, list(s3.by_region())))
            pending = [task for tasks in plan.values() for task in tasks if task.outcome == "pending"]
            list(pool.map(self._execute, pending))
        stores: list[DiscoveredStore] = []
        for region, tasks in plan.items():
            stores += self._record(region, tasks, s3)
        if s3 is not None:
            buckets = s3.stores()
            self.log.ok("aws", self.account.id, "global", "s3", len(buckets))
            stores += buckets
        stores += self._bulk
        if self.view is not None:
            self.view.record(self.log)
        for fact in self._after_read:
            fact.apply(stores)
        return stores

    def _plan(self, regions: list[str], regional: list[str], s3: S3Inventory | None) -> dict[str, list[Task]]:
        """Per region, its tasks in order: S3 tags in bulk, the regional services, then per-bucket reads."""
        by_region = s3.by_region() if s3 is not None else {}
        plan: dict[str, list[Task]] = {}
        for region in sorted({*regions, *by_region}):
            tasks = []
            names = by_region.get(region, [])
            if s3 is not None and names and not s3.named:  # named buckets: GetBucketTagging, bucket by bucket
                tasks.append(Task("tag:GetResources", region, partial(s3.tags_in_region, region)))
            if region in regions:
                tasks += [Task(service, region, partial(READERS[service], self, region)) for service in regional
                          if not self._from_aggregator(region, service)]
            for start in range(0, len(names), BUCKETS_PER_TASK):
                chunk = names[start:start + BUCKETS_PER_TASK]
                tasks.append(Task("s3", region, partial(s3.read_buckets, region, chunk)))  # type: ignore[union-attr]
            plan[region] = tasks
        return plan

    def _from_aggregator(self, region: str, service: str) -> bool:
        """Whether the aggregator answered the service in the region (its stores kept, no per-account read)."""
        found = self.view.regional(region, service) if self.view is not None else None
        if found is not None:
            self._bulk += found
        return found is not None

    def _execute(self, task: Task) -> None:
        if not self.guard.allowed(task.region):
            task.outcome = "skipped"
            return
        try:
            with self.slot(task.api):
                task.stores = task.run()
        except Exception as exc:  # one region or service failing never stops the others
            task.error, denied = describe_error(exc)
            task.outcome = "denied" if denied else "error"
            self.guard.failed(task.region, task.service, exc)
        else:
            task.outcome = "ok"
            if task.service != "s3":  # per-bucket reads report their own calls to the guard
                self.guard.succeeded(task.region, task.service)

    def _record(self, region: str, tasks: list[Task], s3: S3Inventory | None) -> list[DiscoveredStore]:
        """Record how each task went (once per service and region) and return the stores found."""
        account, denial = self.account.id, self.guard.denied.get(region)
        skipped = f"skipped: region denied after the first AccessDenied there ({denial})"
        stores: list[DiscoveredStore] = []
        for task in tasks:
            if task.service == "s3":
                continue
            if task.outcome == "ok":
                found = s3.tagged.get(region, 0) if task.service == "tag:GetResources" and s3 else len(task.stores)
                self.log.ok("aws", account, region, task.service, found)
                stores += task.stores
            elif task.outcome == "skipped":
                self.log.failed("aws", account, region, task.service, skipped, True)
            elif task.service == "tag:GetResources" and denial is None and s3 is not None:
                note = f"fallback for tags, per bucket: tag:GetResources failed ({task.error})"
                log.warning("aws %s %s: %s", account, region, note)
                self.log.add(TargetResult("aws", account, region, "s3:GetBucketTagging", "ok", note,
                                          len(s3.by_region().get(region, []))))
            else:
                self.log.failed("aws", account, region, task.service, task.error or "", task.outcome == "denied")
        bucket_tasks = [task for task in tasks if task.service == "s3"]
        if denial is not None and bucket_tasks:
            self.log.failed("aws", account, region, "s3", skipped, True)
        elif any(task.outcome == "error" for task in bucket_tasks):
            error = next(task.error for task in bucket_tasks if task.outcome == "error")
            self.log.failed("aws", account, region, "s3", error or "", False)
        return stores

    def _regions(self) -> list[str]:
        if self.settings.regions:
            return list(self.settings.regions)
        try:
            answer = self.client("ec2", self.api_region).describe_regions()
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            self.log.failed("aws", self.account.id, self.api_region, "ec2:DescribeRegions", error, denied)
            return [self.api_region]
        return sorted(r["RegionName"] for r in answer["Regions"] if r.get("OptInStatus") != "not-opted-in")

    def store(self, arn: str, kind: str, name: str, region: str, tags: dict[str, str]) -> DiscoveredStore:
        return DiscoveredStore(id=arn, provider="aws", account=self.account.id, kind=kind, name=name,
                               region=region, tags=tags)

    def after_read(self, fact: AfterRead) -> None:
        """Keep a fact about other stores of this account, applied once the whole account is read."""
        with self._lock:
            self._after_read.append(fact)


@dataclass(frozen=True)
class Replication:
    """A bucket's enabled replication targets, where they were learned and when (UTC ISO 8601, seconds)."""

    targets: tuple[str, ...]
    learned_from: str
    observed_at: str


@dataclass
class BucketFacts:
    """What the per-bucket reads told: tags (None: taken from GetResources) and the regions of the replication
    targets (`replication`: where and when they were learned; None: replication unreadable, see unknowns)."""

    tags: dict[str, str] | None
    replica_regions: list[str]
    unknowns: list[str]
    replication: Replication | None = None
    encryption: KeyFacts | None = None  # default encryption and its key (scanner/custody.py)


Signature = tuple[str, str]  # a bucket's region and ListBuckets CreationDate: a recreated or moved bucket differs


@dataclass(frozen=True)
class _Kept:
    signature: Signature
    replication: Replication
    read_at: float  # the clock's time of the call


class ReplicationCache:
    """GetBucketReplication answers kept for the later scans of this process (the daemon builds a new provider
    for each scan), per (partition, account) and bucket, with the bucket's listing signature. Thread-safe.

    Only answers are kept: a failed read is never stored, so an unknown stays unknown."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str], dict[str, _Kept]] = {}

    def get(self, account: tuple[str, str], bucket: str, signature: Signature, max_age: float) -> Replication | None:
        """The kept answer if the bucket's signature is unchanged and the answer is younger than `max_age` seconds."""
        with self._lock:
            kept = self._kept.get(account, {}).get(bucket)
        if kept is None or kept.signature != signature or self.clock() - kept.read_at >= max_age:
            return None
        return kept.replication

    def put(self, account: tuple[str, str], bucket: str, signature: Signature, replication: Replication,
            read_at: float) -> None:
        with self._lock:
            self._kept.setdefault(account, {})[bucket] = _Kept(signature, replication, read_at)

    def keep_only(self, account: tuple[str, str], buckets: Iterable[str]) -> None:
        """Forget the account's buckets that its latest listing no longer shows."""
        with self._lock:
            kept = self._kept.get(account)
            if kept:
                self._kept[account] = {name: kept[name] for name in buckets if name in kept}

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


REPLICATION_CACHE = ReplicationCache()  # one per process: shared by every provider and scan


class S3Inventory:
    """All buckets of one account: regions (ListBuckets), tags (GetResources per region, else GetBucketTagging)
    and replication targets (AWS Config in bulk where it records S3, else GetBucketReplication per bucket)."""

    def __init__(self, scan: AccountScan):
        self.scan = scan
        self.regions: dict[str, str | None] = {}  # bucket -> region (None: unreadable)
        self.learned: dict[str, str] = {}  # bucket -> the call that gave its region
        self.tags: dict[str, dict[str, str]] = {}  # bucket -> tags, from GetResources
        self.tags_listed: set[str] = set()  # regions whose GetResources listing completed
        self.tagged: dict[str, int] = {}  # region -> tagged buckets its GetResources listed
        self.facts: dict[str, BucketFacts] = {}
        self.unread: dict[str, str] = {}  # bucket -> why its per-bucket reads failed
        self.config: dict[str, Replication] = {}  # bucket -> its replication, from AWS Config
        self.config_sse: dict[str, DefaultEncryption] = {}  # bucket -> its default encryption, from AWS Config
        self.created: dict[str, str] = {}  # bucket -> its ListBuckets CreationDate, where given
        self.listed_at = now_iso()  # when the listing began: the observed_at of every bucket's region
        self._lock = threading.Lock()
        self._by_region: dict[str, list[str]] | None = None
        self._max_age = self.scan.settings.replication_max_age_minutes * 60.0  # seconds; 0: no reuse
        self._cache_key = (scan.account.partition, scan.account.id)

    # -- where each bucket is ------------------------------------------------------------------
    def list(self) -> bool:
        """List every bucket with its region; False (recorded) if the listing itself failed."""
        self.listed_at = now_iso()
        try:
            listing = self._named_buckets() if self.named else self._list_buckets()
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            self.scan.log.failed("aws", self.scan.account.id, "global", "s3", error, denied)
            return False
        if self._max_age and not self.named:
            REPLICATION_CACHE.keep_only(self._cache_key, (name for name, _ in listing))
        missing = [name for name, region in listing if region is None]
        workers = min(self.scan.settings.max_workers, self.scan.settings.max_workers_per_api)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            located = dict(zip(missing, pool.map(self._bucket_location, missing), strict=True))
        for name, region in listing:
            self.regions[name] = region or located.get(name)
            self.learned[name] = ("GetBucketLocation" if name in located or self.named
                                  else "ListBuckets.BucketRegion")
        return True

    @property
    def named(self) -> bool:
        """Only the buckets an event named are read (settings.buckets): bucket by bucket, no account-wide call."""
        return bool(self.scan.settings.buckets)

    def _named_buckets(self) -> list[tuple[str, str | None]]:
        """(name, region) of each named bucket that exists, by GetBucketLocation (no ListBuckets, no HeadBucket).
        A bucket S3 says is not there (NoSuchBucket) is left out, so a whole read confirms it gone; any other
        failure (denied, or another account's bucket of that name) fails the read."""
        client = self.scan.client("s3", self.scan.api_region)
        found = []
        for name in self.scan.settings.buckets:
            try:
                answer = client.get_bucket_location(Bucket=name)
            except ClientError as exc:
                if error_code(exc) == "NoSuchBucket":
                    continue
                raise
            found.append((name, _location_region(answer)))
        return found

    def by_region(self) -> dict[str, list[str]]:
        if self._by_region is None:
            grouped: dict[str, list[str]] = defaultdict(list)
            for name, region in self.regions.items():
                if region is not None:
                    grouped[region].append(name)
            self._by_region = dict(grouped)
        return self._by_region

    def _list_buckets(self) -> list[tuple[str, str | None]]:
        """(name, region or None) for every bucket, paging with ContinuationToken.

        Guard: an endpoint that truncates at MaxBuckets without a ContinuationToken (stock moto)
        would silently hide buckets, so a full page without a token is checked by an unpaginated list.
        """
        client = self.scan.client("s3", self.scan.api_region)
        page_size = self.scan.settings.list_buckets_page_size
        buckets: dict[str, str | None] = {}
        token = None
        while True:
            kwargs = {"MaxBuckets": page_size, **({"ContinuationToken": token} if token else {})}
            page = client.list_buckets(**kwargs)
            for bucket in page.get("Buckets", []):
                self._listed(buckets, bucket)
            token = page.get("ContinuationToken")
            if not token:
                if len(page.get("Buckets", [])) >= page_size:
                    for bucket in client.list_buckets().get("Buckets", []):
                        if bucket["Name"] not in buckets:
                            self._listed(buckets, bucket)
                break
        return list(buckets.items())

    def _listed(self, buckets: dict[str, str | None], bucket: dict[str, Any]) -> None:
        buckets[bucket["Name"]] = bucket.get("BucketRegion")
        created = bucket.get("CreationDate")
        if created is not None:
            self.created[bucket["Name"]] = created.isoformat() if hasattr(created, "isoformat") else str(created)

    def _bucket_location(self, name: str) -> str | None:
        try:
            answer = self.scan.client("s3", self.scan.api_region).get_bucket_location(Bucket=name)
        except ClientError:  # denied or gone: unknown; a dead endpoint fails the whole S3 target
            return None
        return _location_region(answer)

    # -- tags in bulk --------------------------------------------------------------------------
    def tags_in_region(self, region: str) -> list[DiscoveredStore]:
        """GetResources (S3 only) in one region: the tags of every tagged bucket located there."""
        client = self.scan.client("resourcegroupstaggingapi", region)
        found: dict[str, dict[str, str]] = {}
        pages = client.get_paginator("get_resources").paginate(
            ResourceTypeFilters=["s3"], PaginationConfig={"PageSize": TAGS_PAGE_SIZE})
        for page in pages:
            for item in page.get("ResourceTagMappingList", []):
                arn = item.get("ResourceARN", "")
                if ":::" in arn and "/" not in arn:  # a bucket: arn:aws:s3:::name
                    found[arn.split(":::", 1)[1]] = _tag_list(item.get("Tags"))
        with self._lock:
            self.tags.update(found)
            self.tags_listed.add(region)
            self.tagged[region] = len(found)
        return []

    # -- replication in bulk: AWS Config -------------------------------------------------------
    def replication_from_config(self, region: str) -> None:
        """Replication of the region's buckets from AWS Config, where its recorder records S3 there.

        Never raises and never reports a denial to the region guard (an account without Config permissions
        must not look like a denied region): a failure only leaves the buckets to GetBucketReplication."""
        names = self.by_region().get(region, [])
        if not names or not self.scan.guard.allowed(region):
            return
        client = self.scan.client("config", region)
        try:
            with self.scan.slot("config"):
                if not _config_records_buckets(client):
                    return
                found, encryption = self._config_items(client, region, names)
        except (ClientError, BotoCoreError) as exc:
            note = f"fallback for replication, per bucket: AWS Config failed ({describe_error(exc)[0]})"
            log.warning("aws %s %s: %s", self.scan.account.id, region, note)
            self.scan.log.add(TargetResult("aws", self.scan.account.id, region, "s3:GetBucketReplication", "ok",
                                           note, len(names)))
            return
        self.scan.guard.succeeded(region, "config")
        with self._lock:
            self.config.update(found)
            self.config_sse.update(encryption)
        self.scan.log.ok("aws", self.scan.account.id, region, REPLICATION_FROM_CONFIG, len(found))

    @staticmethod
    def _config_items(client, region: str, names: list[str]
                      ) -> tuple[dict[str, Replication], dict[str, DefaultEncryption]]:
        """BatchGetResourceConfig for the buckets, 100 a call; only items that say where the bucket replicates,
        and (apart) the default encryption of the items that carry it."""
        found: dict[str, Replication] = {}
        encryption: dict[str, DefaultEncryption] = {}
        for start in range(0, len(names), CONFIG_KEYS_PER_CALL):
            chunk = set(names[start:start + CONFIG_KEYS_PER_CALL])
            keys = [{"resourceType": S3_CONFIG_TYPE, "resourceId": name} for name in sorted(chunk)]
            answer = client.batch_get_resource_config(resourceKeys=keys)
            for item in answer.get("baseConfigurationItems", []):  # unprocessedResourceKeys: read per bucket
                name = item.get("resourceId")
                replication = _config_replication(item) if item.get("awsRegion") == region else None
                if name in chunk and replication is not None:
                    found[name] = replication
                sse = _config_encryption(item) if item.get("awsRegion") == region else None
                if name in chunk and sse is not None:
                    encryption[name] = sse
        return found, encryption

    # -- per bucket: replication (and tags where GetResources failed) ----------------------------
    def read_buckets(self, region: str, names: list[str]) -> list[DiscoveredStore]:
        client = self.scan.client("s3", region)
        for index, name in enumerate(names):
            try:
                facts = self._read_bucket(client, region, name)
            except BotoCoreError as exc:  # the endpoint is gone: the rest of this batch would only time out
                error = describe_error(exc)[0]
                for unread in names[index:]:
                    self.unread[unread] = error
                raise
            if facts is None:  # the region turned out to be denied: no further call there
                return []
            self.facts[name] = facts
        return []

    def _read_bucket(self, client, region: str, name: str) -> BucketFacts | None:
        """Replication first (the fact only this call gives, and the better probe of a region whose
        GetResources was denied), then the tags if GetResources did not list the region."""
        allowed = self.scan.guard.allowed
        if not allowed(region):
            return None
        unknowns: list[str] = []
        replication = self.config.get(name) or self._kept_replication(region, name)
        if replication is None:
            replication = self._read_replication(client, region, name, unknowns)
            if not allowed(region):
                return None
        tags = None if region in self.tags_listed else self._tags(client, region, name, unknowns)
        encryption = self._encryption(client, region, name)
        replica_regions = []
        for target in replication.targets if replication else ():
            target_region = self.regions.get(target) or self._bucket_location(target)
            if target_region:
                replica_regions.append(target_region)
            else:
                unknowns.append(f"replica bucket {target}: region unreadable")
        return BucketFacts(tags, replica_regions, unknowns, replication, encryption)

    def _encryption(self, client, region: str, name: str) -> KeyFacts:
        """The bucket's default encryption (AWS Config's item, else GetBucketEncryption) and its KMS key."""
        sse = self.config_sse.get(name)
        if sse is None:
            try:
                rules = client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
            except ClientError as exc:
                if error_code(exc) != "ServerSideEncryptionConfigurationNotFoundError":
                    why = describe_error(exc)[0]
                    return KeyFacts(UNKNOWN, ENCRYPTION_READ, reason=f"s3:GetBucketEncryption: {why}")
                rules = []  # none configured: S3's base level, SSE-S3, applies to every bucket
            default = next((rule.get("ApplyServerSideEncryptionByDefault") or {} for rule in rules), {})
            sse = DefaultEncryption(default.get("SSEAlgorithm") or "AES256", default.get("KMSMasterKeyID"),
                                    ENCRYPTION_READ)
        return self.key_facts(sse, region)

    def key_facts(self, sse: DefaultEncryption, region: str) -> KeyFacts:
        """Who holds the keys of a bucket's default encryption: S3 for SSE-S3, else its KMS key's facts."""
        if sse.algorithm == "AES256":
            return service_owned("SSE-S3", sse.learned_from, region)
        return self.scan.keys.facts(sse.algorithm, sse.key, region, sse.learned_from)

    def _signature(self, region: str, name: str) -> Signature | None:
        """What the listing says of the bucket's identity; None (never reused) without a CreationDate."""
        created = self.created.get(name)
        return (region, created) if created else None

    def _kept_replication(self, region: str, name: str) -> Replication | None:
        """An earlier scan's answer, where incremental rescans are on and the bucket is unchanged in the listing."""
        signature = self._signature(region, name)
        if not self._max_age or signature is None:
            return None
        kept = REPLICATION_CACHE.get(self._cache_key, name, signature, self._max_age)
        return None if kept is None else Replication(kept.targets, REPLICATION_CACHED, kept.observed_at)

    def _tags(self, client, region: str, name: str, unknowns: list[str]) -> dict[str, str]:
        try:
            tag_set = client.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except ClientError as exc:
            if error_code(exc) == "NoSuchTagSet":
                self.scan.guard.succeeded(region, "s3:GetBucketTagging")
                return {}
            self.scan.guard.failed(region, "s3:GetBucketTagging", exc)
            unknowns.append(tags_unreadable(describe_error(exc)[0]))
            return {}
        self.scan.guard.succeeded(region, "s3:GetBucketTagging")
        return _tag_list(tag_set)

    def _read_replication(self, client, region: str, name: str, unknowns: list[str]) -> Replication | None:
        """GetBucketReplication now; None (and an unknown) if it failed. An answer is kept for later scans."""
        observed_at, read_at = now_iso(), REPLICATION_CACHE.clock()  # taken before the call: never too young
        try:
            config = client.get_bucket_replication(Bucket=name)["ReplicationConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "ReplicationConfigurationNotFoundError":
                self.scan.guard.failed(region, "s3:GetBucketReplication", exc)
                unknowns.append(f"replication unreadable ({describe_error(exc)[0]}): replicas unknown")
                return None
            config = {}  # no replication configured
        self.scan.guard.succeeded(region, "s3:GetBucketReplication")
        targets = tuple(rule.get("Destination", {}).get("Bucket", "").split(":::")[-1]
                        for rule in config.get("Rules", []) if rule.get("Status") == "Enabled")
        replication = Replication(targets, REPLICATION_READ, observed_at)
        signature = self._signature(region, name)
        if self._max_age and signature is not None:
            REPLICATION_CACHE.put(self._cache_key, name, signature, replication, read_at)
        return replication

    # -- the stores ----------------------------------------------------------------------------
    def stores(self) -> list[DiscoveredStore]:
        return [self._store(name, region) for name, region in self.regions.items()]

    def _store(self, name: str, region: str | None) -> DiscoveredStore:
        arn = f"arn:{self.scan.account.partition}:s3:::{name}"
        store = self.scan.store(arn, "s3-bucket", name, region or "unknown", {})
        if region is None:
            store.unknowns.append("bucket region unreadable (GetBucketLocation failed)")
            return store
        store.add_location(region, "primary", self.learned[name], self.listed_at)
        facts = self.facts.get(name)
        denial = self.scan.guard.denied.get(region)
        why = (f"region {region} denied ({denial})" if denial
               else self.unread.get(name, "not read"))
        if region in self.tags_listed:
            store.tags = dict(self.tags.get(name, {}))  # absent from a complete listing: no tags
        elif facts is not None and facts.tags is not None:
            store.tags = facts.tags
        else:
            store.unknowns.append(tags_unreadable(why))
        if facts is None:
            store.unknowns.append(f"replication unreadable ({why}): replicas unknown")
            store.encryption = KeyFacts(UNKNOWN, ENCRYPTION_READ, reason=f"default encryption unreadable ({why})")
            return store
        store.encryption = facts.encryption
        if facts.replication is not None:
            for replica_region in facts.replica_regions:
                store.add_location(replica_region, "replica", facts.replication.learned_from,
                                   facts.replication.observed_at)
        store.unknowns += facts.unknowns
        return store


def _location_region(answer: dict[str, Any]) -> str:
    """GetBucketLocation's answer → the region: null means us-east-1, the legacy "EU" eu-west-1 (botocore S3 model)."""
    constraint = answer.get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)


def _config_records_buckets(client) -> bool:
    """Whether the region's customer-managed Config recorder is recording S3 buckets continuously and is not
    failing (DescribeConfigurationRecorderStatus, then DescribeConfigurationRecorders only if it records)."""
    statuses = client.describe_configuration_recorder_status().get("ConfigurationRecordersStatus", [])
    recording = {status.get("name") for status in statuses
                 if status.get("recording") and str(status.get("lastStatus", "")).lower() != "failure"}
    if not recording:
        return False
    recorders = client.describe_configuration_recorders().get("ConfigurationRecorders", [])
    return any(recorder.get("name") in recording and _records_buckets_continuously(recorder)
               for recorder in recorders)


def _records_buckets_continuously(recorder: dict[str, Any]) -> bool:
    group = recorder.get("recordingGroup") or {"allSupported": True}  # the API's default: all supported types
    strategy = (group.get("recordingStrategy") or {}).get("useOnly")
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        included = S3_CONFIG_TYPE not in (group.get("exclusionByResourceTypes") or {}).get("resourceTypes", [])
    else:
        included = bool(group.get("allSupported")) or S3_CONFIG_TYPE in group.get("resourceTypes", [])
    mode = recorder.get("recordingMode") or {}
    frequency = mode.get("recordingFrequency", "CONTINUOUS")
    for override in mode.get("recordingModeOverrides", []):
        if S3_CONFIG_TYPE in override.get("resourceTypes", []):
            frequency = override.get("recordingFrequency", frequency)
    return included and frequency == "CONTINUOUS"


def _config_replication(item: dict[str, Any]) -> Replication | None:
    """The enabled replication targets of a current S3 configuration item, observed when Config captured it;
    None where the item cannot say (not current, no supplementary configuration or capture time, a replication
    document that does not parse)."""
    supplementary = item.get("supplementaryConfiguration")
    captured = _utc_seconds(item.get("configurationItemCaptureTime"))
    if item.get("configurationItemStatus") not in CONFIG_CURRENT or not supplementary or captured is None:
        return None
    learned_from = f"{REPLICATION_FROM_CONFIG} BucketReplicationConfiguration"
    raw = supplementary.get("BucketReplicationConfiguration")
    if raw is None:  # Config includes the key whenever the bucket has a replication configuration
        return Replication((), learned_from, captured)
    targets = _config_replication_targets(raw)
    return None if targets is None else Replication(targets, learned_from, captured)


@dataclass(frozen=True)
class DefaultEncryption:
    """A bucket's default encryption rule: SSEAlgorithm (AES256, aws:kms, aws:kms:dsse) and KMSMasterKeyID."""

    algorithm: str
    key: str | None
    learned_from: str


def _config_encryption(item: dict[str, Any]) -> DefaultEncryption | None:
    """The default encryption of a current S3 configuration item: `supplementaryConfiguration.
    ServerSideEncryptionConfiguration` (a JSON string `{"rules": [{"applyServerSideEncryptionByDefault":
    {"sseAlgorithm", "kmsMasterKeyID"}, "bucketKeyEnabled"}]}`); None where the item does not carry it or it does not
    parse (the bucket is then read with GetBucketEncryption)."""
    raw = (item.get("supplementaryConfiguration") or {}).get("ServerSideEncryptionConfiguration")
    if item.get("configurationItemStatus") not in CONFIG_CURRENT or raw is None:
        return None
    try:
        while isinstance(raw, str):
            raw = json.loads(raw)
        default = raw["rules"][0]["applyServerSideEncryptionByDefault"]
        algorithm = default["sseAlgorithm"]
    except (ValueError, LookupError, TypeError):
        return None
    if not isinstance(algorithm, str) or not algorithm:
        return None
    return DefaultEncryption(algorithm, default.get("kmsMasterKeyID") or None,
                             f"{REPLICATION_FROM_CONFIG} ServerSideEncryptionConfiguration")


def _utc_seconds(value: Any) -> str | None:
    """A timestamp (botocore's datetime, or ISO 8601 text) as UTC ISO 8601 to the second; None if it is not one."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:  # botocore always gives an aware time; a bare one is taken as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _config_replication_targets(raw: Any) -> tuple[str, ...] | None:
    """Bucket names of the enabled rules' destinations; None if the document is not the expected shape."""
    try:
        while isinstance(raw, str):  # a JSON string (some supplementary values are encoded twice)
            raw = json.loads(raw)
    except ValueError:
        return None
    rules = raw.get("rules") if isinstance(raw, dict) else None
    rules = list(rules.values()) if isinstance(rules, dict) else rules  # keyed by rule id; a list accepted too
    if not isinstance(rules, list):
        return None
    targets = []
    for rule in rules:
        if not isinstance(rule, dict):
            return None
        if str(rule.get("status", "")).lower() != "enabled":
            continue
        bucket_arn = (rule.get("destinationConfig") or {}).get("bucketARN")
        if not bucket_arn:
            return None  # an enabled rule whose destination is unreadable: unknown, read it per bucket
        targets.append(bucket_arn.split(":::")[-1])
    return tuple(targets)
