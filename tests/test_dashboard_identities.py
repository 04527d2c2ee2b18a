"""Named users, API tokens and sessions that end: OpenID Connect sign-in through a real provider,
read-only API tokens made by `custody dashboard token ...`, persisted sign-outs and
`custody dashboard revoke-sessions`, the audit trail.

The dashboard runs in a real uvicorn (tests.test_dashboard's harness); the OpenID provider is
oidc-provider-mock on 127.0.0.1 behind a PKCE check (tests.oidc_provider).
"""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from dashboard.app import create_app
from dashboard.synthetic import write_estate
from policies.catalog_loader import load_catalog
from runtime.cli import main
from runtime.config import load_config
from state.schema import dashboard_tokens_table
from state.store import StateStore
from tests.oidc_provider import provider, s256
from tests.test_dashboard import PASSWORD, USER, Client, Served, free_port, serve, write_config

SECRET_ENV = "CUSTODY_TEST_SESSION_SECRET"


@pytest.fixture(scope="module")
def state(tmp_path_factory) -> str:
    location = str(tmp_path_factory.mktemp("identities") / "custody.db")
    with StateStore(location) as store:
        write_estate(store, 30)
    return location


def audit_trail(location: str) -> list[dict]:
    from dashboard.accounts import Accounts

    with StateStore(location) as store:
        return Accounts(store).trail(500)


# ---- OpenID Connect ------------------------------------------------------------------------------------


def get(url: str, cookies: dict[str, str] | None = None, form: dict | None = None) -> tuple[int, dict, str]:
    """A browser-like request to the provider: (status, headers, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())} if cookies else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request("POST" if form is not None else "GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                 body, headers)
    response = conn.getresponse()
    reply = (response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode())
    conn.close()
    return reply


@pytest.fixture(scope="module")
def oidc(state, tmp_path_factory):
    """(dashboard, the provider's PKCE-checking front) with auth: oidc, a confidential client."""
    with pytest.MonkeyPatch.context() as patch, provider() as (issuer, front):
        patch.setenv("CUSTODY_TEST_OIDC_SECRET", "client-secret-of-the-dashboard")
        folder = tmp_path_factory.mktemp("oidc")
        port = free_port()  # chosen first: public_url names it
        section = (f"  auth: oidc\n  oidc_issuer: {issuer}\n  oidc_client_id: custody-dashboard\n"
                   f"  oidc_client_secret_env: CUSTODY_TEST_OIDC_SECRET\n  public_url: http://127.0.0.1:{port}\n")
        config = load_config(str(write_config(folder, state, section)), load_catalog())
        served = Served(create_app(config, state), port=port)
        yield served, front
        served.stop()


def oidc_sign_in(served: Served, subject: str, next_path: str = "/inventory") -> tuple[Client, int, str]:
    """Sign in as `subject` at the provider, as a browser would: (client, callback status, callback body)."""
    client = Client(served.port)
    start = client.get(f"/signin/oidc?next={next_path}")
    assert start.status == 303
    authorize = start.headers["location"]
    status, _, form_page = get(authorize)
    assert status == 200 and 'name="sub"' in form_page
    status, headers, _ = get(authorize, form={"sub": subject, "action": "authorize"})
    assert status == 302, "the provider should send the browser back with a code"
    callback = urlsplit(headers["location"])
    assert callback.path == "/signin/oidc/callback"
    reply = client.get(f"{callback.path}?{callback.query}")
    return client, reply.status, reply.text


def test_oidc_sign_in_with_pkce_names_the_user(oidc, state):
    served, front = oidc
    client, status, page = oidc_sign_in(served, "alice@example.com")
    assert status == 200 and 'content="0;url=/inventory"' in page and "alice@example.com" in page
    request = front.authorize_requests[-1]
    assert request["code_challenge_method"] == "S256" and request["nonce"] and request["state"]
    assert request["redirect_uri"] == f"http://127.0.0.1:{served.port}/signin/oidc/callback"
    token_request = front.token_requests[-1]
    assert s256(token_request["code_verifier"]) == request["code_challenge"]  # the provider checked it too
    assert "custody_oidc" not in client.jar  # the pending request is used up
    assert client.get("/api/me").json() == {"user": "alice@example.com", "auth": "oidc"}
    scan = client.get("/api/scans?limit=1").json()["items"][0]["id"]
    report = client.get(f"/scans/{scan}/report").text
    assert re.search(r"Generated</th><td>[^<]+ by alice@example\.com", report)
    trail = audit_trail(state)
    assert any(e["user"] == "alice@example.com" and e["action"] == "signin" and e["detail"].startswith("oidc")
               for e in trail)
    assert any(e["user"] == "alice@example.com" and e["action"] == "export" and "/report" in e["detail"]
               for e in trail)


def test_oidc_callback_refuses_a_foreign_state_a_replayed_code_and_a_forged_signature(oidc):
    served, front = oidc
    client = Client(served.port)
    authorize = client.get("/signin/oidc").headers["location"]
    _, headers, _ = get(authorize, form={"sub": "mallory@example.com", "action": "authorize"})
    callback = urlsplit(headers["location"])
    params = parse_qs(callback.query)
    # another browser (no pending request of its own) handed the victim's callback: refused
    stranger = Client(served.port)
    refused = stranger.get(f"{callback.path}?{callback.query}")
    assert refused.status == 401 and "custody_session" not in stranger.jar and "sign in again" in refused.text
    # this browser, but a state it did not make: refused before the code is redeemed
    forged = client.get(f"{callback.path}?{urlencode({'code': params['code'][0], 'state': 'forged'})}")
    assert forged.status == 401 and "custody_session" not in client.jar
    odd = Client(served.port)  # a state that is not even ASCII: refused, not a 500
    odd.get("/signin/oidc")
    assert odd.get(f"{callback.path}?{urlencode({'code': 'x', 'state': 'é'})}").status == 401
    # the pending request is spent: the genuine answer replayed after it finds nothing to match
    assert client.get(f"{callback.path}?{callback.query}").status == 401
    # a signed-in session with a tampered ID token signature never happens
    front.tamper_id_token = True
    try:
        _, status, page = oidc_sign_in(served, "eve@example.com")
    finally:
        front.tamper_id_token = False
    assert status == 401 and "did not verify" in page
    # the provider refusing (the user denied) is one line, no session
    denied = Client(served.port)
    authorize = denied.get("/signin/oidc").headers["location"]
    _, headers, _ = get(authorize, form={"sub": "x", "action": "deny"})
    back = urlsplit(headers["location"])
    reply = denied.get(f"{back.path}?{back.query}")
    assert reply.status == 401 and "access_denied" in reply.text and "custody_session" not in denied.jar


def test_oidc_mode_has_no_password_form(oidc):
    served, _ = oidc
    client = Client(served.port)
    page = client.get("/signin")
    assert page.status == 200 and 'href="/signin/oidc?next=%2F"' in page.text and 'name="password"' not in page.text
    assert client.request("POST", "/signin", {"username": "a", "password": PASSWORD}).status == 404


# ---- API tokens ----------------------------------------------------------------------------------------


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_api_tokens_read_api_and_exports_only_and_are_revocable(state, tmp_path, capsys):
    config = str(write_config(tmp_path, state, ""))
    code, out, err = cli(capsys, "dashboard", "token", "create", "--name", "splunk", "--config", config)
    token = out.strip()
    assert code == 0 and token.startswith("custody_") and "shown once" in err
    with StateStore(state) as store, store.reading() as conn:
        stored = conn.execute(select(dashboard_tokens_table)).mappings().one()
    assert token not in str(dict(stored)) and stored["name"] == "splunk"  # only its hash is kept
    code, _, err = cli(capsys, "dashboard", "token", "create", "--name", "splunk", "--config", config)
    assert code == 2 and "exists; revoke it first" in err
    assert cli(capsys, "dashboard", "token", "create", "--name", "bad name", "--config", config)[0] == 2

    served = serve(tmp_path, state)
    try:
        bearer = {"Authorization": f"Bearer {token}"}
        siem = Client(served.port)
        ocsf = siem.get("/export/findings.ocsf.json?lines=true", headers=bearer)
        assert ocsf.status == 200 and ocsf.text.count("\n") > 0 and '"class_uid": 2004' in ocsf.text
        assert siem.get("/api/me", headers=bearer).json() == {"user": "token:splunk", "auth": "password"}
        assert siem.get("/", headers=bearer).status == 303  # pages are for people: sign in
        assert siem.get("/store?id=x", headers=bearer).status == 303
        assert siem.request("POST", "/signout", {"csrf": ""}, headers=bearer).status == 303
        wrong = siem.get("/api/stores", headers={"Authorization": "Bearer custody_not-a-token"})
        assert wrong.status == 401 and "unknown or revoked" in wrong.json()["detail"]
        assert siem.get("/api/stores", headers={"Authorization": f"Basic {token}"}).status == 401
        code, out, _ = cli(capsys, "dashboard", "token", "list", "--config", config)
        assert code == 0 and re.search(r"^splunk\tcreated \S+\tlast used 20\d\d-\S+\tvalid$", out, re.M)
        trail = siem.get("/api/audit?limit=20", headers=bearer).json()  # the trail, read over the API too
        assert any(e["user"] == "token:splunk" and e["action"] == "export" and "ocsf" in e["detail"] for e in trail)
        assert trail == sorted(trail, key=lambda e: e["at"], reverse=True)
        assert cli(capsys, "dashboard", "token", "revoke", "--name", "splunk", "--config", config)[0] == 0
        assert siem.get("/api/stores", headers=bearer).status == 401
        assert siem.get("/export/findings.ocsf.json", headers=bearer).status == 401
        code, out, _ = cli(capsys, "dashboard", "token", "list", "--config", config)
        assert "\trevoked 20" in out
        code, _, err = cli(capsys, "dashboard", "token", "revoke", "--name", "splunk", "--config", config)
        assert code == 2 and "no valid token named 'splunk'" in err
    finally:
        served.stop()


# ---- sessions that end ---------------------------------------------------------------------------------


def test_sign_outs_outlive_a_restart_and_revoke_sessions_ends_them_all(state, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(SECRET_ENV, "k" * 40)  # a stable signing key: sessions would outlive a restart
    section = f"  session_secret_env: {SECRET_ENV}\n"
    served = serve(tmp_path, state, section)
    try:
        leaving, staying, other = Client(served.port), Client(served.port), Client(served.port)
        for client, name in ((leaving, USER), (staying, "ciso@example.com"), (other, "cfo@example.com")):
            assert client.sign_in(name=name).status == 303
        cookie = dict(leaving.jar)
        jars = [dict(staying.jar), dict(other.jar)]
        token = re.search(r'name="csrf" value="([^"]+)"', leaving.get("/").text).group(1)
        assert leaving.request("POST", "/signout", {"csrf": token}).status == 303
    finally:
        served.stop()
    served = serve(tmp_path, state, section)  # a restart: the sign-out is remembered, the others hold
    try:
        assert Client(served.port, jar=dict(cookie)).get("/api/me").status == 401
        staying, other = (Client(served.port, jar=jar) for jar in jars)
        assert staying.get("/api/me").json()["user"] == "ciso@example.com"
        assert other.get("/api/me").status == 200
        config = str(Path(tmp_path) / "config.yaml")
        code, _, err = cli(capsys, "dashboard", "revoke-sessions", "--config", config)
        assert code == 0 and "has ended" in err
        assert staying.get("/api/me").status == 401 and other.get("/api/me").status == 401  # every one, at once
        fresh = Client(served.port)
        assert fresh.sign_in(name="ciso@example.com").status == 303  # signing in again works
        assert fresh.get("/api/me").status == 200
    finally:
        served.stop()
    actions = [(e["user"], e["action"]) for e in audit_trail(state)]
    assert (USER, "signout") in actions and ("cli", "revoke_sessions") in actions


def test_config_file_must_exist_for_dashboard_commands(tmp_path, capsys):
    code, _, err = cli(capsys, "dashboard", "revoke-sessions", "--config", str(tmp_path / "missing.yaml"))
    assert code == 2 and "missing.yaml" in err and "Traceback" not in err
