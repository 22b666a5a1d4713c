"""indexes for the unfinished builds and actions the reconciler looks for, and the finished dispatches it forgets

Every pass of the reconciler (every few seconds) asks for the builds still queued and the Lambda actions still in
progress; without these, each pass read the whole of both tables, which keep every build and action ever run. The
dispatches done for a week are deleted, found by when they finished. A project's builds, newest first, are read in
the order of an index rather than all of them sorted, and so are a pipeline's executions (the index had no id to
break ties with) and the batches.

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
    op.create_index("ix_builds_project_created", "builds", ["project_name", "created_at", "id"])
    op.create_index("ix_executions_pipeline_newest", "pipeline_executions", ["pipeline_id", "created_at", "id"])
    op.drop_index("ix_executions_pipeline_created", table_name="pipeline_executions")
    op.create_index("ix_build_batches_created", "build_batches", ["created_at"])
    op.create_index("ix_build_batches_project_created", "build_batches", ["project_name", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_build_batches_project_created", table_name="build_batches")
    op.drop_index("ix_build_batches_created", table_name="build_batches")
    op.create_index("ix_executions_pipeline_created", "pipeline_executions", ["pipeline_id", "created_at"])
    op.drop_index("ix_executions_pipeline_newest", table_name="pipeline_executions")
    op.drop_index("ix_builds_project_created", table_name="builds")
    op.drop_index("ix_dispatches_finished", table_name="dispatches")
    op.drop_index("ix_action_executions_status", table_name="action_executions")
    op.drop_index("ix_builds_status_phase", table_name="builds")
