"""The run executor: drives one run through model turns and tool calls."""
