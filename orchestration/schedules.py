"""Schedules, off until an operator turns them on: the nightly refresh of the previous day,
and the cart-abandonment job every 15 minutes on today's partition."""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

DAILY_HOUR = 2  # shop-local hour: late events of the previous day have mostly arrived
CART_CRON = "*/15 * * * *"
_PENDING = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def _local_now(context: ScheduleEvaluationContext, timezone: str) -> dt.datetime:
    return context.scheduled_execution_time.astimezone(ZoneInfo(timezone))


def build_daily_schedule(job, timezone: str) -> ScheduleDefinition:
    @schedule(
        name="daily_refresh_schedule",
        job=job,
        cron_schedule=f"0 {DAILY_HOUR} * * *",
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Every night: the previous (now complete) day.",
    )
    def _daily(context: ScheduleEvaluationContext) -> RunRequest:
        day = (_local_now(context, timezone).date() - dt.timedelta(days=1)).isoformat()
        return RunRequest(run_key=day, partition_key=day)

    return _daily


def build_cart_schedule(job, timezone: str) -> ScheduleDefinition:
    @schedule(
        name="cart_abandonment_schedule",
        job=job,
        cron_schedule=CART_CRON,
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Every 15 minutes: today's checkouts and the cart-abandonment steps. A tick "
        "is skipped while an earlier cart run is still queued or running.",
    )
    def _cart(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        pending = context.instance.get_runs_count(RunsFilter(job_name=job.name, statuses=_PENDING))
        if pending:
            return SkipReason(f"{pending} {job.name} run(s) still queued or running")
        now = _local_now(context, timezone)
        return RunRequest(run_key=now.isoformat(), partition_key=now.date().isoformat())

    return _cart
