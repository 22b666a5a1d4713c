"""indexes for the unfinished builds and actions the reconciler looks for

Every pass of the reconciler (every few seconds) asks for the builds still queued and the Lambda actions still in
progress; without these, each pass read the whole of both tables, which keep every build and action ever run.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-29 21:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_builds_status_phase", "builds", ["status", "current_phase"])
    op.create_index("ix_action_executions_status", "action_executions", ["status"])


def downgrade() -> None:
    op.drop_index("ix_action_executions_status", table_name="action_executions")
    op.drop_index("ix_builds_status_phase", table_name="builds")
