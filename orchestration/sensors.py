"""Sensors: the daily run starts when a day's files have arrived, and a failed run is told.

`landing_files_sensor` (off until an operator turns it on, like the schedules; use it instead
of the nightly schedule, not beside it) looks at the landing folder's recent days. A day whose
files changed since the sensor last saw it (a fingerprint of names, sizes and modification
times, kept in the cursor), and have not changed for LIFECYCLE_LANDING_SETTLE_SECONDS (an
upload still under way is not read half), gets one daily run; the run key carries the
fingerprint, so evaluating again, or a restarted daemon, never starts it twice, while a day
landed again starts a new run. Today is left to the cart job: a day is run once it is over.

`alert_on_run_failure` (on by default) writes every failed daily or cart run to the alerts
file and posts it where configured (orchestration/resources/alerts.py).
"""

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    RunFailureSensorContext,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from orchestration.ingest import SOURCES
from orchestration.partitions import RANGE_END_TAG, RANGE_START_TAG
from orchestration.resources.alerts import AlertSinks, make_alert
from orchestration.resources.landing import LandingZone
from orchestration.shop_time import shop_today

# A job as defined (an asset job is resolved when the definitions load).
Job = JobDefinition | Any


def day_fingerprint(landing: LandingZone, day: dt.date) -> tuple[str, float] | None:
    """(fingerprint, newest modification time) of a day's landing files, None without any."""
    files = sorted(
        p for spec in SOURCES for p in landing.files(spec.name, day, spec.suffixes) if p.exists()
    )
    if not files:
        return None
    root = Path(landing.root)
    stats = [(p.relative_to(root).as_posix(), p.stat()) for p in files]
    digest = hashlib.sha256(
        "\n".join(f"{name} {s.st_size} {s.st_mtime_ns}" for name, s in stats).encode()
    ).hexdigest()[:16]
    return digest, max(s.st_mtime for _, s in stats)


def build_landing_sensor(
    job: Job, timezone: str, first_day: dt.date, lookback_days: int, settle_seconds: float
) -> SensorDefinition:
    @sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description=f"Starts the daily run of a day (of the last {lookback_days}) once its "
        f"landing files arrived or changed and stayed unchanged for {settle_seconds:g} s.",
    )
    def landing_files_sensor(context: SensorEvaluationContext, landing: LandingZone):
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        yesterday = shop_today(timezone) - dt.timedelta(days=1)
        days = [yesterday - dt.timedelta(days=n) for n in range(lookback_days)]
        days = [d for d in reversed(days) if d >= first_day]
        requests, settling = [], []
        for day in days:
            found = day_fingerprint(landing, day)
            if found is None or seen.get(day.isoformat()) == found[0]:
                continue
            fingerprint, newest = found
            if time.time() - newest < settle_seconds:
                settling.append(day.isoformat())
                continue
            seen[day.isoformat()] = fingerprint
            requests.append(
                RunRequest(run_key=f"{day}:{fingerprint}", partition_key=day.isoformat())
            )
        cursor = json.dumps({d: f for d, f in seen.items() if d >= days[0].isoformat()})
        if not requests:
            why = f"still arriving: {', '.join(settling)}" if settling else "nothing new"
            return SensorResult(skip_reason=SkipReason(why), cursor=cursor)
        context.log.info(
            f"landing files arrived for {', '.join(r.partition_key for r in requests)}"
        )
        return SensorResult(run_requests=requests, cursor=cursor)

    return landing_files_sensor


def build_failure_sensor(jobs: list[Job]) -> SensorDefinition:
    @run_failure_sensor(
        name="alert_on_run_failure",
        monitored_jobs=jobs,
        default_status=DefaultSensorStatus.RUNNING,
        description="Writes every failed daily or cart run to the alerts file and posts it to "
        "the webhook and Slack channel when they are configured.",
    )
    def alert_on_run_failure(context: RunFailureSensorContext, alerts: AlertSinks) -> None:
        run = context.dagster_run
        tags = run.tags
        partitions = tags.get("dagster/partition") or (
            f"{tags[RANGE_START_TAG]}..{tags[RANGE_END_TAG]}" if RANGE_START_TAG in tags else ""
        )
        failures = [
            (e.step_key or "", _root_message(e.step_failure_data.error))
            for e in context.get_step_failure_events()
        ]
        if not failures and context.failure_event.message:
            failures = [("", context.failure_event.message)]
        alert = make_alert(run.job_name, run.run_id, partitions, failures)
        for problem in alerts.send(alert):
            context.log.warning(f"alert for run {run.run_id} not posted: {problem}")
        context.log.info(f"alert recorded in {alerts.path}: {alert.text}")

    return alert_on_run_failure


def _root_message(error: Any) -> str:
    """The message of what went wrong first (Dagster wraps a step's own error in its own)."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message if error is not None else ""
