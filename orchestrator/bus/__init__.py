"""The event bus: replay of a run's event log plus live events from Redis pub/sub."""
