"""The dashboard in a real browser: Debian's chromium driven by Playwright, against `agent.py serve`.

The estate is the demo's (`demo.run.run_demo`): three clouds on local emulators, scanned into a
state store. The dashboard is the documented command, `python agent.py serve --config FILE`,
on a free port of 127.0.0.1. Screenshots of every page are saved under tests/artifacts/.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies.catalog_loader import load_catalog
from state.schema import stores_table
from state.store import StateStore
from tests.needs import require

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "browser-test-password-1"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PROXY = "127.0.0.2"

@pytest.fixture(scope="module", autouse=True)
def _browser_installed() -> None:
    """Chromium and Playwright, or skip (fail under CI=true: tests/needs.py)."""
    if importlib.util.find_spec("playwright") is None:
        require("playwright is not installed (pip install -e '.[test]')")
    require(None if Path(CHROMIUM).exists() else
            "Debian chromium is not installed (apt-get install chromium; scripts/system-deps.sh)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Agent:
    """`python agent.py serve --config FILE` as a subprocess, stopped by its own pid."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "CUSTODY_DASHBOARD_PASSWORD": PASSWORD}
        self.log = log.open("w")
        self.process = subprocess.Popen([sys.executable, str(ROOT / "agent.py"), "serve", "--config", str(config)],
                                        cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/static/app.css", timeout=2).close()
                return
            except (urllib.error.URLError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"agent.py serve did not start: {log.read_text()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from demo.run import run_demo

    folder = tmp_path_factory.mktemp("demo")
    assert run_demo(folder) == 0
    return folder


def config_with(demo: Path, name: str, section: str) -> Path:
    path = demo / name
    path.write_text((demo / "config.yaml").read_text() + "dashboard:\n" + section)
    return path


@pytest.fixture(scope="module")
def agent(demo) -> Iterator[Agent]:
    port = free_port()
    config = config_with(demo, "dashboard.yaml", f"  port: {port}\n  max_failed_signins: 5\n")
    served = Agent(config, port, demo / "serve.log")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def sso_agent(demo) -> Iterator[Agent]:
    port = free_port()
    config = config_with(demo, "sso.yaml", f"  port: {port}\n  auth: trusted_header\n  trusted_proxies: [{PROXY}]\n")
    served = Agent(config, port, demo / "sso.log")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser, agent):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(f"{message.text} {message.location}")
              if message.type == "error" else None)
    opened.goto(agent.url + "/")
    assert "/signin" in opened.url
    opened.screenshot(path=str(ARTIFACTS / "signin.png"), full_page=True)
    opened.fill("#username", "dpo@example.com")
    opened.fill("#password", PASSWORD)
    opened.click("button[type=submit]")
    opened.wait_for_url(agent.url + "/")
    opened.errors = errors
    yield opened
    context.close()


def shot(page, name: str) -> None:
    """The first screen as a person sees it, and the whole page when it is longer."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if page.evaluate("document.documentElement.scrollHeight") > page.viewport_size["height"]:
        page.screenshot(path=str(ARTIFACTS / f"{name}-full.png"), full_page=True)


def present_documents(demo: Path) -> list[dict]:
    with StateStore(str(demo / "custody.db")) as state, state.reading() as conn:
        from sqlalchemy import select

        return [row.document for row in conn.execute(select(stores_table.c.document).where(
            stores_table.c.gone_at.is_(None)))]


def test_overview_counts_match_the_state_store(page, demo):
    documents = present_documents(demo)
    assert page.text_content("#count-total").strip() == str(len(documents))
    for status in ("fail", "pass", "not_evaluated", "not_applicable"):
        assert page.text_content(f"#count-{status}").strip() == str(sum(1 for d in documents if d["status"] == status))
    for provider in ("aws", "azure", "gcp"):
        cell = page.text_content(f"#by-provider td[data-provider={provider}]").strip()
        assert cell == str(sum(1 for d in documents if d["provider"] == provider))
    us = sum(1 for d in documents if any(r["jurisdiction"] == "US" for r in d["reachable_by"]))
    assert page.text_content("#by-jurisdiction td[data-jurisdiction=US]").strip() == str(us)
    assert "no owner declared" in page.text_content("#coverage-gaps")  # the demo's sandbox account
    shot(page, "overview")


def test_map_shows_the_right_countries_in_both_views(page, agent, demo):
    documents = present_documents(demo)
    page.goto(agent.url + "/map")
    coloured = set(page.eval_on_selector_all("#world-map path.has-data", "els => els.map(e => e.dataset.code)"))
    assert coloured == {loc["country"] for d in documents for loc in d["locations"]}
    links = set(page.eval_on_selector_all("#world-map path.link", "els => els.map(e => e.dataset.from + e.dataset.to)"))
    assert "DEUS" in links  # the demo's Frankfurt buckets and databases replicate to Virginia
    shot(page, "map-where")
    page.click("#view-compel")
    page.wait_for_url("**/map?view=compel")
    reached = set(page.eval_on_selector_all("#world-map path.reach", "els => els.map(e => e.dataset.code)"))
    assert reached == {r["jurisdiction"] for d in documents for r in d["reachable_by"]} - {"EU"}
    outlined = set(page.eval_on_selector_all("#world-map path.union-eu", "els => els.map(e => e.dataset.code)"))
    assert outlined == set(load_catalog().unions["EU"].members)
    shot(page, "map-compel")
    page.click("#zoom-europe")
    page.wait_for_url("**/map?*zoom=europe*")
    assert set(page.eval_on_selector_all("#world-map path.reach", "els => els.map(e => e.dataset.code)")) == reached
    shot(page, "map-compel-europe")
    page.goto(agent.url + "/map?view=compel")
    # clicking a country opens the stores its law reaches, and why
    page.click("#world-map a.country-link[data-code=JP] path")
    page.wait_for_url("**/jurisdiction/JP")
    expected = sum(1 for d in documents if any(r["jurisdiction"] == "JP" for r in d["reachable_by"]))
    assert page.text_content("#reached-total").strip() == f"{expected:,}"


BASIS_STRENGTH = ("location", "control", "establishment", "offering_services")


def strongest(entry: dict) -> dict:
    """The ground a jurisdiction's entry is led by: itself under the reach contract, else the strongest basis."""
    if "route" in entry:
        return entry
    grounds = [entry, *(entry.get("grounds") or [])]
    return min(grounds, key=lambda g: BASIS_STRENGTH.index(g["basis"]) if g["basis"] in BASIS_STRENGTH else 9)


def test_jurisdiction_view_matches_the_json_report(page, agent, demo):
    """Every store the US reaches, with basis, route, addressee, law, citation and path as the scan's report says."""
    report = json.loads((demo / "report.json").read_text())
    expected = {}
    for store in report["stores"]:
        entry = next((r for r in store["reachable_by"] if r["jurisdiction"] == "US"), None)
        if entry:
            ground = strongest(entry)
            expected[store["id"]] = {
                "basis": ground["basis"], "route": ground.get("route") or "direct",
                "addressee": ground.get("addressee_name") or ground.get("addressee") or "", "law": ground["law"],
                "citation": ground["citation"], "path": ground.get("path_text") or " → ".join(ground["path"]),
            }
    assert expected, "the demo estate has stores the US reaches"
    page.goto(agent.url + "/")
    page.click("#by-jurisdiction a[href='/jurisdiction/US']")
    page.wait_for_url("**/jurisdiction/US")
    page.goto(agent.url + "/jurisdiction/US?per_page=500")
    shown = page.eval_on_selector_all("#reach-table tbody tr[data-store-id]", """rows => rows.map(r => [
        r.dataset.storeId,
        Object.fromEntries([...r.querySelectorAll('td[data-col]')].map(
            c => [c.dataset.col, c.firstChild ? c.firstChild.textContent.trim() : '']))])""")
    got = {store_id: {k: v for k, v in cells.items() if k in expected[store_id]} for store_id, cells in shown}
    assert got == expected
    groups = {(g.get_attribute("data-basis"), g.get_attribute("data-route")):
              int(g.locator("td[data-count=stores]").text_content().replace(",", ""))
              for g in page.locator("#reach-groups tbody tr").all()}
    assert sum(groups.values()) == len(expected)
    assert groups == {key: sum(1 for e in expected.values() if (e["basis"], e["route"]) == key) for key in groups}
    shot(page, "jurisdiction-US")
    with page.expect_download() as download:
        page.click("#export-csv")
    with open(download.value.path(), encoding="utf-8") as handle:
        exported = {row["store_id"]: row for row in csv.DictReader(handle)}
    assert {sid: {k: row[k] for k in expected[sid]} for sid, row in exported.items()} == expected


def test_filter_by_jurisdiction_open_a_store_and_export_csv(page, agent, demo):
    documents = present_documents(demo)
    page.goto(agent.url + "/inventory")
    shot(page, "inventory")
    page.select_option("#filter-jurisdiction", ["HK"])  # a multi-select: choose, then apply
    page.click("#apply-filters")
    page.wait_for_url("**/inventory?*jurisdiction=HK*")
    expected = {d["id"] for d in documents if any(r["jurisdiction"] == "HK" for r in d["reachable_by"])}
    assert expected, "the demo estate has stores in Hong Kong"
    assert page.text_content("#result-total").strip() == str(len(expected))
    rows = set(page.eval_on_selector_all("#inventory-table tbody tr[data-store-id]",
                                         "els => els.map(e => e.dataset.storeId)"))
    assert rows == expected
    shot(page, "inventory-filtered-HK")

    with page.expect_download() as download:
        page.click("#export-csv")
    path = download.value.path()
    with open(path, encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert {row["id"] for row in exported} == expected
    assert all("HK:" in row["reachable_by"] for row in exported)
    shutil.copy(path, ARTIFACTS / "inventory-HK.csv")

    page.click("#inventory-table a.store-link >> nth=0")
    page.wait_for_url("**/store?id=*")
    reach = page.locator("article.reach[data-jurisdiction=HK]")
    path_text = reach.locator(".path").text_content()
    assert "Hong Kong" in reach.locator("h3").text_content()
    store_id = page.text_content("#store-id").strip()
    document = next(d for d in documents if d["id"] == store_id)
    [hk] = [r for r in document["reachable_by"] if r["jurisdiction"] == "HK"]
    assert hk["citation"] in path_text  # the path names the law
    assert hk["citation"] in reach.locator(".sentence").text_content()
    shot(page, "store")


def test_filters_take_several_values_at_once(page, agent, demo):
    documents = present_documents(demo)
    page.goto(agent.url + "/inventory")
    page.select_option("#filter-provider", ["azure", "gcp"])
    page.select_option("#filter-country", ["DE", "US"])
    page.click("#apply-filters")
    page.wait_for_url("**/inventory?*provider=gcp*")
    expected = sum(1 for d in documents if d["provider"] in ("azure", "gcp")
                   and {loc["country"] for loc in d["locations"]} & {"DE", "US"})
    assert expected, "the demo has Azure or GCP stores in Germany or the US"
    assert page.text_content("#result-total").strip() == f"{expected:,}"
    chips = page.eval_on_selector_all("a.chip", "els => els.map(e => e.textContent.trim())")
    assert {"provider: azure ✕", "provider: gcp ✕", "country: DE ✕", "country: US ✕"} <= set(chips)


def test_tag_filter_is_search_as_you_type(page, agent, demo):
    documents = present_documents(demo)
    tag = next(f"{k}={v}" for d in documents for k, v in sorted((d.get("tags") or {}).items()))
    page.goto(agent.url + "/inventory")
    page.fill("#filter-tag", tag[:3])  # the page fetches the values that start so, into the datalist
    page.wait_for_selector("#tag-values option", state="attached")
    offered = page.eval_on_selector_all("#tag-values option", "els => els.map(e => e.value)")
    assert tag in offered and all(value.startswith(tag[:3]) for value in offered)
    page.fill("#filter-tag", tag)
    page.press("#filter-tag", "Enter")
    page.wait_for_url("**/inventory?*tag=*")
    key, _, value = tag.partition("=")
    expected = sum(1 for d in documents if (d.get("tags") or {}).get(key) == value)
    assert page.text_content("#result-total").strip() == f"{expected:,}"


def test_other_pages_render(page, agent, demo):
    for name, path, marker in (
        ("findings", "/findings", "#findings-table"),
        ("findings-waived", "/findings?state=waived", "#findings-table"),
        ("scans", "/scans", "#scans-table"),
        ("catalog-laws", "/catalog?table=laws", "#catalog-table"),
        ("catalog-regions", "/catalog?table=regions&provider=aws", "#catalog-table"),
        ("api", "/api/docs", "h1"),
    ):
        response = page.goto(agent.url + path)
        assert response.status == 200, path
        assert page.locator(marker).count() == 1, path
        shot(page, name)
    page.goto(agent.url + "/scans")
    page.click("#scans-table tbody tr >> nth=0 >> a.mono")
    page.wait_for_url("**/scans/*")
    assert page.text_content("#scan-status").strip() == "complete"
    shot(page, "scan")
    page.click("#evidence-link")
    page.wait_for_url("**/report")
    assert page.locator("article.store").count() == len(present_documents(demo))
    shot(page, "evidence-report")
    page.pdf(path=str(ARTIFACTS / "evidence-report.pdf"), format="A4")  # as an auditor would print it
    assert page.errors == []  # no CSP violation, no script error on any page


def test_wrong_password_is_refused(browser, agent):
    context = browser.new_context()
    opened = context.new_page()
    opened.goto(agent.url + "/signin")
    opened.fill("#username", "dpo@example.com")
    opened.fill("#password", "not-the-password")
    opened.click("button[type=submit]")
    opened.wait_for_selector("#signin-error")
    assert "Wrong password" in opened.text_content("#signin-error")
    assert "/signin" in opened.url
    assert not [c for c in context.cookies() if c["name"] == "custody_session"]
    shot(opened, "signin-wrong-password")
    assert opened.goto(agent.url + "/inventory").url.startswith(agent.url + "/signin")
    context.close()


def test_forged_trusted_header_is_refused(browser, sso_agent):
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "ceo@example.com"})
    opened = context.new_page()
    response = opened.goto(sso_agent.url + "/")
    assert response.status == 403
    assert "single sign-on proxy" in opened.text_content("#error-message")
    assert "ceo@example.com" not in opened.content()
    shot(opened, "sso-forged-header")
    context.close()


def test_sign_in_through_an_openid_provider_on_another_site(browser, demo, monkeypatch):
    """auth: oidc in Chromium: to the provider (another site: localhost), back with a code, signed in by name.
    The session cookie is SameSite=Strict, so the return from the provider must still leave the browser signed in."""
    from tests.oidc_provider import provider

    monkeypatch.setenv("CUSTODY_TEST_OIDC_SECRET", "browser-client-secret")
    port = free_port()
    with provider(host="localhost") as (issuer, front):
        section = (f"  port: {port}\n  auth: oidc\n  oidc_issuer: {issuer}\n  oidc_client_id: custody\n"
                   f"  oidc_client_secret_env: CUSTODY_TEST_OIDC_SECRET\n  public_url: http://127.0.0.1:{port}\n")
        served = Agent(config_with(demo, "oidc.yaml", section), port, demo / "oidc.log")
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        try:
            opened = context.new_page()
            opened.goto(served.url + "/inventory")
            assert "/signin" in opened.url
            opened.click("#signin-oidc")
            opened.wait_for_url(issuer + "/oauth2/authorize*")
            opened.fill("input[name=sub]", "dpo@example.com")
            opened.click("form button[type=submit]:not([value=deny])")
            opened.wait_for_url(served.url + "/inventory")
            assert opened.text_content("#signed-in-user") == "dpo@example.com"
            assert front.authorize_requests[-1]["code_challenge_method"] == "S256"
            shot(opened, "signed-in-with-oidc")
            opened.click("text=Sign out")
            opened.wait_for_url(served.url + "/signin")
            assert opened.goto(served.url + "/inventory").url.startswith(served.url + "/signin")
        finally:
            context.close()
            served.stop()
