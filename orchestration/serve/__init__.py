"""Serving: the marts and audiences published whole for BI tools, never the warehouse."""

from orchestration.serve.snapshot import MANIFEST, SERVED_SCHEMAS, Snapshot, publish_snapshot

__all__ = ["MANIFEST", "SERVED_SCHEMAS", "Snapshot", "publish_snapshot"]
