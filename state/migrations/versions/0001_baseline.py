"""Baseline: the schema that StateStore and alerts.outbox created with create_all before migrations.

Adopts a database written by that create_all: a table that already exists is kept as it is
(only an index it lacks is added), a missing one is created, and the database is then
stamped at this revision like any other. Later revisions are ordinary migrations.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True)


def _table(name: str, *columns: sa.SchemaItem, indexes: tuple[tuple[str, list[str]], ...] = ()) -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(name):
        op.create_table(name, *columns)
        existing: set[str] = set()
    else:  # written by the old create_all: adopt it
        existing = {index["name"] for index in inspector.get_indexes(name)}
    for index_name, index_columns in indexes:
        if index_name not in existing:
            op.create_index(index_name, name, index_columns)


def upgrade() -> None:
    _table(
        "scans",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.String(), nullable=False),
        sa.Column("finished_at", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("home", JSON, nullable=True),
        sa.Column("counts", JSON, nullable=True),
        sa.Column("coverage_gaps", JSON, nullable=True),
        sa.Column("changes", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
        indexes=(("ix_scans_started_at", ["started_at"]),),
    )
    _table(
        "scan_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("stores", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name="fk_scan_targets_scan_id_scans", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_scan_targets"),
        indexes=(("ix_scan_targets_scan_id", ["scan_id"]),),
    )
    _table(
        "stores",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("jurisdictions", JSON, nullable=True),
        sa.Column("locations", JSON, nullable=True),
        sa.Column("first_seen", sa.String(), nullable=False),
        sa.Column("first_scan_id", sa.String(), nullable=False),
        sa.Column("last_seen", sa.String(), nullable=False),
        sa.Column("last_scan_id", sa.String(), nullable=False),
        sa.Column("gone_at", sa.String(), nullable=True),
        sa.Column("gone_scan_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stores"),
        indexes=(("ix_stores_last_scan_id", ["last_scan_id"]), ("ix_stores_provider_account", ["provider", "account"])),
    )
    _table(
        "findings",
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("policy", sa.String(), nullable=False),
        sa.Column("jurisdiction", sa.String(), nullable=False),
        sa.Column("basis", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("waiver", JSON, nullable=True),
        sa.Column("first_seen", sa.String(), nullable=False),
        sa.Column("first_scan_id", sa.String(), nullable=False),
        sa.Column("last_seen", sa.String(), nullable=False),
        sa.Column("last_scan_id", sa.String(), nullable=False),
        sa.Column("resolved_at", sa.String(), nullable=True),
        sa.Column("resolved_scan_id", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name="fk_findings_store_id_stores"),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_findings"),
        indexes=(("ix_findings_resolved_at", ["resolved_at"]), ("ix_findings_store_id", ["store_id"])),
    )
    _table(
        "store_facets",
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("facet", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_store_facets_store_id_stores", ondelete="CASCADE"
        ),
        indexes=(
            ("ix_store_facets_facet_value_store_id", ["facet", "value", "store_id"]),
            ("ix_store_facets_store_id_facet_value", ["store_id", "facet", "value"]),
        ),
    )
    _table(
        "store_index",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("region", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("first_seen", sa.String(), nullable=False),
        sa.Column("last_seen", sa.String(), nullable=False),
        sa.Column("gone_at", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["id"], ["stores.id"], name="fk_store_index_id_stores", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_store_index"),
        indexes=(
            ("ix_store_index_gone_at_last_seen", ["gone_at", "last_seen"]),
            ("ix_store_index_gone_at_name", ["gone_at", "name"]),
            ("ix_store_index_provider_account", ["provider", "account"]),
            ("ix_store_index_status", ["status"]),
        ),
    )
    _table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scan_id", sa.String(), nullable=False),
        sa.Column("at", sa.String(), nullable=False),
        sa.Column("store_id", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("detail", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        indexes=(("ix_events_scan_id", ["scan_id"]), ("ix_events_store_id", ["store_id"])),
    )
    # the alert pipeline's tables (alerts/outbox.py)
    _table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("scan_id", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("next_attempt_at", sa.String(), nullable=False),
        sa.Column("last_attempt_at", sa.String(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_outbox"),
        sa.UniqueConstraint("alert_key", "channel", name="uq_alert_outbox_alert_key_channel"),
        indexes=(("ix_alert_outbox_status_channel", ["status", "channel"]),),
    )
    _table(
        "alert_scans",
        sa.Column("scan_id", sa.String(), nullable=False),
        sa.Column("scan_status", sa.String(), nullable=False),
        sa.Column("processed_at", sa.String(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("scan_id", name="pk_alert_scans"),
    )
    _table(
        "alert_finding_state",
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("waiver_expires", sa.String(), nullable=True),
        sa.Column("scan_id", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_alert_finding_state"),
    )


def downgrade() -> None:
    for name in ("alert_finding_state", "alert_scans", "alert_outbox", "events", "store_index", "store_facets",
                 "findings", "stores", "scan_targets", "scans"):  # fmt: skip
        op.drop_table(name)
