"""Pure domain: ids, statuses, object shapes, the run state machine. No I/O."""
