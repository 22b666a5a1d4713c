"""Notifications and commit statuses: readers of the state changes Conveyor records, sending them out from jobs."""
