"""Async ESP jobs given up: the error names the job's real last status; attempts are at least 1."""

from __future__ import annotations

from typing import Any

import pytest

from esp_emulators.base import Faults, Request
from esp_emulators.klaviyo import KlaviyoEmulator
from orchestration.publish.adapters import Batch, Member
from orchestration.publish.http import ApiError, RetryPolicy
from orchestration.publish.klaviyo import KlaviyoAdapter, klaviyo_client

API_KEY = "pk_test_" + "0a1b2c3d4e5f" * 3
POLICY = RetryPolicy(deadline_seconds=10, timeout_seconds=5, backoff_base_seconds=0.01)


class FailedJobsKlaviyo(KlaviyoEmulator):
    """Klaviyo whose import jobs that give up end `failed`, not the documented `cancelled`."""

    def _create_job(self, request: Request) -> tuple[int, Any]:
        status, body = super()._create_job(request)
        job = self.jobs[body["data"]["id"]]
        if job["ends"] == "cancelled":
            job["ends"] = "failed"
        return status, body


def test_a_given_up_klaviyo_import_names_the_jobs_real_status() -> None:
    server = FailedJobsKlaviyo(API_KEY, faults=Faults(failed_jobs=10)).start()
    try:
        adapter = KlaviyoAdapter(klaviyo_client(API_KEY, server.base_url, POLICY), poll_seconds=0)
        members = (Member("ann@example.com", {"first_name": "Ann"}),)
        batch = Batch("b1", "aud_test", "Test list", "run-1", 1, "add", members)
        with pytest.raises(ApiError, match="failed 3 times") as gave_up:
            adapter.send(batch)
    finally:
        server.stop()
    assert "cancelled" not in str(gave_up.value)
    assert len(server.jobs) == 3  # each attempt was a new job


def test_an_adapter_needs_at_least_one_job_attempt() -> None:
    client = klaviyo_client(API_KEY, "http://127.0.0.1:9", POLICY)
    with pytest.raises(ValueError, match="job_attempts must be at least 1, not 0"):
        KlaviyoAdapter(client, job_attempts=0)
