"""Use cases: the service decides what changes, the store persists it atomically."""
