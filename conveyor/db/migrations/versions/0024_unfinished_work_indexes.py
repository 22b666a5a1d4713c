"""indexes for the unfinished builds and actions the reconciler looks for, and the finished dispatches it forgets

Every pass of the reconciler (every few seconds) asks for the builds still queued and the Lambda actions still in
progress; without these, each pass read the whole of both tables, which keep every build and action ever run. The
dispatches done for a week are deleted, found by when they finished.

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
    op.create_index("ix_dispatches_finished", "dispatches", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_dispatches_finished", table_name="dispatches")
    op.drop_index("ix_action_executions_status", table_name="action_executions")
    op.drop_index("ix_builds_status_phase", table_name="builds")
