"""One full inventory of a simulated AWS Organization, through an AWS Config aggregator and per account, in one run.

    .venv/bin/python -m bench.org_aws                                   # 200 accounts, 17 regions
    .venv/bin/python -m bench.org_aws --accounts 20 --json /tmp/org.json   # a quick look

The estate is demo/aws_org.py's, seeded over HTTP on one moto server (patches: the estate's plus
`config_aggregator_query`): an Organization of `--accounts` accounts; in each, round-robin over the `--regions`
classic regions, one S3 bucket (half tagged; the management account's first one replicating to a second), one
DynamoDB table, and every other account one RDS instance (every fourth KMS-encrypted). An organization aggregator
over all regions lives in the management account. The same `AwsProvider` (services s3, dynamodb, rds; the
`--regions` regions) then inventories it twice over HTTP: per account (AssumeRole into each member, every region's
reads) and with `config_aggregator`. Reported for each: the API calls the server answered (its access log), wall
time, stores found, and whether both found the same stores (every fact but where it was learned). moto answers on
loopback in ~1-2 ms; real AWS's round trips are 10-100× longer, so the per-account path's wall time grows with
its call count there. Results: bench/results/org-aws-latest.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

from demo.aws_org import AGGREGATOR, put_org_aggregator, seed_org, store_facts
from demo.moto_patches import ESTATE_PATCHES
from demo.moto_server import MotoServer, start_moto
from providers.aws import AwsProvider, AwsSettings
from providers.base import TargetLog

# the 17 regions enabled by default in every AWS account (the opt-in regions are not)
REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
           "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
           "ap-southeast-1", "ap-southeast-2", "ap-south-1")
RESULTS = Path(__file__).resolve().parent / "results" / "org-aws-latest.json"


def inventory(server: MotoServer, regions: tuple[str, ...], **settings: Any) -> tuple[dict[str, Any], dict]:
    server.clear_log()
    log = TargetLog()
    provider = AwsProvider(AwsSettings(organization=True, regions=regions, services=("s3", "dynamodb", "rds"),
                                       max_accounts=8, **settings))
    started = time.perf_counter()
    stores = list(provider.discover(log))
    seconds = time.perf_counter() - started
    failed = [t for t in log.results if t.status != "ok"]
    return {"api_calls": len(server.request_log()), "seconds": round(seconds, 2), "stores": len(stores),
            "failed_targets": len(failed)}, store_facts(stores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--regions", type=int, default=len(REGIONS), help=f"at most {len(REGIONS)}")
    parser.add_argument("--json", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    regions = REGIONS[:args.regions]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    with start_moto((*ESTATE_PATCHES, "config_aggregator_query")) as server:
        started = time.perf_counter()
        seeded = seed_org(server.url, args.accounts, regions)
        put_org_aggregator(server.url)
        seed_seconds = time.perf_counter() - started
        os.environ["AWS_ENDPOINT_URL"] = server.url
        per_account, per_account_facts = inventory(server, regions)
        bulk, bulk_facts = inventory(server, regions, config_aggregator=AGGREGATOR)
    result = {
        "benchmark": "org_aws", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "accounts": args.accounts, "regions": len(regions), "seeded_stores": len(seeded.stores),
        "seed_seconds": round(seed_seconds, 1), "per_account": per_account, "aggregator": bulk,
        "same_stores": per_account_facts == bulk_facts,
        "every_seeded_store_found": {v[2] for v in bulk_facts.values()} == set(seeded.stores),
        "calls_ratio": round(per_account["api_calls"] / max(1, bulk["api_calls"]), 1),
        "time_ratio": round(per_account["seconds"] / max(0.01, bulk["seconds"]), 1),
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
