"""the checks of a stage's beforeEntry and onSuccess conditions

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stage_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conditions", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("stage_executions", schema=None) as batch_op:
        batch_op.drop_column("conditions")
