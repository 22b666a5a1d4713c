"""the deploy engine's registry: applications, deployment configurations and groups, hosts and their standing

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deploy_applications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("compute_platform", sa.String(length=16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "deployment_configs",
        sa.Column("name", sa.String(length=100), primary_key=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "deployment_groups",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "application_id",
            sa.Integer(),
            sa.ForeignKey("deploy_applications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("deployment_config_name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("target_revision", sa.JSON(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.UniqueConstraint("application_id", "name"),
    )
    op.create_table(
        "deploy_hosts",
        sa.Column("name", sa.String(length=255), primary_key=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("queue", sa.String(length=300), nullable=False),
        sa.Column("registered_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
    )
    op.create_table(
        "deployment_group_hosts",
        sa.Column(
            "group_id",
            sa.String(length=36),
            sa.ForeignKey("deployment_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "host_name", sa.String(length=255), sa.ForeignKey("deploy_hosts.name", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("revision", sa.JSON(), nullable=True),
        sa.Column("instance_health", sa.String(length=16), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("deployment_group_hosts")
    op.drop_table("deploy_hosts")
    op.drop_table("deployment_groups")
    op.drop_table("deployment_configs")
    op.drop_table("deploy_applications")
