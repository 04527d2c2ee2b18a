"""Scans spread over replicas: the `scan_units` table, and procrastinate's job-queue schema on PostgreSQL.

`scan_units` holds one row per unit of a distributed scan (an account, subscription or project)
with what its scan found (state.units). On PostgreSQL the schema of the procrastinate job
queue (its tables, types and functions, from the installed package) is created in the same
database, so replicas need no other server. SQLite gets the table only: replicas need PostgreSQL.

Revision ID: 0002
Revises: 0001_baseline
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table("scan_units"):  # made by create_all of a process that knew the table
        _queue_schema(bind)
        return
    op.create_table(
        "scan_units",
        sa.Column("scan_id", sa.String(), nullable=False),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("section", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("replica", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stores", JSON, nullable=True),
        sa.Column("targets", JSON, nullable=True),
        sa.Column("finished_at", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["scan_id"], ["scans.id"], name="fk_scan_units_scan_id_scans", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scan_id", "unit", name="pk_scan_units"),
    )
    _queue_schema(bind)


def _queue_schema(bind: sa.engine.Connection) -> None:
    if bind.dialect.name == "postgresql" and not bind.scalar(sa.text("SELECT to_regclass('procrastinate_jobs')")):
        from procrastinate.schema import SchemaManager

        bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))  # no parameters: % is literal


def downgrade() -> None:
    op.drop_table("scan_units")
