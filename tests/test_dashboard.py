"""The dashboard over HTTP: sign-in and its refusals, headers, read-only API, filters, pagination, exports.

Each app is served by a real uvicorn on 127.0.0.1 (a free port) over a state store with known
contents (dashboard.synthetic); requests go through http.client, from a chosen loopback
source address where the test is about who is asking.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
import uvicorn
from sqlalchemy import delete, func, select

from dashboard.app import create_app
from dashboard.synthetic import Estate, write_estate
from dashboard.worldmap import WorldMap
from policies.catalog_loader import load_catalog
from runtime.config import load_config
from runtime.serve import uvicorn_options
from scanner.errors import InputError
from state.schema import store_facets_table
from state.store import StateStore

PASSWORD = "correct horse battery staple"
USER = "dpo@example.com"
PROXY = "127.0.0.2"  # the SSO proxy's address in trusted-header tests
STORES = 150


# ---- serving ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        options = uvicorn_options("127.0.0.1", self.port)
        self.server = uvicorn.Server(uvicorn.Config(app, **options, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)

    def cookies(self) -> dict[str, str]:
        return {c.split("=", 1)[0]: c for c in self.headers.get_all("set-cookie") or []}


@dataclass
class Client:
    port: int
    source: str = "127.0.0.1"
    jar: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30, source_address=(self.source, 0))
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, data, sent)
        response = conn.getresponse()
        reply = Reply(response.status, response.headers, response.read())
        conn.close()
        for cookie in reply.headers.get_all("set-cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if value and "max-age=0" not in cookie.lower():
                self.jar[name] = value
            else:
                self.jar.pop(name, None)
        return reply

    def get(self, path: str, **kwargs) -> Reply:
        return self.request("GET", path, **kwargs)

    def csrf(self) -> str:
        page = self.get("/signin")
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def sign_in(self, password: str = PASSWORD, origin: str | None = "self", name: str = USER) -> Reply:
        token = self.csrf()
        headers = {"Origin": f"http://127.0.0.1:{self.port}"} if origin == "self" else (
            {"Origin": origin} if origin else {})
        form = {"username": name, "password": password, "csrf": token, "next": "/inventory"}
        return self.request("POST", "/signin", form, headers=headers)


def write_config(tmp: Path, state: str, dashboard: str) -> Path:
    secret = tmp / "dashboard-password"
    secret.write_text(PASSWORD + "\n")
    path = tmp / "config.yaml"
    path.write_text(f"home: EU\nstate: {state}\ndashboard:\n  password_file: {secret}\n{dashboard}")
    return path


def serve(tmp: Path, state: str, dashboard: str = "") -> Served:
    config = load_config(str(write_config(tmp, state, dashboard)), load_catalog())
    return Served(create_app(config, state))


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> tuple[str, Estate]:
    folder = tmp_path_factory.mktemp("dashboard-state")
    location = str(folder / "custody.db")
    with StateStore(location) as state:
        return location, write_estate(state, STORES)


@pytest.fixture(scope="module")
def server(estate, tmp_path_factory) -> Iterator[Served]:
    served = serve(tmp_path_factory.mktemp("dashboard-config"), estate[0], "  max_failed_signins: 3\n")
    yield served
    served.stop()


@pytest.fixture(scope="module")
def signed_in(server) -> Client:
    client = Client(server.port)
    assert client.sign_in().status == 303
    return client


# ---- refusals ----------------------------------------------------------------------------------------


def test_nothing_is_served_anonymously(server):
    client = Client(server.port)
    page = client.get("/inventory?country=DE")
    assert page.status == 303 and page.headers["location"] == "/signin?next=%2Finventory%3Fcountry%3DDE"
    for path in ("/api/stores", "/api/overview", "/api/openapi.json", "/export/stores.csv",
                 "/export/findings.ocsf.json", "/scans/scan-synthetic-2/report", "/store?id=x"):
        reply = client.get(path)
        assert reply.status in (401, 303), path
        assert b"fp-" not in reply.body and b"arn" not in reply.body
    assert client.get("/api/stores").json() == {"detail": "not signed in"}
    assert client.get("/static/app.css").status == 200  # styles and map shapes are public


def test_wrong_password_is_refused_and_sets_no_session(server):
    client = Client(server.port, source="127.0.0.5")
    reply = client.sign_in("not the password at all", name="wrong@example.com")
    assert reply.status == 401 and "Wrong password" in reply.text
    assert "custody_session" not in reply.cookies()
    assert client.get("/api/stores").status == 401


def test_sign_in_needs_the_form_token_and_a_same_site_origin(server):
    client = Client(server.port, source="127.0.0.6")
    client.get("/signin")
    missing = client.request("POST", "/signin", {"username": USER, "password": PASSWORD, "csrf": "forged", "next": "/"},
                             headers={"Origin": f"http://127.0.0.1:{server.port}"})
    assert missing.status == 400 and "custody_session" not in missing.cookies()
    cross = Client(server.port, source="127.0.0.6").sign_in(origin="https://evil.example")
    assert cross.status == 403 and "custody_session" not in cross.cookies()
    cross_fetch = Client(server.port, source="127.0.0.6")
    token = cross_fetch.csrf()
    reply = cross_fetch.request("POST", "/signin", {"username": USER, "password": PASSWORD, "csrf": token},
                                headers={"Sec-Fetch-Site": "cross-site"})
    assert reply.status == 403


def test_failed_sign_ins_are_rate_limited_per_client(server):
    attacker = Client(server.port, source="127.0.0.7")
    for index in range(3):
        assert attacker.sign_in("guess " * 3, name=f"guesser{index}").status == 401
    blocked = attacker.sign_in(PASSWORD, name="someone@example.com")  # even the right password, once over the limit
    assert blocked.status == 429 and int(blocked.headers["retry-after"]) > 0
    assert "custody_session" not in blocked.cookies()
    # a forwarded-for header from a client that is not a trusted proxy changes nothing
    forged = attacker.request("POST", "/signin", {"username": USER, "password": PASSWORD, "csrf": attacker.csrf()},
                              headers={"X-Forwarded-For": "10.9.9.9", "Origin": f"http://127.0.0.1:{server.port}"})
    assert forged.status == 429
    other = Client(server.port, source="127.0.0.8")  # another address is not locked out
    assert other.sign_in(name="other@example.com").status == 303


def test_failed_sign_ins_are_rate_limited_per_account_name(server):
    """Guesses for one name from many addresses lock that name (whatever its case), and no other."""
    for source in ("127.0.0.11", "127.0.0.12", "127.0.0.13"):
        assert Client(server.port, source=source).sign_in("wrong " * 3, name="cfo@example.com").status == 401
    locked = Client(server.port, source="127.0.0.14").sign_in(name="CFO@example.com")
    assert locked.status == 429 and "for this name" in locked.text and "custody_session" not in locked.cookies()
    assert Client(server.port, source="127.0.0.14").sign_in(name="ciso@example.com").status == 303
    nameless = Client(server.port, source="127.0.0.15").sign_in(name="  ")
    assert nameless.status == 400 and "Type your name" in nameless.text


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_revokes_it(server):
    client = Client(server.port, source="127.0.0.9")
    reply = client.sign_in()
    assert reply.status == 303 and reply.headers["location"] == "/inventory"
    cookie = reply.cookies()["custody_session"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http on loopback; see the https test below
    session = client.jar["custody_session"]
    assert client.get("/api/me").json() == {"user": USER, "auth": "password"}
    page = client.get("/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.request("POST", "/signout", {"csrf": "wrong"}).status == 403
    assert client.request("POST", "/signout", {"csrf": token}).status == 303
    replay = Client(server.port, jar={"custody_session": session})
    assert replay.get("/api/me").status == 401
    tampered = Client(server.port, jar={"custody_session": session[:-2] + "xx"})
    assert tampered.get("/api/me").status == 401


def test_a_password_change_ends_every_session_signed_before_it(estate, tmp_path, monkeypatch):
    monkeypatch.setenv("CUSTODY_TEST_SESSION_SECRET", "s" * 40)  # a stable key: sessions outlive a restart
    section = "  session_secret_env: CUSTODY_TEST_SESSION_SECRET\n"
    served = serve(tmp_path, estate[0], section)
    client = Client(served.port)
    assert client.sign_in().status == 303
    cookie = dict(client.jar)
    served.stop()
    served = serve(tmp_path, estate[0], section)  # the same password again: the session holds
    try:
        assert Client(served.port, jar=dict(cookie)).get("/api/me").status == 200
    finally:
        served.stop()
    config = write_config(tmp_path, estate[0], section)
    (tmp_path / "dashboard-password").write_text("a brand new password 2\n")
    served = Served(create_app(load_config(str(config), load_catalog()), estate[0]))
    try:
        replayed = Client(served.port, jar=dict(cookie)).get("/api/me")
        assert replayed.status == 401 and replayed.json() == {"detail": "not signed in"}
    finally:
        served.stop()


def test_redirect_after_sign_in_stays_on_this_site(server):
    client = Client(server.port, source="127.0.0.10")
    token = client.csrf()
    form = {"username": USER, "password": PASSWORD, "csrf": token, "next": "//evil.example/x"}
    reply = client.request("POST", "/signin", form, headers={"Origin": f"http://127.0.0.1:{server.port}"})
    assert reply.status == 303 and reply.headers["location"] == "/"


def test_everything_is_read_only(signed_in):
    for method, path in (("POST", "/api/stores"), ("PUT", "/api/stores"), ("DELETE", "/api/store?id=x"),
                         ("POST", "/inventory"), ("PATCH", "/"), ("POST", "/export/stores.csv")):
        assert signed_in.request(method, path).status == 405, (method, path)


def test_security_headers_on_pages_api_and_errors(server, signed_in):
    for reply in (signed_in.get("/"), signed_in.get("/api/stores"), signed_in.get("/nope"),
                  Client(server.port).get("/signin"), signed_in.get("/static/app.js")):
        csp = reply.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "default-src 'none'" in csp
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "same-origin"
        assert reply.headers["x-frame-options"] == "DENY"
        assert "server" not in reply.headers
    assert signed_in.get("/api/stores").headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(signed_in, estate):
    store_id = estate[1].stores[0].id
    for path in ("/", "/map", "/map?view=compel", "/inventory", f"/store?{urlencode({'id': store_id})}", "/findings",
                 "/scans", "/scans/scan-synthetic-2", "/scans/scan-synthetic-2/report", "/catalog?table=laws",
                 "/api/docs"):
        reply = signed_in.get(path)
        assert reply.status == 200, path
        html = reply.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert "<style" not in html and not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert PASSWORD not in html


def test_head_answers_every_page_and_errors_are_pages_with_the_navigation(signed_in, estate):
    for path in ("/", "/inventory", "/findings", "/jurisdiction/US", "/api/stores", "/export/findings.csv",
                 "/scans/scan-synthetic-2/report"):
        head, get = signed_in.request("HEAD", path), signed_in.get(path)
        assert head.status == get.status == 200 and head.body == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path
    assert Client(signed_in.port).request("HEAD", "/inventory").status == 303  # still behind sign-in
    missing = signed_in.get("/no-such-page")
    assert missing.status == 404 and missing.headers["content-type"].startswith("text/html")
    assert 'aria-label="Main"' in missing.text and 'href="/inventory"' in missing.text  # the navigation bar
    assert signed_in.get("/api/no-such-thing").json() == {"detail": "Not Found"}
    anonymous = Client(signed_in.port).get("/no-such-page")
    assert anonymous.status == 404 and 'aria-label="Main"' not in anonymous.text


def test_a_failure_inside_is_a_500_page_without_a_traceback(tmp_path):
    location = str(tmp_path / "broken.db")
    with StateStore(location) as state:
        write_estate(state, 5)
    served = serve(tmp_path, location)
    try:
        client = Client(served.port)
        client.sign_in()
        with StateStore(location) as state, state._engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE store_index")  # the dashboard's query now fails
        page = client.get("/inventory")
        assert page.status == 500 and page.headers["content-type"].startswith("text/html")
        assert "internal error" in page.text and 'aria-label="Main"' in page.text and "Traceback" not in page.text
        assert client.get("/api/stores").json() == {"detail": "internal error: the dashboard's log has the details"}
    finally:
        served.stop()


def test_secure_cookie_when_served_over_https_behind_a_trusted_proxy(estate, tmp_path):
    served = serve(tmp_path, estate[0], f"  trusted_proxies: [{PROXY}]\n")
    try:
        via_proxy = Client(served.port, source=PROXY)
        token = via_proxy.csrf()
        reply = via_proxy.request("POST", "/signin", {"username": USER, "password": PASSWORD, "csrf": token},
                                  headers={"X-Forwarded-Proto": "https"})
        assert reply.status == 303 and "secure" in reply.cookies()["custody_session"].lower()
        assert reply.headers["strict-transport-security"] == "max-age=31536000"
        assert via_proxy.get("/", headers={"X-Forwarded-Proto": "https"}).headers["strict-transport-security"]
        direct = Client(served.port)  # the same header from a non-proxy is ignored
        token = direct.csrf()
        reply = direct.request("POST", "/signin", {"username": USER, "password": PASSWORD, "csrf": token},
                               headers={"X-Forwarded-Proto": "https"})
        assert reply.status == 303 and "secure" not in reply.cookies()["custody_session"].lower()
        assert "strict-transport-security" not in reply.headers
    finally:
        served.stop()


def test_trusted_header_is_accepted_only_from_the_proxy(estate, tmp_path):
    served = serve(tmp_path, estate[0], f"  auth: trusted_header\n  trusted_proxies: [{PROXY}]\n")
    try:
        forged = Client(served.port).get("/api/me", headers={"X-Forwarded-User": "ceo@example.com"})
        assert forged.status == 403 and "proxy" in forged.json()["detail"]
        page = Client(served.port).get("/", headers={"X-Forwarded-User": "ceo@example.com"})
        assert page.status == 403 and "ceo@example.com" not in page.text
        proxy = Client(served.port, source=PROXY)
        assert proxy.get("/api/me").status == 401  # the proxy sent no user
        me = proxy.get("/api/me", headers={"X-Forwarded-User": "alice@example.com"})
        assert me.status == 200 and me.json() == {"user": "alice@example.com", "auth": "trusted_header"}
        assert "alice@example.com" in proxy.get("/", headers={"X-Forwarded-User": "alice@example.com"}).text
        assert proxy.get("/signin").status == 303  # no password sign-in in this mode
    finally:
        served.stop()


# ---- config -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section, problem",
    [
        ("  auth: trusted_header\n", r"config.yaml:\d+: dashboard: auth: trusted_header needs trusted_proxies"),
        ("  trusted_proxies: [not-an-ip]\n", r"config.yaml:\d+: dashboard.trusted_proxies\[0\]: 'not-an-ip'"),
        ("  port: 70000\n", r"config.yaml:\d+: dashboard.port: expected a port number"),
        ("  listen: 1\n", r"config.yaml:\d+: dashboard: unknown key 'listen'"),
        ("  auth: none\n", r"config.yaml:\d+: dashboard.auth: 'none' is not one of: password, oidc, trusted_header"),
        ("  auth: oidc\n  oidc_issuer: https://login.example.com\n  oidc_client_id: custody\n",
         r"config.yaml:\d+: dashboard: auth: oidc needs public_url \(where people reach the dashboard"),
        ("  auth: oidc\n  oidc_issuer: http://login.example.com\n",
         r"config.yaml:\d+: dashboard.oidc_issuer: 'http://login.example.com' is not an https URL"),
    ],
)
def test_bad_dashboard_config_is_one_line_naming_file_and_line(tmp_path, estate, section, problem):
    path = tmp_path / "config.yaml"
    path.write_text(f"home: EU\nstate: {estate[0]}\ndashboard:\n{section}")
    config = load_config(str(path), load_catalog())
    with pytest.raises(InputError) as caught:
        create_app(config, estate[0])
    assert re.search(problem, str(caught.value)) and "\n" not in str(caught.value)


def test_a_missing_or_short_password_refuses_to_start(tmp_path, estate, monkeypatch):
    monkeypatch.delenv("CUSTODY_DASHBOARD_PASSWORD", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(f"state: {estate[0]}\n")
    config = load_config(str(path), load_catalog())
    with pytest.raises(InputError, match="no sign-in password: set environment variable CUSTODY_DASHBOARD_PASSWORD"):
        create_app(config, estate[0])
    monkeypatch.setenv("CUSTODY_DASHBOARD_PASSWORD", "short")
    with pytest.raises(InputError, match="shorter than 12 characters") as caught:
        create_app(config, estate[0])
    assert "short'" not in str(caught.value) and ": short" not in str(caught.value)


# ---- API: filters, sort, pagination --------------------------------------------------------------------


def expected_ids(estate: Estate, **filters) -> set[str]:
    """The ids a filter should return, computed from the documents the estate wrote."""
    result = set()
    for store in estate.stores:
        countries = {loc.country for loc in store.locations}
        jurisdictions = {r.jurisdiction for r in store.reachable_by}
        tags = {f"{k}={v}" for k, v in store.tags.items()}
        policies = {f.policy for f in store.findings}
        checks = {
            "provider": [store.provider], "account": [store.account], "kind": [store.kind], "status": [store.status],
            "region": [store.region], "country": countries, "jurisdiction": jurisdictions, "tag": tags,
            "policy": policies,
            "primary": {loc.country for loc in store.locations if loc.role == "primary"},
            "replica": {loc.country for loc in store.locations if loc.role != "primary"},
        }
        if all(set(values) & set(checks[name]) for name, values in filters.items()):
            result.add(store.id)
    return result


def all_pages(client: Client, query: dict, per_page: int = 7) -> tuple[list[dict], int]:
    items, page, total = [], 1, None
    while True:
        reply = client.get("/api/stores?" + urlencode({**query, "page": page, "per_page": per_page}, doseq=True))
        assert reply.status == 200, reply.text
        body = reply.json()
        total = body["total"] if total is None else total
        assert body["total"] == total and len(body["items"]) <= per_page
        items += body["items"]
        if page >= body["pages"]:
            return items, total
        page += 1


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"provider": ["azure"]},
        {"status": ["fail"]},
        {"status": ["not_evaluated", "pass"]},
        {"country": ["DE"]},
        {"country": ["CH"], "provider": ["azure"]},
        {"jurisdiction": ["US"]},
        {"jurisdiction": ["CN"]},
        {"jurisdiction": ["EU"], "status": ["fail"]},
        {"tag": ["data-class=personal"]},
        {"policy": ["eu-personal-data"]},
        {"replica": ["US"]},
        {"primary": ["NL"], "replica": ["CH", "US"]},
        {"account": ["111111111111"], "kind": ["s3-bucket"]},
        {"region": ["asia-east2"], "jurisdiction": ["HK"]},
    ],
)
def test_inventory_filters_and_pagination_match_the_state(signed_in, estate, filters):
    items, total = all_pages(signed_in, filters)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == total  # every page distinct, none lost
    assert set(ids) == expected_ids(estate[1], **filters)
    assert total > 0  # each filter finds something in this estate, so a filter that is ignored would show


def test_inventory_sorts_and_searches_on_the_server(signed_in, estate):
    names = sorted(s.name for s in estate[1].stores)
    body = signed_in.get("/api/stores?sort=name&per_page=10").json()
    assert [item["name"] for item in body["items"]] == names[:10]
    body = signed_in.get("/api/stores?sort=name&order=desc&per_page=10&page=2").json()
    assert [item["name"] for item in body["items"]] == names[::-1][10:20]
    by_status = all_pages(signed_in, {"sort": "status"})[0]
    assert [i["status"] for i in by_status] == sorted(i["status"] for i in by_status)
    found = signed_in.get("/api/stores?q=S3-000").json()  # case-insensitive, name or id
    assert {i["id"] for i in found["items"]} == {s.id for s in estate[1].stores if "s3-000" in s.name.lower()}
    assert signed_in.get("/api/stores?q=%25").json()["total"] == 0  # % is a character, not a wildcard
    assert signed_in.get("/api/stores?q=_").json()["total"] == 0


def test_gone_stores_are_left_out_unless_asked_for(signed_in, estate):
    present = signed_in.get("/api/stores?per_page=1").json()["total"]
    everything = signed_in.get("/api/stores?per_page=1&include_gone=true").json()["total"]
    assert present == len(estate[1].stores) and everything == present + len(estate[1].gone)


def test_inventory_rows_carry_countries_reach_and_open_findings(signed_in, estate):
    store = next(s for s in estate[1].stores if len(s.locations) > 1 and s.findings)
    body = signed_in.get("/api/stores?" + urlencode({"q": store.name})).json()
    [row] = [item for item in body["items"] if item["id"] == store.id]
    assert row["countries"] == sorted({loc.country for loc in store.locations})
    assert row["jurisdictions"] == sorted({r.jurisdiction for r in store.reachable_by})
    assert row["open_findings"] == sum(1 for f in store.findings if f.waiver is None)


def test_bad_query_parameters_are_400_not_500(signed_in):
    for path in ("/api/stores?page=0", "/api/stores?per_page=100000", "/api/stores?sort=drop_table",
                 "/api/findings?state=everything", "/inventory?page=-1"):
        reply = signed_in.get(path)
        assert reply.status == 400, path


def test_one_request_cannot_ask_for_unbounded_work(signed_in):
    """Too many values in one filter, too long a URL, a page or offset past any row: a 400 naming the problem."""
    many = urlencode([("jurisdiction", f"J{i}") for i in range(51)])
    for path in (f"/inventory?{many}", f"/api/stores?{many}", f"/findings?{many}", f"/export/findings.csv?{many}"):
        reply = signed_in.get(path)
        assert reply.status == 400, path
        assert "jurisdiction: at most 50 values in one filter, got 51" in reply.text, path
    fifty = urlencode([("jurisdiction", f"J{i}") for i in range(50)])
    assert signed_in.get(f"/api/stores?{fifty}").json()["total"] == 0  # at the cap: answered
    huge = urlencode([("tag", f"key-{i}=value") for i in range(800)])
    for path, kind in ((f"/inventory?{huge}", "text/plain"), (f"/api/stores?{huge}", "application/json")):
        reply = signed_in.get(path)
        assert reply.status == 400 and reply.headers["content-type"].startswith(kind), path
        assert "at most 8192 are accepted" in reply.text and reply.headers["x-frame-options"] == "DENY"
    for path in ("/scans?page=100000000000000000000", "/api/scans?offset=9223372036854775808",
                 "/api/scans?offset=-1", "/scans?page=1000001"):
        reply = signed_in.get(path)
        assert reply.status == 400, path
    assert signed_in.get("/scans?page=1000000").status == 200  # far past the last scan: an empty page
    assert signed_in.get("/api/scans?offset=500000000").json()["items"] == []


def test_overview_counts_match_the_state(signed_in, estate):
    data = signed_in.get("/api/overview").json()
    stores = estate[1].stores
    assert data["stores"] == len(stores)
    for status in ("fail", "pass", "not_evaluated", "not_applicable"):
        assert data["by_status"][status] == sum(1 for s in stores if s.status == status)
    assert data["by_provider"]["gcp"]["fail"] == sum(1 for s in stores if s.provider == "gcp" and s.status == "fail")
    assert data["by_jurisdiction"]["US"] == len(expected_ids(estate[1], jurisdiction=["US"]))
    assert data["gone"] == len(estate[1].gone)
    assert data["last_scan"]["scan"]["id"] == estate[1].second_scan
    assert data["last_scan"]["targets"]["denied"] == 1
    assert [row["id"] for row in data["trend"]] == [estate[1].first_scan, estate[1].second_scan]


def test_map_data_names_every_country_and_link(signed_in, estate):
    data = signed_in.get("/api/map").json()
    countries = {loc.country for s in estate[1].stores for loc in s.locations}
    assert set(data["countries"]) == countries
    assert data["countries"]["DE"]["stores"] == len(expected_ids(estate[1], country=["DE"]))
    links = {(link["from"], link["to"]): link["stores"] for link in data["links"]}
    expected: dict[tuple[str, str], set[str]] = {}
    for store in estate[1].stores:
        for p in (loc.country for loc in store.locations if loc.role == "primary"):
            for r in (loc.country for loc in store.locations if loc.role != "primary"):
                if p != r:
                    expected.setdefault((p, r), set()).add(store.id)
    assert links == {key: len(ids) for key, ids in expected.items()}


def test_map_pages_colour_the_right_countries(signed_in, estate):
    where = signed_in.get("/map").text
    coloured = set(re.findall(r'<path class="land has-data[^"]*" d="[^"]*" data-code="([A-Z]{2})"', where))
    assert coloured == {loc.country for s in estate[1].stores for loc in s.locations}
    compel = signed_in.get("/map?view=compel").text
    reached = set(re.findall(r'<path class="land has-data reach[^"]*" d="[^"]*" data-code="([A-Z]{2})"', compel))
    assert reached == {r.jurisdiction for s in estate[1].stores for r in s.reachable_by} - {"EU"}
    outlined = set(re.findall(r'<path class="[^"]*union-eu[^"]*" d="[^"]*" data-code="([A-Z]{2})"', compel))
    assert outlined == set(load_catalog().unions["EU"].members)
    assert 'href="/inventory?country=DE"' in where and 'href="/jurisdiction/US"' in compel
    europe = signed_in.get("/map?view=where&zoom=europe").text
    world_box = re.search(r'<svg id="world-map"[^>]*viewBox="([^"]+)"', where).group(1).split()
    x, y, width, height = map(float, re.search(r'<svg id="world-map"[^>]*viewBox="([^"]+)"', europe).group(1).split())
    assert width < float(world_box[2]) / 3  # zoomed in
    centres = {code: entry["c"] for code, entry in WorldMap().data["countries"].items()}
    for code in ("IE", "NL", "BE", "LU", "CH", "DE", "PT", "FI"):  # every European country with data, in the box
        cx, cy = centres[code]
        assert x <= cx <= x + width and y <= cy <= y + height, code
    assert set(re.findall(r'<path class="land has-data[^"]*" d="[^"]*" data-code="([A-Z]{2})"', europe)) == coloured
    assert signed_in.get("/map?zoom=mars").status == 400


# ---- one jurisdiction: every store it reaches, and why ----------------------------------------------------


def reach_expected(estate: Estate, code: str) -> dict[str, dict]:
    """What the jurisdiction view must say of each store, from the documents the estate wrote."""
    result = {}
    for store in estate.stores:
        entry = next((r for r in store.reachable_by if r.jurisdiction == code), None)
        if entry is None:
            continue
        findings = [f for f in store.findings if f.jurisdiction == code]
        state = "none" if not findings else "open" if any(f.waiver is None for f in findings) else "waived"
        result[store.id] = {"basis": entry.basis, "route": "direct", "law": entry.law, "citation": entry.citation,
                            "path": " → ".join(entry.path), "addressee": "", "finding": state,
                            "policies": sorted({f.policy for f in findings})}
    return result


def test_jurisdiction_view_lists_every_reached_store_with_its_ground(signed_in, estate):
    expected = reach_expected(estate[1], "US")
    rows, page = {}, 1
    while True:
        body = signed_in.get(f"/api/jurisdiction/US?per_page=40&page={page}").json()
        rows.update({row["store_id"]: row for row in body["items"]})
        if page >= body["pages"]:
            break
        page += 1
    assert body["total"] == body["stores"] == len(expected)
    assert {sid: {k: row[k] for k in expected[sid]} for sid, row in rows.items()} == expected
    assert any(row["finding"] == "waived" for row in rows.values())  # waived findings' stores are listed too
    groups = {(g["basis"], g["route"]): g["stores"] for g in body["groups"]}
    assert groups == {key: sum(1 for e in expected.values() if (e["basis"], e["route"]) == key)
                      for key in {(e["basis"], e["route"]) for e in expected.values()}}
    assert [g["basis"] for g in body["groups"]] == ["location", "control"]  # strongest first, not alphabetical
    order = list(rows)
    assert order.index(next(s for s in order if rows[s]["basis"] == "control")) > max(
        order.index(s) for s in order if rows[s]["basis"] == "location")


def test_jurisdiction_view_filters_exports_and_pages(signed_in, estate):
    expected = reach_expected(estate[1], "US")
    control_waived = {sid for sid, e in expected.items() if e["basis"] == "control" and e["finding"] == "waived"}
    query = "basis=control&finding=waived"
    assert signed_in.get(f"/api/jurisdiction/US?{query}").json()["total"] == len(control_waived) > 0
    rows = list(csv.DictReader(io.StringIO(signed_in.get(f"/export/jurisdiction/US.csv?{query}").text)))
    assert {row["store_id"] for row in rows} == control_waived
    assert all(row["jurisdiction"] == "US" and row["basis"] == "control" and row["citation"] == "18 U.S.C. § 2713"
               for row in rows)
    exported = signed_in.get("/export/jurisdiction/US.json").json()
    assert {row["store_id"] for row in exported["stores"]} == set(expected)
    assert sum(g["stores"] for g in exported["meta"]["groups"]) == len(expected)
    page = signed_in.get("/jurisdiction/US?basis=location")
    assert page.status == 200 and "United States (US)" in page.text
    shown = set(re.findall(r'<tr data-store-id="([^"]+)">', page.text))
    assert shown and shown <= {sid for sid, e in expected.items() if e["basis"] == "location"}
    for cell in ("basis", "route", "addressee", "law", "citation", "path"):
        assert f'data-col="{cell}"' in page.text
    assert signed_in.get("/jurisdictions?code=US").headers["location"] == "/jurisdiction/US"
    assert signed_in.get("/jurisdiction/XX").status == 404
    assert signed_in.get("/api/jurisdiction/US?finding=maybe").status == 400
    assert signed_in.get("/api/jurisdiction/U$").status in (400, 404)
    overview = signed_in.get("/").text
    assert 'href="/jurisdiction/US"' in overview


def test_jurisdiction_summary_reads_the_reach_facet_in_keyset_batches(estate, monkeypatch):
    from dashboard import jurisdiction
    from dashboard.queries import Queries

    monkeypatch.setattr(jurisdiction, "BATCH", 7)  # many batches over the 150-store estate
    monkeypatch.setattr(jurisdiction, "SUMMARY_BATCH", 7)
    with StateStore(estate[0]) as state:
        view = jurisdiction.JurisdictionReach(Queries(state))
        reached = view.summary("US", include_gone=False)
        rows = list(view.rows(jurisdiction.ReachQuery(code="US")))
    expected = reach_expected(estate[1], "US")
    assert sorted(item.store_id for item in reached) == sorted(expected)  # each store once
    assert [row["store_id"] for row in rows] == [item.store_id for item in reached]
    assert [item.order()[:2] for item in reached] == sorted(item.order()[:2] for item in reached)


def test_the_reach_facet_holds_each_jurisdictions_strongest_ground(estate):
    """The state store writes, per store and reaching jurisdiction, the basis and route the view leads with."""
    from dashboard import reach
    from state.documents import facet_rows
    from state.schema import stores_table

    f = store_facets_table.c
    with StateStore(estate[0]) as state, state.reading() as conn:
        written = set(conn.execute(select(f.store_id, f.value).where(f.facet == "reach")).all())
        documents = dict(conn.execute(select(stores_table.c.id, stores_table.c.document)).all())
    expected = {(store_id, f"{entry['jurisdiction']}|{reach.columns(entry)['basis']}|{reach.columns(entry)['route']}")
                for store_id, document in documents.items() for entry in document.get("reachable_by") or []}
    assert written == expected and len({value.split("|")[1] for _, value in written}) > 1
    legacy = {"reachable_by": [{"jurisdiction": "US", "basis": "establishment", "grounds": [
        {"basis": "establishment"}, {"basis": "location"}, {"basis": "control"}]}]}  # before the reach contract
    rows = facet_rows("s1", {"document": legacy, "jurisdictions": ["US"]})
    assert {"store_id": "s1", "facet": "reach", "value": "US|location|direct"} in rows


def test_inventory_reach_column_names_basis_and_route(signed_in, estate):
    body = signed_in.get("/api/stores?jurisdiction=CN&per_page=5").json()
    store = next(s for s in estate[1].stores if s.id == body["items"][0]["id"])
    assert body["items"][0]["reach"] == [{"jurisdiction": r.jurisdiction, "basis": r.basis, "route": "direct"}
                                         for r in store.reachable_by]
    page = signed_in.get("/inventory?jurisdiction=CN&per_page=5").text
    basis = next(r.basis for r in store.reachable_by if r.jurisdiction == "CN").replace("_", " ")
    link = 'href="/jurisdiction/CN" class="small muted" title="every store China reaches, and why">'
    assert f"{link}{basis}, direct<" in page


def test_a_reach_is_led_by_its_strongest_ground():
    from dashboard.reach import columns

    old = {"jurisdiction": "US", "basis": "control", "law": "us-cloud-act", "citation": "18 U.S.C. § 2713",
           "path": ["bucket", "Amazon (US)", "18 U.S.C. § 2713"],
           "grounds": [{"basis": "control", "law": "us-cloud-act", "citation": "18 U.S.C. § 2713", "path": ["a"]},
                       {"basis": "location", "law": "territorial", "citation": "Lotus", "path": ["b", "c"]}]}
    assert columns(old)["basis"] == "location" and columns(old)["path"] == "b → c"  # the soil before control
    new = {**old, "route": "agreement", "addressee_name": "Amazon Web Services, Inc. (US)",
           "agreement": {"id": "us-gb", "name": "US-UK Data Access Agreement"}, "effective": False}
    led = columns(new)  # under the contract the entry is its strongest ground
    assert (led["basis"], led["route"], led["addressee"], led["agreement"], led["effective"]) == (
        "control", "agreement", "Amazon Web Services, Inc. (US)", "US-UK Data Access Agreement", False)


def test_store_page_leads_with_the_strongest_reach(signed_in, estate):
    store = next(s for s in estate[1].stores if {"location", "control"} <= {r.basis for r in s.reachable_by})
    page = signed_in.get("/store?" + urlencode({"id": store.id})).text
    shown = re.findall(r'<article class="reach" data-jurisdiction="([A-Z]+)">', page)
    basis = {r.jurisdiction: r.basis for r in store.reachable_by}
    assert sorted(shown) == sorted(basis)
    assert [basis[code] for code in shown] == sorted((basis[code] for code in shown),
                                                     key=["location", "control"].index)
    assert '<dd class="route">direct</dd>' in page


def test_store_detail_and_404(signed_in, estate):
    store = next(s for s in estate[1].stores if any(r.jurisdiction == "US" and r.basis == "control"
                                                    for r in s.reachable_by))
    reply = signed_in.get("/store?" + urlencode({"id": store.id}))
    assert reply.status == 200
    assert "18 U.S.C. § 2713" in reply.text and "United States can compel access under" in reply.text
    assert "<th>Observed</th>" in reply.text  # when each location was seen (synthetic stores: not recorded)
    operators = {entity.id: entity.name for entity in load_catalog().entities.values()}
    for loc in store.locations:  # the operator by name, its catalog id only in the title
        assert f'title="{loc.operator}">{operators.get(loc.operator, loc.operator)}</td>' in reply.text
    assert all((loc.observed_at or "not recorded") in reply.text for loc in store.locations)
    record = signed_in.get("/api/store?" + urlencode({"id": store.id})).json()
    assert record["document"]["id"] == store.id and record["events"][0]["kind"] == "store_new"
    assert signed_in.get("/store?id=nope").status == 404
    assert signed_in.get("/api/store?id=nope").status == 404


def test_findings_by_state_with_age(signed_in, estate):
    counts = signed_in.get("/api/findings?state=all&per_page=1").json()["counts"]
    findings = [f for s in estate[1].stores for f in s.findings]
    assert counts["waived"] == sum(1 for f in findings if f.waiver)
    assert counts["open"] == sum(1 for f in findings if not f.waiver)
    assert counts["resolved"] > 0 and counts["new"] == 0  # the second scan raised nothing new
    resolved = signed_in.get("/api/findings?state=resolved&per_page=500").json()
    assert all(item["resolved_at"] and item["age_days"] == 1 and item["state"] == "resolved"
               for item in resolved["items"])
    assert {item["jurisdiction"] for item in resolved["items"]} <= {"GB"} | {s.id for s in estate[1].stores} | {
        "US", "CN", "HK", "JP", "BR"}


def test_catalog_api_has_sources(signed_in):
    for table in ("regions", "entities", "laws", "jurisdictions"):
        rows = signed_in.get(f"/api/catalog/{table}").json()
        assert rows and all(row["source"] for row in rows), table


def test_openapi_describes_the_api_and_only_gets(signed_in):
    spec = signed_in.get("/api/openapi.json").json()
    assert {"/api/stores", "/api/findings", "/api/overview", "/export/findings.ocsf.json"} <= set(spec["paths"])
    assert all(set(ops) == {"get"} for ops in spec["paths"].values())
    params = {p["name"] for p in spec["paths"]["/api/stores"]["get"]["parameters"]}
    assert {"provider", "country", "jurisdiction", "policy", "tag", "q", "sort", "page", "per_page"} <= params
    for path in ("/healthz", "/readyz", "/metrics"):  # the daemon's, not ours
        assert path not in spec["paths"]


# ---- exports -------------------------------------------------------------------------------------------


def test_csv_export_is_the_filtered_view_on_every_page(signed_in, estate):
    reply = signed_in.get("/export/stores.csv?jurisdiction=US&status=fail&per_page=5")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert {row["id"] for row in rows} == expected_ids(estate[1], jurisdiction=["US"], status=["fail"])
    by_id = {s.id: s for s in estate[1].stores}
    for row in rows:
        store = by_id[row["id"]]
        assert row["countries"] == " ".join(sorted({loc.country for loc in store.locations}))
        assert "US:" in row["reachable_by"] and row["status"] == "fail"
        assert row["tags"] == "; ".join(f"{k}={v}" for k, v in sorted(store.tags.items())) and "env=" in row["tags"]


def test_csv_cells_cannot_become_formulas():
    from dashboard.exports import safe_cell

    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("+1") == "'+1" and safe_cell("a=b") == "a=b"


def test_json_export_has_full_documents(signed_in, estate):
    body = signed_in.get("/export/stores.json?provider=gcp&sort=name").json()
    assert body["meta"]["filters"] == {"provider": ["gcp"]}
    assert [s["id"] for s in body["stores"]] == sorted(
        expected_ids(estate[1], provider=["gcp"]), key=lambda i: next(s.name for s in estate[1].stores if s.id == i))
    assert all("reachable_by" in s and "locations" in s for s in body["stores"])


def test_ocsf_export_is_detection_findings(signed_in, estate):
    events = signed_in.get("/export/findings.ocsf.json?state=all").json()
    assert len(events) == signed_in.get("/api/findings?state=all&per_page=1").json()["total"]
    for event in events:
        assert event["class_uid"] == 2004 and event["category_uid"] == 2
        assert event["type_uid"] == 200400 + event["activity_id"]
        assert event["severity_id"] in (4, 5) and isinstance(event["time"], int)
        assert event["metadata"]["product"]["name"] == "Custody" and event["metadata"]["version"]
        assert event["finding_info"]["uid"] and event["resources"][0]["uid"]
        assert event["unmapped"]["citation"] and event["unmapped"]["path"]
    statuses = {e["status"] for e in events}
    assert statuses == {"New", "Suppressed", "Resolved"}
    waived = [e for e in events if e["status_id"] == 3]
    assert all(e["unmapped"]["waiver"]["approver"] for e in waived)
    lines = signed_in.get("/export/findings.ocsf.json?state=open&lines=true").text.splitlines()
    assert len(lines) == signed_in.get("/api/findings?per_page=1").json()["total"]
    assert all(json.loads(line)["status_id"] == 1 for line in lines)


def test_findings_csv_export(signed_in):
    rows = list(csv.DictReader(io.StringIO(signed_in.get("/export/findings.csv?state=waived").text)))
    assert rows and all(row["state"] == "waived" and row["waiver_approver"] for row in rows)


@pytest.mark.parametrize("sort", ["age", "recent", "severity", "store"])
def test_export_batches_follow_on_by_keyset_in_the_view_order(signed_in, estate, sort):
    """Small keyset batches give every finding once, in the order the paginated view shows them."""
    from dashboard.queries import FindingQuery, Queries

    shown, page = [], 1
    while True:
        body = signed_in.get(f"/api/findings?state=all&sort={sort}&per_page=500&page={page}").json()
        shown += [item["fingerprint"] for item in body["items"]]
        if page >= body["pages"]:
            break
        page += 1
    with StateStore(estate[0]) as state:
        exported = [row["fingerprint"] for row in Queries(state).finding_rows(FindingQuery(state="all", sort=sort),
                                                                                 batch=7)]
    assert len(shown) > 7 * 3 and exported == shown


def test_tag_filter_suggests_values_instead_of_listing_every_one(signed_in, estate):
    tags = sorted({f"{k}={v}" for s in estate[1].stores for k, v in s.tags.items()})
    assert signed_in.get("/api/tags?prefix=data-class%3D").json() == [t for t in tags if t.startswith("data-class=")]
    assert signed_in.get("/api/tags?limit=2").json() == tags[:2]
    assert signed_in.get("/api/tags?prefix=nothing-like-this").json() == []
    page = signed_in.get("/inventory?tag=env%3Dprod&tag=data-class%3Dpersonal").text
    assert '<option value="env=dev"' not in page  # no option per tag value on the page
    assert 'id="filter-tag" list="tag-values" value="env=prod"' in page
    assert '<input type="hidden" name="tag" value="data-class=personal">' in page


def test_scan_page_lists_failed_targets_first_and_folds_the_ok_ones(signed_in, estate):
    page = signed_in.get(f"/scans/{estate[1].second_scan}").text
    main, _, folded = page.partition('<details id="ok-targets">')
    assert "AccessDenied: rds:DescribeDBInstances" in main and 'class="t-ok"' not in main
    assert 'class="t-ok"' in folded and "AccessDenied" not in folded
    assert "target(s) scanned without error" in folded


def test_evidence_report_of_one_scan(signed_in, estate):
    reply = signed_in.get(f"/scans/{estate[1].second_scan}/report")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    html = reply.text
    assert estate[1].second_scan in html and "report.css" in html
    assert html.count('<article class="store">') == len(estate[1].stores)
    assert "AccessDenied: rds:DescribeDBInstances" in html and "no owner declared" in html
    older = signed_in.get(f"/scans/{estate[1].first_scan}/report").text
    assert "This is not the latest scan" in older
    assert older.count('<article class="store">') == len(estate[1].gone)
    assert signed_in.get("/scans/nope/report").status == 404


def test_the_dashboard_never_writes_and_serve_fills_a_pre_facet_database(tmp_path):
    """create_app only reads; `agent.py serve` fills the derived index of a database written before it existed."""
    from runtime.serve import fill_derived_index

    location = str(tmp_path / "old.db")
    with StateStore(location) as state:
        estate = write_estate(state, 20)
        with state._engine.begin() as conn:
            conn.execute(delete(store_facets_table))
    served = serve(tmp_path, location)
    served.stop()
    with StateStore(location) as state, state.reading() as conn:
        assert conn.scalar(select(func.count()).select_from(store_facets_table)) == 0  # opening wrote nothing
    fill_derived_index(location)
    served = serve(tmp_path, location)
    try:
        client = Client(served.port)
        client.sign_in()
        assert client.get("/api/stores?jurisdiction=US").json()["total"] == len(expected_ids(estate,
                                                                                             jurisdiction=["US"]))
    finally:
        served.stop()
