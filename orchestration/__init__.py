"""lifecycle-pipeline: the Dagster code location for lifecycle email marketing."""
