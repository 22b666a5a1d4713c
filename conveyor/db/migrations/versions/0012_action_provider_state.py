"""what a provider keeps on an action while it waits (a Lambda action's job)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_state", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_executions", schema=None) as batch_op:
        batch_op.drop_column("provider_state")
