"""Quality: the gate of the raw tables after each load, and what every gate shares (the report,
the suite checks)."""
