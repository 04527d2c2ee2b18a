"""Every table of the state database, in one place: scans and their targets, stores, findings, the
dashboard's derived indexes, the event log, the scan units of distributed scans, and the alert outbox.

Each table is declared on `metadata`, which the Alembic migrations (state/migrations) compare with
the database. A new table or column goes here, then into a migration revision (docs/scaling.md).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Deterministic constraint names, so Alembic autogenerate can adopt these tables later.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


FINAL_STATUSES = ("complete", "partial", "failed", "interrupted", "targeted")  # scans.status once a scan has ended
TARGETED = "targeted"  # a re-read of the stores change events named (runtime.events): closes only what it confirmed

# Strings are unbounded (VARCHAR without length): a cloud id or name longer than a guessed
# limit must never make PostgreSQL reject, and so lose, a whole scan.
scans_table = Table(
    "scans",
    metadata,
    Column("id", String, primary_key=True),
    Column("seq", Integer, nullable=False),  # insertion order: breaks ties between scans started in one second
    Column("started_at", String, nullable=False),
    Column("finished_at", String),
    Column("status", String, nullable=False),
    Column("home", JSON(none_as_null=True)),
    Column("counts", JSON(none_as_null=True)),
    Column("coverage_gaps", JSON(none_as_null=True)),
    Column("changes", JSON(none_as_null=True)),  # ScanChanges.counts() once finished
    Index(None, "started_at"),
)

scan_targets_table = Table(
    "scan_targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", String, ForeignKey("scans.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("provider", String, nullable=False),
    Column("account", String, nullable=False),
    Column("region", String, nullable=False),
    Column("service", String, nullable=False),
    Column("status", String, nullable=False),
    Column("error", Text),
    Column("stores", Integer, nullable=False, default=0),
)

stores_table = Table(
    "stores",
    metadata,
    Column("id", String, primary_key=True),
    Column("provider", String, nullable=False),
    Column("account", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("region", String, nullable=False),
    Column("status", String, nullable=False),
    Column("document", JSON(none_as_null=True), nullable=False),  # DataStore.to_dict() of the last sighting
    Column("jurisdictions", JSON(none_as_null=True)),  # baseline for changed_reach: sorted jurisdictions
    Column("locations", JSON(none_as_null=True)),  # baseline for changed_locations: sorted [region, role]
    Column("first_seen", String, nullable=False),
    Column("first_scan_id", String, nullable=False),
    Column("last_seen", String, nullable=False),
    Column("last_scan_id", String, nullable=False, index=True),
    Column("gone_at", String),  # null while present
    Column("gone_scan_id", String),
    Index(None, "provider", "account"),
)

findings_table = Table(
    "findings",
    metadata,
    Column("fingerprint", String, primary_key=True),
    Column("store_id", String, ForeignKey("stores.id"), nullable=False, index=True),
    Column("policy", String, nullable=False),
    Column("jurisdiction", String, nullable=False),
    Column("basis", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("waived", Boolean, nullable=False, default=False),
    Column("waiver", JSON(none_as_null=True)),
    Column("first_seen", String, nullable=False),
    Column("first_scan_id", String, nullable=False),
    Column("last_seen", String, nullable=False),
    Column("last_scan_id", String, nullable=False),
    Column("resolved_at", String),  # null while open
    Column("resolved_scan_id", String),
    Index(None, "resolved_at"),
)

# Derived index of each store's multi-valued attributes, rewritten with the store by finish_scan,
# so that the dashboard filters 100,000 stores by country, reaching jurisdiction, law, policy or
# tag with an index lookup instead of reading every JSON document. Never a source of truth:
# StateStore.rebuild_facets() recomputes it from the documents.
# reach: jurisdiction|basis|route of each reaching jurisdiction's strongest ground (state.documents.reach_value).
FACETS = ("country", "primary", "replica", "jurisdiction", "reach", "law", "policy", "tag")
store_facets_table = Table(
    "store_facets",
    metadata,
    Column("store_id", String, ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
    Column("facet", String, nullable=False),  # one of FACETS
    # e.g. DE (country: any copy; primary; replica: a replica or backup), US (jurisdiction),
    # us-cloud-act (law), eu-personal-data (policy with a finding), data-class=personal (tag)
    Column("value", String, nullable=False),
    Index(None, "facet", "value", "store_id"),
    Index(None, "store_id", "facet", "value"),
)

# Derived narrow copy of each store's scalar columns, without the JSON document: filters, sorts
# and counts over 100,000 stores read these small rows (the stores table keeps last_seen and
# gone_at after the large document, which SQLite reaches only by reading its overflow pages).
# Rewritten from `stores` by finish_scan for every row it touched; rebuild_facets() recomputes it.
store_index_table = Table(
    "store_index",
    metadata,
    Column("id", String, ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    Column("provider", String, nullable=False),
    Column("account", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("name", String, nullable=False),
    Column("region", String, nullable=False),
    Column("status", String, nullable=False),
    Column("first_seen", String, nullable=False),
    Column("last_seen", String, nullable=False),
    Column("gone_at", String),
    Index(None, "gone_at", "name"),
    Index(None, "gone_at", "last_seen"),
    Index(None, "status"),
    Index(None, "provider", "account"),
)
INDEX_COLUMNS = ("id", "provider", "account", "kind", "name", "region", "status", "first_seen", "last_seen", "gone_at")

# Append-only log of every change finish_scan reported: the history that gone_at and
# resolved_at alone would overwrite on a reappearance or a reopening.
events_table = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", String, nullable=False, index=True),
    Column("at", String, nullable=False),
    Column("store_id", String, nullable=False, index=True),
    Column("fingerprint", String),
    Column("kind", String, nullable=False),  # see EVENT_KINDS
    Column("detail", JSON(none_as_null=True)),
)

# ScanChanges field -> event kind
EVENT_KINDS = {
    "new_stores": "store_new",
    "gone_stores": "store_gone",
    "reappeared_stores": "store_reappeared",
    "changed_reach": "reach_changed",
    "changed_locations": "locations_changed",
    "changed_tags": "tags_changed",  # detail: the tags that changed, {"before": {key: value}, "after": {...}}
    "new_findings": "finding_new",
    "resolved_findings": "finding_resolved",
    "reopened_findings": "finding_reopened",
    # an open finding whose headline policy or severity changed (detail: before and after, each
    # {"policy", "severity"}): a policy that no longer objects, e.g. the store left its scope
    "changed_findings": "finding_changed",
}


# ---- distributed scans (state.units) ----------------------------------------------------------------
scan_units_table = Table(
    "scan_units",
    metadata,
    Column("scan_id", String, ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True),
    Column("unit", String, primary_key=True),  # Unit.key
    Column("section", String, nullable=False),  # the provider's config section, e.g. "aws" or "azure/bleu"
    Column("unit_id", String, nullable=False),  # account id, subscription id, project id or asset scope
    Column("status", String, nullable=False),  # todo | done | failed
    Column("replica", String),  # the replica that recorded it
    Column("attempts", Integer, nullable=False, default=0),
    Column("stores", JSON(none_as_null=True)),  # DataStore.to_dict() of every store found
    Column("targets", JSON(none_as_null=True)),  # TargetResult of every account/region/service part
    Column("finished_at", String),
)


# ---- alerts (alerts.outbox) ---------------------------------------------------------------------------
outbox_table = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_key", String, nullable=False),
    Column("channel", String, nullable=False),
    Column("scan_id", String),
    Column("kind", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("payload", JSON(none_as_null=True), nullable=False),  # Alert.to_dict()
    Column("status", String, nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", String, nullable=False),
    Column("next_attempt_at", String, nullable=False),
    Column("last_attempt_at", String),
    Column("last_error", Text),  # masked
    Column("delivered_at", String),
    UniqueConstraint("alert_key", "channel"),
    Index(None, "status", "channel"),
)

# Which finished scans have had their alerts queued (in the same transaction as the rows).
alert_scans_table = Table(
    "alert_scans",
    metadata,
    Column("scan_id", String, primary_key=True),
    Column("scan_status", String, nullable=False),
    Column("processed_at", String, nullable=False),
    Column("alerts", Integer, nullable=False, default=0),
    Column("baseline", Boolean, nullable=False, default=False),  # the first scan told as one summary
)

# Whether each finding was muted by a live waiver when last told, to notice a waiver expiring.
alert_finding_state_table = Table(
    "alert_finding_state",
    metadata,
    Column("fingerprint", String, primary_key=True),
    Column("muted", Boolean, nullable=False),
    Column("waiver_expires", String),
    Column("scan_id", String, nullable=False),
)


# ---- the dashboard's sign-in (dashboard.accounts) ------------------------------------------------------
# The session generation: a session cookie carries the generation it was signed in; `custody dashboard
# revoke-sessions` raises it, which ends every session at once, in every replica. One row (id 1).
dashboard_generation_table = Table(
    "dashboard_generation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("changed_at", String, nullable=False),
)

# Sessions signed out before they expired: the same cookie replayed is refused, after a restart too.
dashboard_signouts_table = Table(
    "dashboard_signouts",
    metadata,
    Column("session_id", String, primary_key=True),
    Column("expires_at", String, nullable=False, index=True),  # when the cookie would have expired anyway
)

# Read-only API tokens (SIEMs pulling OCSF): only a SHA-256 of each token is kept; shown once at creation.
dashboard_tokens_table = Table(
    "dashboard_tokens",
    metadata,
    Column("name", String, primary_key=True),
    Column("token_hash", String, nullable=False, unique=True),
    Column("created_at", String, nullable=False),
    Column("last_used_at", String),
    Column("revoked_at", String),  # null while valid
)

# Who did what on the dashboard: sign-ins (and failures), sign-outs, exports, evidence reports, token
# and session administration, each with the named user (or token) that did it.
dashboard_audit_table = Table(
    "dashboard_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String, nullable=False, index=True),
    Column("actor", String, nullable=False),  # the signed-in name, "token:<name>", or "cli"
    Column("action", String, nullable=False),
    Column("detail", Text),
)
