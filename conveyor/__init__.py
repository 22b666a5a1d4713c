"""Conveyor: a self-hosted release system that runs AWS developer-tools files on your own machines."""

__version__ = "0.1.0"
