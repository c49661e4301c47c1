"""The publishing target: which adapter the sync engine sends to, and how."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from orchestration.publish.adapters import Adapter, OutboxAdapter

TARGETS = ("outbox",)


class PublishTarget(ConfigurableResource):
    """Where audiences are published (LIFECYCLE_ESP_TARGET) and the switches of a sync."""

    target: str = Field(default="outbox", description="outbox (LIFECYCLE_ESP_TARGET).")
    outbox_dir: str = Field(description="Folder of the outbox target (LIFECYCLE_OUTBOX_DIR).")
    outbox_batch_rows: int = Field(
        default=50_000, description="Members per outbox file (LIFECYCLE_OUTBOX_BATCH_ROWS)."
    )
    dry_run: bool = Field(
        default=False,
        description="Compute and record each diff, send nothing (LIFECYCLE_PUBLISH_DRY_RUN).",
    )
    force: bool = Field(
        default=False,
        description="Publish even a change larger than the audience's max_change_share "
        "(set it in the launchpad for one run, after checking the audience).",
    )

    def adapter(self) -> Adapter:
        if self.target == "outbox":
            return OutboxAdapter(Path(self.outbox_dir), max_batch=self.outbox_batch_rows)
        raise ValueError(
            f"LIFECYCLE_ESP_TARGET={self.target!r} is not a publishing target; "
            f"use one of {', '.join(TARGETS)}"
        )
