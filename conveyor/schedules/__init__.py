"""Cron schedules: expressions and when they fire (pure), schedules in SQL, and their firing by the scheduler."""
