"""deployments of revisions to deployment groups, and their targets

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=12), primary_key=True),
        sa.Column(
            "group_id", sa.String(length=36), sa.ForeignKey("deployment_groups.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("active_group_id", sa.String(length=36), nullable=True, unique=True),
        sa.Column("revision", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creator", sa.String(length=32), nullable=False),
        sa.Column("deployment_config_name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("file_exists_behavior", sa.String(length=16), nullable=False),
        sa.Column("ignore_application_stop_failures", sa.Boolean(), nullable=False),
        sa.Column("auto_rollback", sa.JSON(), nullable=True),
        sa.Column("rollback_info", sa.JSON(), nullable=True),
        sa.Column("error_information", sa.JSON(), nullable=True),
        sa.Column("fleet", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("completed_at", _utc(), nullable=True),
    )
    op.create_index("ix_deployments_group_id", "deployments", ["group_id"])
    op.create_table(
        "deployment_targets",
        sa.Column(
            "deployment_id",
            sa.String(length=12),
            sa.ForeignKey("deployments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("host_name", sa.String(length=255), primary_key=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("lifecycle_events", sa.JSON(), nullable=False),
        sa.Column("started_at", _utc(), nullable=True),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deployment_targets")
    op.drop_index("ix_deployments_group_id", table_name="deployments")
    op.drop_table("deployments")
