"""The publishing target: which adapter the sync engine sends to, and how.

Credentials are read from the environment when an adapter is made, never stored in the
resource's config (which the Dagster UI shows): `KLAVIYO_API_KEY` for Klaviyo,
`MAILCHIMP_API_KEY` (with `MAILCHIMP_LIST_ID`, the audience) for Mailchimp,
`SENDGRID_API_KEY` for SendGrid.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from orchestration.publish.adapters import Adapter, OutboxAdapter
from orchestration.publish.http import RetryPolicy
from orchestration.publish.klaviyo import STEADY_PER_MINUTE, KlaviyoAdapter, klaviyo_client
from orchestration.publish.mailchimp import MailchimpAdapter, api_url, mailchimp_client
from orchestration.publish.sendgrid import SendGridAdapter, sendgrid_client
from orchestration.settings import esp_credentials

KLAVIYO_URL = "https://a.klaviyo.com"
SENDGRID_URL = "https://api.sendgrid.com"


class PublishTarget(ConfigurableResource):
    """Where audiences are published (LIFECYCLE_ESP_TARGET) and the switches of a sync."""

    target: str = Field(
        default="outbox",
        description="outbox, klaviyo, mailchimp or sendgrid (LIFECYCLE_ESP_TARGET).",
    )
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
    esp_base_url: str = Field(
        default="",
        description="The ESP API's base URL; empty for its public one (LIFECYCLE_ESP_BASE_URL).",
    )
    esp_deadline_seconds: float = Field(
        default=600.0,
        description="How long one API call may take, retries included "
        "(LIFECYCLE_ESP_DEADLINE_SECONDS).",
    )
    esp_requests_per_minute: float = Field(
        default=0.0,
        description="Client-side pace; 0 = the ESP's published steady rate "
        "(LIFECYCLE_ESP_REQUESTS_PER_MINUTE).",
    )
    esp_poll_seconds: float = Field(
        default=2.0, description="Between two polls of an async job (LIFECYCLE_ESP_POLL_SECONDS)."
    )
    esp_backoff_seconds: float = Field(
        default=0.5,
        description="Backoff before the first retry of a failed call, doubling per attempt, "
        "with full jitter (LIFECYCLE_ESP_BACKOFF_SECONDS).",
    )
    frequency_cap_audiences: int = Field(
        description="A contact is in at most this many audiences at once and enters at most "
        "this many in the window (LIFECYCLE_FREQUENCY_CAP_AUDIENCES).",
    )
    frequency_cap_window_days: int = Field(
        description="The cap's window of entries (LIFECYCLE_FREQUENCY_CAP_WINDOW_DAYS)."
    )
    max_change_share: float = Field(
        description="The circuit breaker: the largest share of a list one sync may change, "
        "unless the audience's meta sets its own (LIFECYCLE_PUBLISH_MAX_CHANGE_SHARE).",
    )
    max_failed_share: float = Field(
        default=0.01,
        description="A sync whose target refuses more than this share of the members sent "
        "fails its member_failures_within_threshold check (LIFECYCLE_PUBLISH_MAX_FAILED_SHARE).",
    )
    min_change_rows: int = Field(
        description="The breaker opens only from this many changed members, unless the "
        "audience's meta sets its own (LIFECYCLE_PUBLISH_MIN_CHANGE_ROWS).",
    )

    def _policy(self, published_rate: float) -> RetryPolicy:
        return RetryPolicy(
            deadline_seconds=self.esp_deadline_seconds,
            backoff_base_seconds=self.esp_backoff_seconds,
            requests_per_minute=self.esp_requests_per_minute or published_rate,
        )

    def adapter(self) -> Adapter:
        credentials = esp_credentials(self.target)
        if self.target == "outbox":
            return OutboxAdapter(Path(self.outbox_dir), max_batch=self.outbox_batch_rows)
        if self.target == "klaviyo":
            client = klaviyo_client(
                credentials["KLAVIYO_API_KEY"],
                self.esp_base_url or KLAVIYO_URL,
                self._policy(STEADY_PER_MINUTE),
            )
            return KlaviyoAdapter(
                client,
                poll_seconds=self.esp_poll_seconds,
                job_deadline_seconds=self.esp_deadline_seconds,
            )
        if self.target == "mailchimp":
            key, list_id = credentials["MAILCHIMP_API_KEY"], credentials["MAILCHIMP_LIST_ID"]
            # Mailchimp publishes no steady rate, only 10 connections at once: we use one.
            client = mailchimp_client(key, self.esp_base_url or api_url(key), self._policy(0))
            return MailchimpAdapter(client, list_id=list_id)
        # SendGrid, the last target esp_credentials accepts. No steady rate is published for
        # these endpoints: 429s say when to come back.
        key = credentials["SENDGRID_API_KEY"]
        client = sendgrid_client(key, self.esp_base_url or SENDGRID_URL, self._policy(0))
        return SendGridAdapter(
            client,
            poll_seconds=self.esp_poll_seconds,
            job_deadline_seconds=self.esp_deadline_seconds,
        )
