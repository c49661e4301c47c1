"""What the ESP adapters share: cutting members into calls within an API's limits, creating
what a list needs exactly once (`find_or_create`), and waiting for the asynchronous jobs some
APIs answer with (Klaviyo, SendGrid)."""

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


def already_exists(error: ApiError) -> bool:
    """Whether the ESP refused a create because the object is there (a 409, or a 400 that
    says so: Mailchimp's merge tags, SendGrid's field names)."""
    return error.status == 409 or (
        error.status == 400 and "already exist" in str(error.body).lower()
    )


def find_or_create(
    client: ApiClient,
    what: str,
    find: Callable[[], T | None],
    create: Callable[[], T],
    look_first: bool = True,
) -> T:
    """The object `find` finds, else the one `create` makes: once, whatever answer is lost.

    `create` must send its call with `idempotent=False`. When that call's outcome is unknown
    (a timeout, a dropped connection, a 5xx: the ESP may have applied it) or the ESP says the
    object already exists (another sync made it since we looked), it is looked up again before
    anything is created again; creates are retried with backoff within the client's deadline.
    `look_first=False` when the caller has just looked (a cached listing)."""
    found = find() if look_first else None
    if found is not None:
        return found
    deadline = time.monotonic() + client.policy.deadline_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            return create()
        except ApiError as error:
            exists = already_exists(error)
            if not (error.outcome_unknown or exists):
                raise
            found = find()
            if found is not None:
                return found
            if exists:
                raise ApiError(
                    f"{client.name}: creating {what} was refused as already existing, yet "
                    "looking it up does not find it (one named alike, such as in another case, "
                    f"or of another type?); rename or remove it in {client.name}, then run the "
                    "sync again",
                    error.status,
                    error.body,
                ) from error
            wait = client.backoff(attempt)
            if time.monotonic() + wait > deadline:
                raise ApiError(
                    f"{error}; {what} is still not there after {attempt} tries to create it; "
                    "the next sync looks for it and tries again",
                    error.status,
                    error.body,
                ) from error
            client.pause(wait, f"creating {what}: no answer, not there", attempt)


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
