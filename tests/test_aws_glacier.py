"""S3 Glacier vaults (scanner/kinds.py `glacier-vault`): found per region with their tags, located in the right
country; a vault abroad fails where one at home passes; a denied ListVaults leaves the region's target not
scanned, never "no vaults"."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_glacier_vault
from demo.moto_server import MotoServer
from tests.fault_proxy import DENIED_JSON, operation_name
from tests.fixtures_aws import control_reach, places, scan_kinds, scan_kinds_denying

REGIONS = ["eu-central-1", "sa-east-1"]


def test_glacier_vaults_are_found_and_a_vault_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    home = seed_glacier_vault(clients, MANAGEMENT_ACCOUNT_ID, "archive-fra", "eu-central-1", {"data-class": "personal"})
    abroad = seed_glacier_vault(clients, MANAGEMENT_ACCOUNT_ID, "archive-gru", "sa-east-1", {})

    result, stores = scan_kinds(tmp_path, ["glacier"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {(r, "glacier", "ok") for r in REGIONS}
    fra, gru = stores["archive-fra"], stores["archive-gru"]
    assert (fra.kind, fra.id, gru.id) == ("glacier-vault", home.id, abroad.id)
    assert fra.tags == {"data-class": "personal"} and gru.tags == {}
    assert places(fra) == {("eu-central-1", "primary", "DE")}
    assert places(gru) == {("sa-east-1", "primary", "BR")}

    _, stores = scan_kinds(tmp_path, ["glacier"], REGIONS, waive=control_reach(fra))
    assert stores["archive-fra"].status == "pass", stores["archive-fra"].findings
    gru = stores["archive-gru"]
    assert gru.status == "fail" and {f.jurisdiction for f in gru.findings if not f.waiver} == {"BR"}


def test_glacier_rest_gets_are_named_and_a_denied_listing_is_not_scanned(tmp_path, moto_patched: MotoServer,
                                                                          aws_env):
    seed_glacier_vault(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "archive-gru", "sa-east-1", {})
    result, stores, calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["glacier"], REGIONS,
        lambda r: operation_name(r) == "glacier:ListVaults" and r.region == "sa-east-1", DENIED_JSON)
    # Glacier is REST-JSON: the proxy names its GETs by botocore's model (what the least-privilege test maps)
    assert {"glacier:ListVaults"} == {op for op in calls if op.startswith("glacier:")}
    assert result.status == "partial"
    assert {(t.region, t.status) for t in result.targets} == {("eu-central-1", "ok"), ("sa-east-1", "denied")}
    assert "archive-gru" not in stores
