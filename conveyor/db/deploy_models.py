"""SQL tables of the deploy engine: applications, deployment configurations and groups, the hosts agents register,
each host's standing in a group, and deployments with their targets. Part of the one metadata (`conveyor.db.models`
imports this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from conveyor.db.models import Base, utcnow
from conveyor.ids import new_id


class DeployApplication(Base):
    """A CodeDeploy application: a name and the compute platform its deployment groups target."""

    __tablename__ = "deploy_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    compute_platform: Mapped[str] = mapped_column(String(16))  # Server | Lambda | ECS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    groups: Mapped[list[DeploymentGroup]] = relationship(back_populates="application", order_by="DeploymentGroup.name")


class CustomDeploymentConfig(Base):
    """A deployment configuration made with create-deployment-config; the predefined ones live in code."""

    __tablename__ = "deployment_configs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # create-deployment-config's request as given (validated): computePlatform, minimumHealthyHosts, …
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeploymentGroup(Base):
    """Where and how an application is deployed: the hosts (by tag), the configuration, style, traffic and alarms."""

    __tablename__ = "deployment_groups"
    __table_args__ = (UniqueConstraint("application_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # DEPLOYMENT_GROUP_ID
    application_id: Mapped[int] = mapped_column(ForeignKey("deploy_applications.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    deployment_config_name: Mapped[str] = mapped_column(String(100))
    # create-deployment-group's request as given and validated: tag filters, deploymentStyle, loadBalancerInfo,
    # alarmConfiguration, autoRollbackConfiguration, blueGreenDeploymentConfiguration, ecsServices, …
    definition: Mapped[dict[str, Any]]
    target_revision: Mapped[dict[str, Any] | None]  # the revision of the last successful deployment
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[DeployApplication] = relationship(back_populates="groups")


class DeployHost(Base):
    """A host an agent registered, with its tags; its agent works the RQ queue named `queue`."""

    __tablename__ = "deploy_hosts"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queue: Mapped[str] = mapped_column(String(300))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupHost(Base):
    """A host's standing in a deployment group: the revision it runs and its instance health (§2.5)."""

    __tablename__ = "deployment_group_hosts"

    group_id: Mapped[str] = mapped_column(ForeignKey("deployment_groups.id", ondelete="CASCADE"), primary_key=True)
    host_name: Mapped[str] = mapped_column(ForeignKey("deploy_hosts.name", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    instance_health: Mapped[str] = mapped_column(String(16), default="Healthy")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deployment(Base):
    """One deployment of a revision to a deployment group (CodeDeploy's `deploymentInfo`).

    `fleet` is the batching engine's state (`conveyor.deploy.fleet_codec`) with each host's health before the
    deployment. `active_group_id` holds the group's id while the deployment is not over: its uniqueness is the rule
    of one deployment per deployment group at a time.
    """

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)  # d-XXXXXXXXX
    group_id: Mapped[str] = mapped_column(ForeignKey("deployment_groups.id", ondelete="CASCADE"), index=True)
    active_group_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    revision: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    creator: Mapped[str] = mapped_column(String(32))  # user | codeDeployRollback
    deployment_config_name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    file_exists_behavior: Mapped[str] = mapped_column(String(16))
    ignore_application_stop_failures: Mapped[bool]
    auto_rollback: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the deployment's own override
    rollback_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_information: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fleet: Mapped[dict[str, Any]]
    # the pipeline action (provider CodeDeploy) this deployment reports to when it ends
    action_execution_id: Mapped[str | None] = mapped_column(ForeignKey("action_executions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    group: Mapped[DeploymentGroup] = relationship()
    targets: Mapped[list[DeploymentTarget]] = relationship(
        back_populates="deployment", order_by="DeploymentTarget.host_name", cascade="all, delete-orphan"
    )


class DeploymentTarget(Base):
    """One host of a deployment: its status, its batch, and its lifecycle events with times and diagnostics."""

    __tablename__ = "deployment_targets"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    host_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    batch: Mapped[int | None]  # 1 for the first batch; None until the host is deployed to
    # [{lifecycleEventName, status, startTime, endTime, diagnostics}] in the order the events run
    lifecycle_events: Mapped[list[Any]]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    deployment: Mapped[Deployment] = relationship(back_populates="targets")
