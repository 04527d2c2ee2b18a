"""The control test on a table of cases. Every expected answer comes from the public law it names
(the `source` of each case), not from running the code: a power (who may order), a route (how the
order reaches its addressee), the route's conditions and the blocking laws it meets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import pytest

from runtime.scan import Judge
from scanner.catalog import EntityRecord, Region
from scanner.discovered import DiscoveredStore
from scanner.model import DataStore
from scanner.policy import Policy, Scope
from tests.helpers import TODAY, bucket, catalog, config, judge, reach_of

PROVIDER_ONLY_LAWS = {"us-sca", "us-cloud-act", "us-fisa-702", "gb-ipa-2016", "gb-copo-2019", "eu-e-evidence",
                      "au-ipo-2021", "hk-nsl-art43", "ru-yarovaya", "cn-nil-art7", "cn-dsl-35"}


def store(provider: str, *locations: tuple[str, str], account: str = "111111111111") -> DiscoveredStore:
    found = DiscoveredStore(id=f"{provider}:{locations[0][0]}", provider=provider, account=account,
                            kind=f"{provider}-store", name=f"s-{locations[0][0]}", region=locations[0][0])
    for region, role in locations:
        found.add_location(region, role, "test")
    return found


@dataclass(frozen=True)
class Expect:
    """What one jurisdiction's headline reach must be; None: not checked."""

    route: str
    effective: bool
    law: str | None = None
    addressee: str | None = None
    basis: str | None = None


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # where the expected answer comes from
    found: DiscoveredStore
    owner: str | None
    expect: dict[str, Expect]
    effective: set[str] | None = None  # exactly these jurisdictions reach effectively
    absent: set[str] = field(default_factory=set)
    country: str | None = None  # the account's registered country, when not the owner's
    on: dt.date = TODAY


CASES = [
    Case("us-owned-bucket-in-virginia",
         "18 U.S.C. § 2702(a) (no disclosure of content to a foreign government without a § 2523 agreement); "
         "§ 2523(a)(2), (b)(4)(A) (an agreement's orders may not target a US person, which includes a US-"
         "incorporated company); UK-US Data Access Agreement, AU-US CLOUD Act Agreement; no CA-US or IN-US agreement",
         bucket(("us-east-1", "primary")), "acme-inc",
         {"US": Expect("direct", True, "territorial", None, "location"),
          "GB": Expect("agreement", False, addressee="amazon-web-services-inc"),
          "AU": Expect("agreement", False, "au-ipo-2021", "amazon-web-services-inc"),
          "CA": Expect("mutual_legal_assistance", False, "ca-criminal-code-487-014", "amazon-web-services-inc"),
          "IN": Expect("mutual_legal_assistance", False, "in-bnss-94", "amazon-web-services-inc"),
          "EU": Expect("mutual_legal_assistance", False, "eu-e-evidence", "amazon-web-services-inc")},
         effective={"US"}),
    Case("eu-bank-in-frankfurt",
         "18 U.S.C. § 2713 (possession, custody or control: AWS, Inc. runs the region); Reg. (EU) 2023/1543 Art. 1(1) "
         "(AWS EMEA SARL is established in the Union); COPO 2019 s. 1 under the UK-US agreement (the owner is not a "
         "US person); StPO § 95 (German company's own records); territorial jurisdiction",
         bucket(("eu-central-1", "primary")), "eurobank",
         {"US": Expect("direct", True, "us-cloud-act", "amazon-web-services-inc", "control"),
          "EU": Expect("direct", True, "eu-e-evidence", "aws-emea-sarl", "establishment"),
          "DE": Expect("direct", True, "territorial", None, "location"),
          "GB": Expect("agreement", True, "gb-copo-2019", "amazon-web-services-inc"),
          "CA": Expect("mutual_legal_assistance", False)},
         effective={"US", "EU", "DE", "GB", "AU"}),
    Case("before-the-uk-us-agreement",
         "UK-US Data Access Agreement in force 3 Oct 2022 (DOJ, 3 Oct 2022); before it, 18 U.S.C. § 2702 leaves a "
         "UK order on a US provider only mutual legal assistance",
         bucket(("eu-central-1", "primary")), "eurobank",
         {"GB": Expect("mutual_legal_assistance", False, "gb-ipa-2016")}, on=dt.date(2022, 6, 1)),
    Case("japanese-owner-in-sydney",
         "Japanese Code of Criminal Procedure Art. 218, 99-2 (a Japanese company's own records, wherever held); "
         "AWS contracting party page (an account in Japan contracts with AWS Japan G.K.); territorial jurisdiction",
         bucket(("ap-southeast-2", "primary")), "nihon-kk",
         {"JP": Expect("direct", True, "jp-ccp-218", "nihon-kk", "establishment"),
          "AU": Expect("direct", True, "territorial", None, "location"),
          "US": Expect("direct", True, "us-cloud-act", "amazon-web-services-inc", "control")}),
    Case("hong-kong-is-its-own-jurisdiction",
         "HK National Security Law Art. 43 and its Implementation Rules, Sch. 7 (L.N. 139 of 2020): powers of the "
         "HKSAR Police; PRC National Intelligence Law Art. 7 binds PRC organizations, and none is in either chain",
         bucket(("ap-east-1", "primary")), "eurobank",
         {"HK": Expect("direct", True, basis="location")}, absent={"CN"}),
    Case("aws-beijing-run-by-sinnet",
         "amazonaws.cn: Beijing Sinnet operates cn-north-1; PRC Data Security Law Art. 35 and National Intelligence "
         "Law Art. 7; no US entity in any chain",
         bucket(("cn-north-1", "primary")), "eurobank",
         {"CN": Expect("direct", True, basis="location"),
          "DE": Expect("direct", True, "de-stpo-95", "eurobank")},
         effective={"CN", "DE"}, absent={"US", "GB", "EU"}),
    Case("chinese-owner-in-frankfurt",
         "PRC Criminal Procedure Law Art. 54 (units must provide evidence: the owner is a PRC company); national "
         "intelligence laws are counted as provider laws, never applied to the customer",
         bucket(("eu-central-1", "primary")), "zhongguo-co",
         {"CN": Expect("direct", True, "cn-cpl-54", "zhongguo-co", "establishment")}),
    Case("aws-european-sovereign-cloud",
         "botocore partition aws-eusc; AWS European Sovereign Cloud GmbH is reported wholly owned by A100 ROW, Inc. "
         "(Delaware): 18 U.S.C. § 2713 reaches what a US parent controls",
         bucket(("eusc-de-east-1", "primary")), "eurobank",
         {"US": Expect("direct", True, "us-cloud-act", "a100-row-inc", "control"),
          "EU": Expect("direct", True, "eu-e-evidence", "aws-european-sovereign-cloud-gmbh")}),
    Case("azure-china-run-by-21vianet",
         "docs.azure.cn: Azure China is operated by Shanghai Blue Cloud (21Vianet); PRC National Intelligence Law "
         "Art. 7; Microsoft has no equity in it",
         store("azure", ("chinanorth", "primary")), "eurobank",
         {"CN": Expect("direct", True, basis="location")}, absent={"US"}),
    Case("bleu-partner-cloud",
         "Orange newsroom 15 Jan 2024: Bleu is a joint venture of Orange SA and Capgemini SE without Microsoft "
         "equity; Reg. (EU) 2023/1543 (Bleu offers services in the Union); French Code de procédure pénale art. 60-1",
         store("azure", ("AzureBleuCloud/bleufrancecentral", "primary")), "societe-fr",
         {"FR": Expect("direct", True, basis="location"),
          "EU": Expect("direct", True, "eu-e-evidence", "bleu", "establishment")},
         effective={"FR", "EU"}, absent={"US", "GB", "AU"}),
    Case("s3ns-partner-universe",
         "S3NS (Thales majority, Google below one third, Reuters 30 Jun 2022) runs its own Google Cloud universe "
         "u-france-east1: no US entity controls it",
         store("gcp", ("u-france-east1", "primary")), "societe-fr",
         {"EU": Expect("direct", True, "eu-e-evidence", "s3ns")},
         effective={"FR", "EU"}, absent={"US"}),
    Case("google-emea-contracting-party",
         "GLEIF: Google Cloud EMEA Limited's parent is Alphabet Inc.; Google LLC runs the region; "
         "18 U.S.C. § 2713 reaches both",
         store("gcp", ("europe-west1", "primary")), "eurobank",
         {"US": Expect("direct", True, "us-cloud-act", "google-llc", "control"),
          "EU": Expect("direct", True, "eu-e-evidence", "google-cloud-emea", "establishment")}),
    Case("copy-in-tokyo",
         "territorial jurisdiction over a replica on Japanese soil",
         bucket(("eu-central-1", "primary"), ("ap-northeast-1", "replica")), "eurobank",
         {"JP": Expect("direct", True, "territorial", None, "location")}),
    Case("us-parent-subpoena",
         "Fed. R. Crim. P. 17(c); In re Marc Rich & Co., 707 F.2d 663 (2d Cir. 1983): a US parent produces records "
         "in its possession, custody or control, its subsidiaries' included. Beijing: no US entity runs the region",
         bucket(("cn-north-1", "primary")), "acme-europe",
         {"US": Expect("direct", True, "us-frcrp-17c-grand-jury", "acme-inc", "control"),
          "DE": Expect("direct", True, "de-stpo-95", "acme-europe")}),
    Case("delos-partner-cloud",
         "SAP press releases: Delos Cloud GmbH, an SAP subsidiary, runs its own cloud on Azure technology; no "
         "Microsoft entity in its chain; Reg. (EU) 2023/1543 (Delos offers services in the Union)",
         store("azure", ("AzureDelosCloud/deloscloudgermanycentral", "primary")), "eurobank",
         {"EU": Expect("direct", True, "eu-e-evidence", "delos-cloud", "establishment"),
          "DE": Expect("direct", True, basis="location")},
         effective={"DE", "EU"}, absent={"US"}),
    Case("azure-public-eea-contract",
         "Microsoft Product Terms: EEA customers contract with Microsoft Ireland Operations Limited; Microsoft "
         "Corporation runs Azure: 18 U.S.C. § 2713 reaches it directly",
         store("azure", ("westeurope", "primary")), "eurobank",
         {"US": Expect("direct", True, "us-cloud-act", "microsoft-corporation", "control"),
          "EU": Expect("direct", True, "eu-e-evidence", "microsoft-ireland-operations", "establishment"),
          "NL": Expect("direct", True, "territorial", None, "location")}),
    Case("aws-govcloud",
         "botocore partition aws-us-gov, operated by Amazon Web Services, Inc.: a US owner's data on US soil",
         bucket(("us-gov-west-1", "primary")), "acme-inc",
         {"US": Expect("direct", True, basis="location")}, effective={"US"}),
    Case("google-hong-kong",
         "HK National Security Law Art. 43 Implementation Rules (L.N. 139 of 2020); Google LLC runs asia-east2",
         store("gcp", ("asia-east2", "primary")), "eurobank",
         {"HK": Expect("direct", True, basis="location"),
          "US": Expect("direct", True, "us-cloud-act", "google-llc", "control")}, absent={"CN"}),
    Case("us-owned-before-e-evidence",
         "Reg. (EU) 2023/1543 Art. 34: applies from 18 August 2026",
         bucket(("us-east-1", "primary")), "acme-inc", {"US": Expect("direct", True, basis="location")},
         effective={"US"}, absent={"EU"}, on=dt.date(2026, 8, 1)),
    Case("german-owner-with-a-us-account",
         "AWS contracting party page: an account registered in the US contracts with AWS, Inc.; with no EU "
         "establishment in the provider chains, an e-Evidence order meets 18 U.S.C. § 2702 and needs mutual "
         "legal assistance",
         bucket(("eu-central-1", "primary")), "eurobank",
         {"EU": Expect("mutual_legal_assistance", False, "eu-e-evidence", "amazon-web-services-inc"),
          "DE": Expect("direct", True, "territorial", None, "location")}, country="US"),
    Case("danish-owner",
         "Retsplejeloven § 804 (a Danish company's duty to produce); Denmark is outside e-Evidence but its own "
         "law still reaches its companies",
         bucket(("eu-north-1", "primary")), "dansk-as",
         {"DK": Expect("direct", True, "dk-rpl-804", "dansk-as", "establishment")}),
    Case("aws-ningxia-run-by-nwcd",
         "amazonaws.cn: NWCD operates cn-northwest-1; PRC National Intelligence Law Art. 7",
         bucket(("cn-northwest-1", "primary")), "eurobank",
         {"CN": Expect("direct", True, basis="location")}, absent={"US"}),
    Case("australian-account-in-sydney",
         "AWS contracting party page: an Australian account contracts with Amazon Web Services Australia Pty Ltd, "
         "established in Australia: an international production order is not needed",
         bucket(("ap-southeast-2", "primary")), "aussie-pty",
         {"AU": Expect("direct", True, basis="location")}, effective={"AU", "US", "GB"}),
    Case("singapore-owner-in-frankfurt",
         "Criminal Procedure Code 2010 (Singapore) s. 20: an order to produce a document reaches a Singapore "
         "company's own records wherever held",
         bucket(("eu-central-1", "primary")), "singapura-pte",
         {"SG": Expect("direct", True, "sg-cpc-20", "singapura-pte", "establishment")}),
    Case("indian-account-contracts-locally",
         "AWS contracting party page (India: Amazon Web Services India Private Limited); BNSS 2023 s. 94",
         bucket(("ap-south-1", "primary")), "bharat-ltd",
         {"IN": Expect("direct", True, basis="location")}),
]

OWNERS = {
    "nihon-kk": EntityRecord("nihon-kk", "Nihon KK", "JP", (), "test"),
    "zhongguo-co": EntityRecord("zhongguo-co", "Zhongguo Co., Ltd.", "CN", (), "test"),
    "societe-fr": EntityRecord("societe-fr", "Société Française SA", "FR", (), "test"),
    "bharat-ltd": EntityRecord("bharat-ltd", "Bharat Ltd", "IN", (), "test"),
    "dansk-as": EntityRecord("dansk-as", "Dansk A/S", "DK", (), "test"),
    "aussie-pty": EntityRecord("aussie-pty", "Aussie Pty Ltd", "AU", (), "test"),
    "singapura-pte": EntityRecord("singapura-pte", "Singapura Pte Ltd", "SG", (), "test"),
}


def judged(case: Case, **kw) -> DataStore:
    cfg = config(owner=case.owner, country=case.country)
    cfg.companies.update(OWNERS)
    return judge(case.found, cfg, today=case.on, **kw)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_reach(case: Case):
    result = judged(case)
    for jurisdiction, expected in case.expect.items():
        reach = reach_of(result, jurisdiction)
        assert reach is not None, f"{jurisdiction} missing ({case.source})"
        got = Expect(reach.route, reach.effective,
                     reach.law if expected.law else None,
                     reach.addressee if expected.addressee else None,
                     reach.basis if expected.basis else None)
        assert got == expected, f"{jurisdiction}: {case.source}"
    if case.effective is not None:
        assert {r.jurisdiction for r in result.reachable_by if r.effective} == case.effective, case.source
    assert not case.absent & {r.jurisdiction for r in result.reachable_by}, case.source


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_provider_only_laws_never_bind_the_customer(case: Case):
    """e-Evidence orders, FISA directives, COPOs go to service providers, never to their customers
    (Reg. 2023/1543 Art. 2; 50 U.S.C. § 1881(b)(4); COPO 2019 s. 1)."""
    result = judged(case)
    owner_ids = {entity.id for entity in result.owner}
    for reach in result.reachable_by:
        for ground in reach.grounds:
            if ground["law"] in PROVIDER_ONLY_LAWS and ground["basis"] != "location":
                assert ground["chain"] in ("operator", "contracting_party"), (reach.jurisdiction, ground["law"])
                assert ground["addressee"] not in owner_ids


def test_the_three_chains_are_kept_apart():
    """AWS contracting party page: an EMEA account contracts with AWS EMEA SARL; AWS, Inc. still runs the region."""
    result = judge(bucket(("eu-central-1", "primary")), config(owner="eurobank"))
    assert [e.name for e in result.operator] == ["Amazon Web Services, Inc.", "Amazon.com, Inc."]
    assert [e.name for e in result.contracting_party] == ["Amazon Web Services EMEA SARL", "Amazon.com, Inc."]
    assert [e.name for e in result.owner] == ["Eurobank SE"]
    assert result.locations[0].operator == "amazon-web-services-inc"


@pytest.mark.parametrize(("country", "party"), [
    ("DE", "aws-emea-sarl"), ("JP", "aws-japan"), ("ZA", "aws-south-africa"), ("AU", "aws-australia"),
    ("BR", "aws-brazil"), ("CA", "aws-canada"), ("IN", "aws-india"), ("SG", "aws-singapore"),
    ("MY", "aws-malaysia"), ("NZ", "aws-new-zealand"), ("US", "amazon-web-services-inc"),
])
def test_account_country_picks_the_aws_contracting_party(country, party):
    """aws.amazon.com/legal/aws-contracting-party: the party follows the account's country, not the region;
    South Africa has had its own party since 1 Aug 2020."""
    result = judge(bucket(("us-east-1", "primary")), config(owner="eurobank", country=country))
    assert result.contracting_party[0].id == party
    assert result.operator[0].id == "amazon-web-services-inc"


def test_bleu_has_two_parents():
    """Orange newsroom, 15 Jan 2024: Bleu is a company Orange and Capgemini created together."""
    result = judge(store("azure", ("AzureBleuCloud/bleufrancecentral", "primary")), config(owner="eurobank"))
    assert [e.id for e in result.operator] == ["bleu", "orange-sa", "capgemini-se"]


def test_uk_condition_is_evaluated_against_the_owner():
    """18 U.S.C. § 2523(a)(2): a US-incorporated company is a US person; a German GmbH is not, even with a US
    parent."""
    us_owned = reach_of(judge(bucket(("us-east-1", "primary")), config(owner="acme-inc")), "GB")
    german = reach_of(judge(bucket(("us-east-1", "primary")), config(owner="acme-europe")), "GB")
    us_person = [c for c in us_owned.conditions if "US person" in c["text"]]
    assert [c["met"] for c in us_person] == [False] and not us_owned.effective
    assert [c["met"] for c in german.conditions if "US person" in c["text"]] == [True] and german.effective
    assert german.agreement["id"] == "uk-us-data-access-agreement"


def test_undeclared_owner_leaves_the_condition_unknown():
    """Custody cannot tell whether the order would target a US person: unknown, never true."""
    reach = reach_of(judge(bucket(("us-east-1", "primary")), config(owner=None)), "GB")
    assert {c["met"] for c in reach.conditions} == {"unknown"}


def test_conflicts_are_listed_beside_the_order():
    """GDPR Art. 48 (an EU owner's data asked for by a third-country order); Swiss Criminal Code Art. 271 (data on
    Swiss soil); 18 U.S.C. § 2702 (a US provider asked by Canada)."""
    eu = judge(bucket(("eu-central-1", "primary")), config(owner="eurobank"))
    assert "eu-gdpr-48" in {c["law"] for c in reach_of(eu, "US").conflicts}
    swiss = judge(bucket(("eu-central-2", "primary")), config(owner="eurobank"))
    assert "ch-stgb-271" in {c["law"] for c in reach_of(swiss, "US").conflicts}
    assert "us-sca-2702" in {c["law"] for c in reach_of(eu, "CA").conflicts}
    # an agreement is the exception § 2702 allows, so it is no conflict of the UK's route
    assert "us-sca-2702" not in {c["law"] for c in reach_of(eu, "GB").conflicts}
    # a union's order meets no blocking rule of its own members: e-Evidence served on Bleu (FR)
    bleu = judge(store("azure", ("AzureBleuCloud/bleufrancecentral", "primary")), config(owner="eurobank"))
    assert reach_of(bleu, "EU").conflicts == []


@pytest.mark.parametrize(("on", "expected"), [(dt.date(2026, 8, 17), False), (dt.date(2026, 8, 18), True)])
def test_e_evidence_applies_only_from_18_august_2026(on, expected):
    """Reg. (EU) 2023/1543 Art. 34: applies from 18 August 2026."""
    result = judge(bucket(("us-east-1", "primary")), config(owner="eurobank"), today=on)
    laws = {g["law"] for reach in result.reachable_by for g in reach.grounds}
    assert ("eu-e-evidence" in laws) is expected


def test_denmark_is_not_bound_by_e_evidence():
    """Reg. (EU) 2023/1543 does not bind Denmark (Protocol No 22): a provider established and offering
    services only in Denmark is out of its reach; Danish soil still counts."""
    base = catalog()
    cat = replace(base, entities={**base.entities, "dk-cloud": EntityRecord(
        "dk-cloud", "DK Cloud ApS", "DK", (), "test", offers_services_in=("DK",))},
        regions={**base.regions, ("aws", "dk-1"): Region("aws", "dk-1", "Denmark", "DK", None, "dk",
                                                        "dk-cloud", "test")})
    policies = [Policy("home", ("DE",), Scope())]
    result = Judge(cat, config(owner="eurobank"), policies, [], TODAY).judge(bucket(("dk-1", "primary")))
    assert reach_of(result, "EU") is None
    assert reach_of(result, "DK").basis == "location"


@pytest.mark.parametrize(("on", "flagged"), [(dt.date(2026, 3, 1), False), (dt.date(2026, 11, 27), True)])
def test_fisa_702_past_its_sunset_is_kept_but_flagged(on, flagged):
    """Pub. L. 118-49 (RISAA): § 702 reauthorised to 20 April 2026; its force after that is unverified, so it is
    applied and the ground says so."""
    result = judge(bucket(("eu-central-1", "primary")), config(owner="eurobank"), today=on)
    ground = next(g for g in reach_of(result, "US").grounds if g["law"] == "us-fisa-702")
    assert any("sunset" in note for note in ground["notes"]) is flagged


def test_headline_orders_jurisdictions_by_strength_not_alphabet():
    """A copy on the soil before direct control before an agreement before mutual legal assistance."""
    result = judge(bucket(("us-east-1", "primary")), config(owner="acme-inc"))
    assert result.reachable_by[0].jurisdiction == "US"
    routes = [(r.effective, r.route) for r in result.reachable_by]
    assert routes == sorted(routes, key=lambda item: (not item[0], ("direct", "agreement",
                                                                     "mutual_legal_assistance").index(item[1])))
    assert "United Kingdom" not in result.status_reason


def test_policy_counts_effective_reach_unless_told_otherwise():
    """A US-owned bucket in Virginia under a US-home policy passes: the UK, Australia, Canada, India and the EU
    reach it only by routes that are not effective. Counting every route fails it."""
    found = bucket(("us-east-1", "primary"))
    default = judge(found, config(owner="acme-inc"), policies=[Policy("us", ("US",), Scope())])
    assert default.status == "pass"
    every = Policy("us-all", ("US",), Scope(), count_routes=("direct", "agreement", "mutual_legal_assistance"))
    strict = judge(found, config(owner="acme-inc"), policies=[every])
    assert strict.status == "fail"
    assert {f.jurisdiction for f in strict.findings} == {"GB", "AU", "CA", "IN", "EU"}
    assert {f.route for f in strict.findings if f.jurisdiction in ("CA", "IN")} == {"mutual_legal_assistance"}


def test_one_finding_per_jurisdiction_however_many_policies():
    found = bucket(("eu-central-1", "primary"), tags={"data-class": "personal"})
    policies = [Policy("eu-personal", ("EU",), Scope(tags={"data-class": "personal"}), severity="critical"),
                Policy("home", ("EU",), Scope(), severity="high")]
    result = judge(found, config(owner="eurobank"), policies=policies)
    jurisdictions = [f.jurisdiction for f in result.findings]
    assert len(jurisdictions) == len(set(jurisdictions))
    us = next(f for f in result.findings if f.jurisdiction == "US")
    assert us.severity == "critical" and us.policy == "eu-personal" and us.policies == ["eu-personal", "home"]


def test_region_missing_from_catalog_is_not_evaluated_never_pass():
    result = judge(bucket(("mars-north-1", "primary")), config(owner="acme-inc"), home=("US", "GB"))
    assert result.findings == []
    assert result.locations[0].country == "unknown"
    assert result.status == "not_evaluated"
    assert "mars-north-1 is not in the catalog" in result.status_reason


def test_undeclared_owner_blocks_a_pass():
    # an unknown owner leaves the UK's and Australia's agreement conditions unknown: their reach is effective
    home = ("US", "GB", "AU")
    result = judge(bucket(("us-east-1", "primary"), account="999999999999"), config(owner=None), home=home)
    assert result.findings == []
    assert result.status == "not_evaluated"
    assert "owner of account 999999999999 not declared" in result.status_reason
