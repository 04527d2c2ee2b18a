"""The catalog against machine-readable sources: botocore's partition and endpoint data."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest

from policies.catalog_loader import load_catalog
from scanner.catalog import is_country
from scanner.errors import InputError

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"


def botocore_regions() -> dict[str, str]:
    """region -> partition for every real region botocore knows (pseudo `*-global` excluded)."""
    regions: dict[str, str] = {}
    for partition in json.loads((BOTOCORE_DATA / "partitions.json").read_text())["partitions"]:
        regions.update({r: partition["id"] for r in partition["regions"] if not r.endswith("-global")})
    for partition in json.loads((BOTOCORE_DATA / "endpoints.json").read_text())["partitions"]:
        regions.update({r: partition["partition"] for r in partition["regions"]})
    return regions


def test_every_region_botocore_knows_is_in_the_catalog_with_the_same_partition():
    catalog = load_catalog()
    known = botocore_regions()
    assert len(known) > 40
    missing = sorted(r for r in known if catalog.region("aws", r) is None)
    assert missing == [], f"botocore knows regions the catalog lacks: {missing}"
    wrong = {r: (catalog.region("aws", r).partition, p) for r, p in known.items()
             if catalog.region("aws", r).partition != p}
    assert wrong == {}


def test_every_partition_named_in_the_brief_is_covered():
    partitions = {r.partition for r in load_catalog().regions.values() if r.provider == "aws"}
    assert {"aws", "aws-cn", "aws-us-gov", "aws-eusc", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"} <= partitions


def test_every_fact_names_its_source_and_every_country_is_iso():
    catalog = load_catalog()
    for region in catalog.regions.values():
        assert region.source.strip(), region.id
        assert region.spans or is_country(region.country), region.id
    for entity in catalog.entities.values():
        assert entity.source.strip() and is_country(entity.country), entity.id
    for law in catalog.laws:
        assert law.source.strip() and law.citation.strip(), law.id


def test_traps_from_the_legal_facts():
    catalog = load_catalog()
    assert catalog.region("aws", "ap-east-1").country == "HK"
    assert catalog.region("aws", "ap-east-2").country == "TW"
    assert catalog.region("aws", "eu-isoe-west-1").unverified  # country only inferred from a DNS suffix
    assert catalog.region("aws", "cn-north-1").operator == "beijing-sinnet"
    assert catalog.region("aws", "cn-northwest-1").operator == "nwcd"
    assert catalog.entities["google-cloud-emea"].parents == ("alphabet-inc",)  # GLEIF: not Google LLC
    assert catalog.entities["aws-emea-sarl"].lei is None


def test_required_laws_are_present():
    ids = {law.id for law in load_catalog().laws}
    assert {"us-sca", "us-cloud-act", "us-fisa-702", "gb-ipa-2016", "gb-copo-2019", "cn-nil-art7", "cn-dsl-35",
            "eu-e-evidence", "ru-242-fz", "territorial", "hk-nsl-art43", "au-ipo-2021", "in-bnss-94"} <= ids


# The list: the home state of an owner in each of these reaches the owner's own records.
RECORDS_JURISDICTIONS = {"US", "DE", "FR", "IE", "IT", "ES", "NL", "SE", "PL", "AT", "BE", "FI", "DK", "GB", "CH",
                         "JP", "AU", "CA", "IN", "SG", "KR", "BR", "HK", "CN"}
PROVIDER_ONLY = {"us-sca", "us-cloud-act", "us-fisa-702", "gb-ipa-2016", "gb-copo-2019", "eu-e-evidence",
                 "au-ipo-2021", "ru-yarovaya", "hk-nsl-art43", "cn-nil-art7", "cn-dsl-35"}


def test_owners_home_states_have_a_records_law_and_provider_laws_bind_only_providers():
    catalog = load_catalog()
    owner_laws = {law.jurisdiction for law in catalog.laws if "owner" in law.chains}
    assert owner_laws >= RECORDS_JURISDICTIONS
    for law in catalog.laws:
        if law.id in PROVIDER_ONLY:
            assert "owner" not in law.chains, law.id


def test_every_eu_member_with_a_cloud_region_has_a_records_law():
    catalog = load_catalog()
    eu = catalog.unions["EU"].members
    with_regions = {r.country for r in catalog.regions.values() if r.country in eu}
    assert with_regions <= {law.jurisdiction for law in catalog.laws if "owner" in law.chains}


def test_agreements_and_validity_windows():
    """UK-US in force 3 Oct 2022 (DOJ); e-Evidence from 18 Aug 2026 without Denmark (Reg. 2023/1543); FISA 702
    reauthorised to 20 Apr 2026 (Pub. L. 118-49), status after unverified; no CA-US, IN-US or EU-US agreement."""
    import datetime as dt

    catalog = load_catalog()
    assert catalog.agreement("GB", "US", dt.date(2022, 10, 2)) is None
    assert catalog.agreement("GB", "US", dt.date(2022, 10, 3)).id == "uk-us-data-access-agreement"
    assert catalog.agreement("US", "GB", dt.date(2022, 10, 3)).id == "uk-us-data-access-agreement"
    for issuing in ("CA", "IN", "EU", "JP"):
        assert catalog.agreement(issuing, "US", dt.date(2026, 12, 1)) is None
    laws = {law.id: law for law in catalog.laws}
    assert laws["eu-e-evidence"].excludes == ("DK",)
    fisa = laws["us-fisa-702"].validity
    assert fisa.applies_until == dt.date(2026, 4, 20) and fisa.status == "unverified"
    assert laws["hk-nsl-art43"].jurisdiction == "HK"


def test_no_fact_cites_a_local_file():
    """A user's clone of the project is no evidence: every source is public."""
    from policies.catalog_loader import LOCAL_PATH

    catalog = load_catalog()
    facts = [*catalog.regions.values(), *catalog.entities.values(), *catalog.laws, *catalog.agreements,
             *catalog.blocking, *catalog.contracting]
    local = [(getattr(f, "id", None), f.source) for f in facts if LOCAL_PATH.search(f.source)]
    assert local == []
    for path in (Path(__file__).parent.parent / "policies" / "catalog").rglob("*.yaml"):
        assert "../" not in path.read_text(), path


def copy_catalog(tmp_path: Path) -> Path:
    source = Path(__file__).parent.parent / "policies" / "catalog"
    target = tmp_path / "catalog"
    (target / "regions").mkdir(parents=True)
    (target / "laws").mkdir()
    for path in source.rglob("*.yaml"):
        (target / path.relative_to(source)).write_text(path.read_text())
    return target


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("laws/providers.yaml", "triggers: [control]", "triggers: [kontrol]", "'kontrol' is not one of"),
    ("laws/providers.yaml", "jurisdiction: RU", "jurisdiction: XX", "unknown jurisdiction 'XX'"),
    ("laws/providers.yaml", "chains: [operator, contracting_party]", "chains: [customer]", "'customer' is not one of"),
    ("laws/providers.yaml", "status: unverified", "status: maybe", "'maybe' is not one of"),
    ("laws/providers.yaml", "source: \"18 U.S.C. §§ 2701-2713", "source: \"./notes/sources.txt",
     "is a local file"),
    ("entities.yaml", "parent: amazon-com-inc", "parent: amazon-holdings", "unknown parent entity 'amazon-holdings'"),
    ("agreements.yaml", "test: owner_not_of_receiving_state", "test: owner_is_nice", "'owner_is_nice' is not one of"),
    ("regions/aws.yaml", "country: DE", "country: Germany", "'Germany' is not an ISO 3166-1"),
    ("regions/aws.yaml", "partition: aws-cn, operator: beijing-sinnet", "partition: aws-cn, operator: sinnet",
     "unknown entity 'sinnet'"),
])
def test_bad_catalog_data_stops_with_one_line_naming_file_and_line(tmp_path, file, old, new, expected):
    directory = copy_catalog(tmp_path)
    path = directory / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if new in row)
    with pytest.raises(InputError) as error:
        load_catalog(directory)
    message = str(error.value)
    assert "\n" not in message and expected in message
    assert message.startswith(f"{path}:")
    assert abs(error.value.line - line) <= 2  # the entry's line (a key inside a flow mapping shares it)
