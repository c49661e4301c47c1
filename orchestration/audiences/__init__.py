"""Audiences: the gate each audience dbt builds must pass before it is published."""
