"""The dashboard's sign-in tables and the `reach` facet.

Tables: `dashboard_generation` (the session generation that `custody dashboard revoke-sessions`
raises), `dashboard_signouts` (sessions signed out before they expired), `dashboard_tokens` (read-only
API tokens, hashed) and `dashboard_audit` (who did what). The derived index of stores gains a
facet, `reach` (jurisdiction|basis|route of each reaching jurisdiction's strongest ground): the
facets and index rows are recomputed from the stored documents, as rebuild_facets() does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("dashboard_generation", "dashboard_signouts", "dashboard_tokens", "dashboard_audit")


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    if "dashboard_generation" not in existing:
        op.create_table(
            "dashboard_generation",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("generation", sa.Integer(), nullable=False),
            sa.Column("changed_at", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("id", name="pk_dashboard_generation"),
        )
    if "dashboard_signouts" not in existing:
        op.create_table(
            "dashboard_signouts",
            sa.Column("session_id", sa.String(), nullable=False),
            sa.Column("expires_at", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("session_id", name="pk_dashboard_signouts"),
        )
        op.create_index("ix_dashboard_signouts_expires_at", "dashboard_signouts", ["expires_at"])
    if "dashboard_tokens" not in existing:
        op.create_table(
            "dashboard_tokens",
            sa.Column("name", sa.String(), nullable=False),
            sa.Column("token_hash", sa.String(), nullable=False),
            sa.Column("created_at", sa.String(), nullable=False),
            sa.Column("last_used_at", sa.String(), nullable=True),
            sa.Column("revoked_at", sa.String(), nullable=True),
            sa.PrimaryKeyConstraint("name", name="pk_dashboard_tokens"),
            sa.UniqueConstraint("token_hash", name="uq_dashboard_tokens_token_hash"),
        )
    if "dashboard_audit" not in existing:
        op.create_table(
            "dashboard_audit",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("at", sa.String(), nullable=False),
            sa.Column("actor", sa.String(), nullable=False),
            sa.Column("action", sa.String(), nullable=False),
            sa.Column("detail", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_dashboard_audit"),
        )
        op.create_index("ix_dashboard_audit_at", "dashboard_audit", ["at"])
    from state.documents import rebuild_derived  # the facets of the stores already recorded gain `reach`

    rebuild_derived(bind, only_if_missing=False)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
