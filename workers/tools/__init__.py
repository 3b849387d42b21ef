"""Server-side tool pools: each tool runs on its own Celery queue, and hands the run back when done."""
