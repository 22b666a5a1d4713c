"""stage locks and waiting executions, action attempts and deadlines, stage retries, disabled transitions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The first schema left the (execution, stage, action) unique constraint unnamed: PostgreSQL named it itself, and
# SQLite's copy-and-move needs a name to drop it by.
_UNNAMED_UNIQUE = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _old_unique_name() -> str:
    if op.get_bind().dialect.name == "postgresql":
        return "action_executions_execution_id_stage_name_action_name_key"
    return "uq_action_executions_execution_id_stage_name_action_name"


def upgrade() -> None:
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_transitions", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("pipeline_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_stage", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("execution_type", sa.String(length=16), nullable=False, server_default="STANDARD")
        )
        batch_op.add_column(sa.Column("rollback_target_id", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_executions_waiting", ["pipeline_id", "waiting_stage"])
    with op.batch_alter_table("stage_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retry", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("action_executions", naming_convention=_UNNAMED_UNIQUE) as batch_op:
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("retired", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(_old_unique_name(), type_="unique")
        batch_op.create_unique_constraint(
            "uq_action_executions_attempt", ["execution_id", "stage_name", "action_name", "attempt"]
        )
        batch_op.create_index("ix_action_executions_deadline_at", ["deadline_at"])


def downgrade() -> None:
    with op.batch_alter_table("action_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_action_executions_deadline_at")
        batch_op.drop_constraint("uq_action_executions_attempt", type_="unique")
        batch_op.create_unique_constraint(_old_unique_name(), ["execution_id", "stage_name", "action_name"])
        batch_op.drop_column("deadline_at")
        batch_op.drop_column("retired")
        batch_op.drop_column("attempt")
    with op.batch_alter_table("stage_executions", schema=None) as batch_op:
        batch_op.drop_column("retry")
    with op.batch_alter_table("pipeline_executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_waiting")
        batch_op.drop_column("rollback_target_id")
        batch_op.drop_column("execution_type")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("waiting_stage")
    with op.batch_alter_table("pipelines", schema=None) as batch_op:
        batch_op.drop_column("disabled_transitions")
