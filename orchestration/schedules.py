"""Schedules: the daily refresh, off until an operator turns it on."""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from orchestration.jobs import daily_refresh

DAILY_HOUR = 2  # shop-local hour: late events of the previous day have mostly arrived

# Materializes the previous day's partition every night.
daily_refresh_schedule = build_schedule_from_partitioned_job(
    daily_refresh,
    hour_of_day=DAILY_HOUR,
    default_status=DefaultScheduleStatus.STOPPED,
    name="daily_refresh_schedule",
)
