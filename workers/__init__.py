"""Celery workers: the run executor and the tool pools."""
