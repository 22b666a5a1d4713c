"""each action execution's configuration with its variable references resolved

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_configuration", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_executions", schema=None) as batch_op:
        batch_op.drop_column("resolved_configuration")
