"""build caches: a project's cache settings, and the ones each build was submitted with

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("build_projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cache", sa.JSON(), nullable=True))
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cache", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_column("cache")
    with op.batch_alter_table("build_projects", schema=None) as batch_op:
        batch_op.drop_column("cache")
