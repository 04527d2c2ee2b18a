"""The dashboard: server-rendered pages over a read-only JSON API, behind sign-in.

`create_app(config, state_location)` returns a FastAPI app that another process may mount at
"/" (the agent daemon does, beside its own /healthz, /readyz and /metrics). Every route but
sign-in, sign-out and /static needs a signed-in user; nothing but sign-in and sign-out
accepts anything other than GET/HEAD. The OpenAPI description is at /api/openapi.json and
listed for people at /api/docs (no CDN-hosted Swagger UI: the dashboard runs air-gapped).

The app reads the state store and writes only its own sign-in rows (dashboard.accounts: sign-outs,
API token use, the audit trail); the scanner and the agent own every other write. Where things live:

    context.py     what handlers share (settings, sign-in, catalog, queries, templates), `UserDep`
    auth.py        who is asking; oidc.py: OpenID Connect; accounts.py: sessions, tokens, audit trail
    params.py      the inventory and findings query strings, parsed and bounded
    routes/        auth (sign-in/out), pages, api (/api/...), exports (/export/...)
    errors.py      errors as pages or JSON; middleware.py: security headers
    views.py       facts arranged for reading; templating.py: the templates' helpers
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from dashboard import errors, templating
from dashboard.accounts import Accounts
from dashboard.auth import Authenticator
from dashboard.context import VERSION, Context
from dashboard.jurisdiction import JurisdictionReach
from dashboard.middleware import BoundedURL, HeadAsGet, SecurityHeaders
from dashboard.queries import Queries
from dashboard.routes import api, auth, exports, pages
from dashboard.settings import settings_from_config
from dashboard.worldmap import WorldMap
from policies.catalog_loader import load_catalog
from scanner.config import Config
from state.store import StateStore

HERE = Path(__file__).parent
DESCRIPTION = (
    "Read-only: where each data store's copies live, who controls them, which jurisdictions can compel access "
    "and why. Sign in first (session cookie), come through the SSO proxy, or send a read-only API token "
    "(`custody dashboard token create`) as `Authorization: Bearer <token>` to /api/ and /export/."
)


def create_app(config: Config, state_location: str) -> FastAPI:
    settings = settings_from_config(config)
    catalog = load_catalog()
    state = StateStore(state_location)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    account_names = {account_id: entry.name for account_id, entry in config.accounts.items() if entry.name}
    templating.install(templates, catalog, account_names)
    queries = Queries(state)
    ctx = Context(settings=settings, auth=Authenticator(settings, Accounts(state)), catalog=catalog, queries=queries,
                  reach=JurisdictionReach(queries), world=WorldMap(), templates=templates)

    app = FastAPI(title="Custody dashboard API", version=VERSION, description=DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url=None)  # the spec is served behind sign-in, by routes/api.py
    app.state.dashboard = ctx
    app.state.state_store = state
    app.add_middleware(BoundedURL)
    app.add_middleware(SecurityHeaders, is_https=ctx.auth.scope_is_https)  # runs before BoundedURL: its 400 too
    app.add_middleware(HeadAsGet)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    errors.install(app)
    for router in (auth.router, pages.router, api.router, exports.router):
        app.include_router(router)
    return app
