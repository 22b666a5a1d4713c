"""build batches, and each build's batch and task

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import conveyor.db.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "build_batches",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("project_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("current_phase", sa.String(length=32), nullable=False),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("initiator", sa.String(length=200), nullable=False),
        sa.Column("buildspec", sa.Text(), nullable=True),
        sa.Column("source_version", sa.String(length=200), nullable=True),
        sa.Column("resolved_source_version", sa.String(length=64), nullable=True),
        sa.Column("input_artifacts", sa.JSON(), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("secret_variables", sa.JSON(), nullable=False),
        sa.Column("combine_artifacts", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("fast_fail", sa.Boolean(), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("stop_requested_at", conveyor.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("action_execution_id", sa.String(length=36), nullable=True),
        sa.Column("artifact", sa.JSON(), nullable=True),
        sa.Column("created_at", conveyor.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("start_time", conveyor.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_time", conveyor.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["action_execution_id"], ["action_executions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("build_batches", schema=None) as batch_op:
        batch_op.create_index("ix_build_batches_action_execution_id", ["action_execution_id"], unique=False)
        batch_op.create_index("ix_build_batches_project_name", ["project_name"], unique=False)
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch_id", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("batch_identifier", sa.String(length=127), nullable=True))
        batch_op.create_index("ix_builds_batch_id", ["batch_id"], unique=False)
        batch_op.create_foreign_key("fk_builds_batch_id_build_batches", "build_batches", ["batch_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_constraint("fk_builds_batch_id_build_batches", type_="foreignkey")
        batch_op.drop_index("ix_builds_batch_id")
        batch_op.drop_column("batch_identifier")
        batch_op.drop_column("batch_id")
    with op.batch_alter_table("build_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_build_batches_project_name")
        batch_op.drop_index("ix_build_batches_action_execution_id")
    op.drop_table("build_batches")
