"""What starts pipelines: GitHub webhooks (and, later, chat commands and schedules)."""
