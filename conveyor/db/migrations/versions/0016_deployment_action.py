"""the pipeline action a deployment reports to

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action_execution_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_deployments_action_execution_id", ["action_execution_id"])
        batch_op.create_foreign_key(
            "fk_deployments_action_execution_id", "action_executions", ["action_execution_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_deployments_action_execution_id", type_="foreignkey")
        batch_op.drop_index("ix_deployments_action_execution_id")
        batch_op.drop_column("action_execution_id")
