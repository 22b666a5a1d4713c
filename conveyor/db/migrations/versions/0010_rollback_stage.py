"""the stage a rollback execution runs

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rollback_stage", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_executions", schema=None) as batch_op:
        batch_op.drop_column("rollback_stage")
