"""What the ESP adapters share: cutting members into calls within an API's limits, and
waiting for the asynchronous jobs some APIs answer with (Klaviyo, SendGrid)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from orchestration.publish.http import ApiClient, ApiError

T = TypeVar("T")
PAYLOAD_MARGIN = 0.9  # of a byte limit: room for the request's envelope


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def payload_chunks(
    items: Sequence[T], render: Callable[[T], Any], max_items: int, max_bytes: int
) -> Iterator[list[T]]:
    """Items cut so that each call holds at most `max_items` and stays under `max_bytes` of
    JSON (each item as `render` makes it)."""
    chunk: list[T] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(render(item))) + 1
        full = len(chunk) >= max_items or size + item_size > max_bytes * PAYLOAD_MARGIN
        if chunk and full:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


class JobAdapter:
    """An adapter whose writes are async jobs: polled until done, resubmitted a few times
    when the ESP gives one up."""

    name = "esp"

    def __init__(
        self,
        client: ApiClient,
        poll_seconds: float = 2.0,
        job_deadline_seconds: float = 1_800.0,
        job_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if job_attempts < 1:
            # Zero attempts would give every batch up unsent, with no job to name.
            raise ValueError(f"job_attempts must be at least 1, not {job_attempts}")
        self.client = client
        self.poll_seconds = poll_seconds
        self.job_deadline_seconds = job_deadline_seconds
        self.job_attempts = job_attempts
        self._sleep = sleep

    def wait_for(self, path: str, status_of: Callable[[Any], str], pending: set[str]) -> str:
        """Poll `path` until the job's status (read by `status_of`) is no longer pending."""
        deadline = time.monotonic() + self.job_deadline_seconds
        while True:
            status = status_of(self.client.request("GET", path).json())
            if status not in pending:
                return status
            if time.monotonic() + self.poll_seconds > deadline:
                raise ApiError(
                    f"{self.name}: job {path} still {status} after "
                    f"{self.job_deadline_seconds:g} s; the batch is sent again by the next sync"
                )
            self._sleep(self.poll_seconds)

    def gave_up(self, job: str, status: str) -> ApiError:
        return ApiError(
            f"{self.name}: job {job} {status} {self.job_attempts} times; the batch stays in "
            "flight and is sent again by the next sync"
        )

    def finish(self, audience: str, plan_id: str, summary: dict[str, Any]) -> None:
        """Nothing to close: every job of a batch is done once `send` returns."""
