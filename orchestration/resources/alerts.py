"""Where a failed run is told: a record on disk always, a webhook and Slack when configured.

The record (one JSON object per line in LIFECYCLE_ALERTS_PATH) is what an operator, or a
monitor that tails it, can rely on without any network; a webhook (LIFECYCLE_ALERT_WEBHOOK_URL:
a JSON body whose `text` a Slack incoming webhook or a chat bridge shows as is) and Slack's
API (LIFECYCLE_SLACK_TOKEN and LIFECYCLE_SLACK_CHANNEL, through dagster-slack) are extra. The
webhook URL and the token are secrets: read from the environment, never logged. A sink that
fails is reported in the sensor's log and does not stop the others.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from dagster import ConfigurableResource
from dagster_slack import SlackResource
from pydantic import Field

from orchestration.masking import mask_addresses


@dataclass(frozen=True)
class Alert:
    """One failed run, as told to people."""

    job_name: str
    run_id: str
    partitions: str  # the day or range the run was for, "" when not partitioned
    failed_steps: list[str]
    error: str  # the first failure's message, addresses masked
    failed_at: str  # ISO 8601, UTC

    @property
    def text(self) -> str:
        days = f" for {self.partitions}" if self.partitions else ""
        steps = ", ".join(self.failed_steps) or "the run"
        return (
            f"{self.job_name}{days} failed (run {self.run_id[:8]}): {steps}. {self.error} "
            f"See the run in the Dagster UI: /runs/{self.run_id}"
        )


def make_alert(
    job_name: str, run_id: str, partitions: str, failures: list[tuple[str, str]]
) -> Alert:
    """An alert from the run's failed steps: (step key, error message) each."""
    error = failures[0][1].strip().split("\n")[0] if failures else "the run failed"
    return Alert(
        job_name=job_name,
        run_id=run_id,
        partitions=partitions,
        failed_steps=[step for step, _ in failures],
        error=mask_addresses(error)[:500],
        failed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


class AlertSinks(ConfigurableResource):
    """Where the run-failure sensor tells of a failed run."""

    path: str = Field(description="JSON-lines file every alert is appended to.")
    webhook_url: str = Field(
        default="", description="POST a JSON alert here (LIFECYCLE_ALERT_WEBHOOK_URL); empty: no."
    )
    slack_token: str = Field(
        default="", description="Slack bot token (LIFECYCLE_SLACK_TOKEN); empty: no Slack."
    )
    slack_channel: str = Field(default="", description="Slack channel (LIFECYCLE_SLACK_CHANNEL).")
    slack_base_url: str = Field(
        default="https://slack.com/api/",
        description="Slack's Web API (LIFECYCLE_SLACK_BASE_URL), for a proxy or a stand-in.",
    )
    timeout_seconds: float = Field(default=10.0, description="Per webhook or Slack call.")

    def send(self, alert: Alert) -> list[str]:
        """Record the alert, then post it; what failed to post, one line each (no secret)."""
        record(Path(self.path), alert)
        problems = []
        if self.webhook_url:
            try:
                post_webhook(self.webhook_url, alert, self.timeout_seconds)
            except Exception as exc:  # a sink down must not hide the alert from the others
                problems.append(f"webhook: {type(exc).__name__}")
        if self.slack_token and self.slack_channel:
            try:
                client = SlackResource(token=self.slack_token).get_client()
                client.base_url = self.slack_base_url
                client.timeout = int(self.timeout_seconds)
                client.chat_postMessage(channel=self.slack_channel, text=alert.text)
            except Exception as exc:
                problems.append(f"slack: {type(exc).__name__}")
        return problems


def record(path: Path, alert: Alert) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps({**asdict(alert), "text": alert.text}) + "\n")


def post_webhook(url: str, alert: Alert, timeout: float) -> None:
    body = json.dumps({"text": alert.text, **asdict(alert)}).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
