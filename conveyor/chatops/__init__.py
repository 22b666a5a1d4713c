"""ChatOps: Slack slash commands and buttons that drive pipelines, builds, deployments and schedules."""
