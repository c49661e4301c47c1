"""Every environment setting of the pipeline, with its default, read in one place.

Resources are built from these values in `definitions.py`; assets never read the
environment themselves. docs/settings.md documents every setting it reads.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestration.churn_model_settings import ChurnModelSettings
from orchestration.quality_thresholds import QualityThresholds

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# The dbt targets (profiles.yml) the pipeline can run its dbt layer on: DuckDB's file, or
# Spark over the lake. PostgreSQL builds the same models, but nothing loads its raw tables.
DBT_TARGETS = ("duckdb", "spark")


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    dagster_home: Path  # Dagster's records (DAGSTER_HOME), for the `lifecycle` command
    landing_dir: Path
    warehouse_path: Path
    serving_path: Path  # the read-only copy BI tools open, replaced whole after each run
    serving_parquet_dir: Path | None  # the same tables as Parquet; None: not written
    lake_dir: Path | None  # the raw zone's root (<lake>/raw/<table>/...); None: not written
    dbt_target: str  # the engine of the dbt layer: duckdb (the warehouse file) or spark
    spark_dir: Path  # a local Spark session's tables and metastore (dbt target spark)
    reports_dir: Path  # the marketer's HTML report, one page per run date
    timezone: str
    partitions_start: dt.date | None  # None: the landing folder's first day
    warehouse_lock_timeout_seconds: float
    duckdb_memory_limit: str  # DuckDB's memory_limit: "8GB", or "25%" of the machine's memory
    duckdb_threads: int  # DuckDB's threads: one per core unless set
    ingest_batch_megabytes: int  # landing files one load transaction reads at most
    quality: QualityThresholds
    churn_model: ChurnModelSettings
    esp_target: str
    outbox_dir: Path
    outbox_batch_rows: int
    publish_dry_run: bool
    esp_base_url: str  # empty: the selected ESP's public API
    esp_deadline_seconds: float
    esp_requests_per_minute: float  # 0: the selected ESP's published steady rate
    esp_poll_seconds: float
    esp_backoff_seconds: float  # the first retry's backoff ceiling; doubles per attempt
    frequency_cap_audiences: int  # audiences a contact is in at once, and enters per window
    frequency_cap_window_days: int
    publish_max_change_share: float  # an audience's meta.audience.max_change_share overrides
    publish_min_change_rows: int  # an audience's meta.audience.min_change_rows overrides
    publish_max_failed_share: float  # a sync's refused members above this share: check warns
    marts_fresh_within_hours: float  # the marts' freshness policy: overdue past this age
    alerts_path: Path  # every failed run, one JSON line each
    slack_channel: str  # with LIFECYCLE_SLACK_TOKEN in the environment: failed runs posted
    slack_base_url: str
    landing_sensor_lookback_days: int  # the landing sensor looks at this many recent days
    landing_settle_seconds: float  # and runs a day once its files are unchanged this long

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LIFECYCLE_DATA_DIR") or PROJECT_ROOT / "data")
        timezone = env.get("LIFECYCLE_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"LIFECYCLE_TIMEZONE={timezone!r} is not an IANA time zone; "
                "set it to a name such as 'UTC' or 'Europe/Berlin'"
            ) from exc
        start = (env.get("LIFECYCLE_PARTITIONS_START") or "").strip()
        try:
            partitions_start = dt.date.fromisoformat(start) if start else None
        except ValueError as exc:
            raise SettingsError(
                f"LIFECYCLE_PARTITIONS_START={start!r} is not a date; use YYYY-MM-DD"
            ) from exc
        timeout = env.get("LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS") or "300"
        try:
            lock_timeout = float(timeout)
        except ValueError as exc:
            raise SettingsError(
                f"LIFECYCLE_WAREHOUSE_LOCK_TIMEOUT_SECONDS={timeout!r} is not a number of seconds"
            ) from exc
        lake_dir = _optional_dir(env, "LIFECYCLE_LAKE_DIR", data_dir / "lake")
        dbt_target = (env.get("LIFECYCLE_DBT_TARGET") or "duckdb").strip().lower()
        if dbt_target not in DBT_TARGETS:
            raise SettingsError(
                f"LIFECYCLE_DBT_TARGET={dbt_target!r} is not a dbt target the pipeline runs; "
                f"use one of {', '.join(DBT_TARGETS)}"
            )
        if dbt_target == "spark" and lake_dir is None:
            raise SettingsError(
                "LIFECYCLE_DBT_TARGET=spark reads the raw zone, but LIFECYCLE_LAKE_DIR is off; "
                "set it to a folder (or unset it for data/lake)"
            )
        return cls(
            data_dir=data_dir,
            dagster_home=Path(env.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster").resolve(),
            landing_dir=Path(env.get("LIFECYCLE_LANDING_DIR") or data_dir / "landing"),
            warehouse_path=Path(
                env.get("LIFECYCLE_WAREHOUSE_PATH") or data_dir / "warehouse.duckdb"
            ),
            serving_path=Path(env.get("LIFECYCLE_SERVING_PATH") or data_dir / "serving.duckdb"),
            serving_parquet_dir=_optional_dir(
                env, "LIFECYCLE_SERVING_PARQUET_DIR", data_dir / "serving"
            ),
            lake_dir=lake_dir,
            dbt_target=dbt_target,
            spark_dir=Path(env.get("LIFECYCLE_SPARK_DIR") or data_dir / "spark"),
            reports_dir=Path(env.get("LIFECYCLE_REPORTS_DIR") or data_dir / "reports"),
            timezone=timezone,
            partitions_start=partitions_start,
            warehouse_lock_timeout_seconds=lock_timeout,
            duckdb_memory_limit=_memory_limit(env),
            duckdb_threads=_positive_int(env, "LIFECYCLE_DUCKDB_THREADS", os.cpu_count() or 1),
            ingest_batch_megabytes=_positive_int(env, "LIFECYCLE_INGEST_BATCH_MB", 256),
            quality=_quality_thresholds(env),
            churn_model=ChurnModelSettings(**_variables(env, _CHURN_MODEL_VARIABLES)),
            esp_target=(env.get("LIFECYCLE_ESP_TARGET") or "outbox").strip().lower(),
            outbox_dir=Path(env.get("LIFECYCLE_OUTBOX_DIR") or data_dir / "outbox"),
            outbox_batch_rows=_positive_int(env, "LIFECYCLE_OUTBOX_BATCH_ROWS", 50_000),
            publish_dry_run=_flag(env, "LIFECYCLE_PUBLISH_DRY_RUN"),
            esp_base_url=(env.get("LIFECYCLE_ESP_BASE_URL") or "").strip(),
            esp_deadline_seconds=_number(env, "LIFECYCLE_ESP_DEADLINE_SECONDS", 600.0),
            esp_requests_per_minute=_number(env, "LIFECYCLE_ESP_REQUESTS_PER_MINUTE", 0.0, 0.0),
            esp_poll_seconds=_number(env, "LIFECYCLE_ESP_POLL_SECONDS", 2.0),
            esp_backoff_seconds=_number(env, "LIFECYCLE_ESP_BACKOFF_SECONDS", 0.5),
            frequency_cap_audiences=_positive_int(env, "LIFECYCLE_FREQUENCY_CAP_AUDIENCES", 1),
            frequency_cap_window_days=_positive_int(env, "LIFECYCLE_FREQUENCY_CAP_WINDOW_DAYS", 7),
            publish_max_change_share=_number(env, "LIFECYCLE_PUBLISH_MAX_CHANGE_SHARE", 0.5),
            publish_min_change_rows=_positive_int(env, "LIFECYCLE_PUBLISH_MIN_CHANGE_ROWS", 100),
            publish_max_failed_share=_number(env, "LIFECYCLE_PUBLISH_MAX_FAILED_SHARE", 0.01, 0.0),
            marts_fresh_within_hours=_number(env, "LIFECYCLE_MARTS_FRESH_WITHIN_HOURS", 30.0),
            alerts_path=Path(env.get("LIFECYCLE_ALERTS_PATH") or data_dir / "alerts.jsonl"),
            slack_channel=(env.get("LIFECYCLE_SLACK_CHANNEL") or "").strip(),
            slack_base_url=env.get("LIFECYCLE_SLACK_BASE_URL") or "https://slack.com/api/",
            landing_sensor_lookback_days=_positive_int(
                env, "LIFECYCLE_LANDING_SENSOR_LOOKBACK_DAYS", 14
            ),
            landing_settle_seconds=_number(env, "LIFECYCLE_LANDING_SETTLE_SECONDS", 120.0, 0.0),
        )


# What each ESP target needs from the environment: (variable, what it holds).
ESP_CREDENTIALS = {
    "outbox": (),
    "klaviyo": (("KLAVIYO_API_KEY", "the private API key"),),
    "mailchimp": (
        ("MAILCHIMP_API_KEY", "the API key"),
        ("MAILCHIMP_LIST_ID", "the audience's list id"),
    ),
    "sendgrid": (("SENDGRID_API_KEY", "the API key"),),
}


def esp_credentials(target: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The target's credentials, read when a sync starts: never kept in the settings or in a
    resource's config, which the Dagster UI shows."""
    env = os.environ if environ is None else environ
    if target not in ESP_CREDENTIALS:
        raise SettingsError(
            f"LIFECYCLE_ESP_TARGET={target!r} is not a publishing target; "
            f"use one of {', '.join(ESP_CREDENTIALS)}"
        )
    values = {}
    for name, what in ESP_CREDENTIALS[target]:
        value = (env.get(name) or "").strip()
        if not value:
            raise SettingsError(
                f"LIFECYCLE_ESP_TARGET={target} needs the environment variable {name} "
                f"({what}); it is empty"
            )
        if any(c.isspace() or not c.isprintable() for c in value):
            # requests would refuse the header and quote it, key and all, in its error.
            raise SettingsError(
                f"the environment variable {name} ({what}) holds a space, a line break or a "
                "control character; set it to the credential alone"
            )
        values[name] = value
    return values


# DuckDB's own default is 80% of the machine's memory per process, which leaves the
# pipeline's Python side (Great Expectations' frames, the ESP clients) nothing on a busy box.
DEFAULT_DUCKDB_MEMORY_LIMIT = "25%"
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(%|[KMGT]i?B)$", re.IGNORECASE)


def _memory_limit(env: Mapping[str, str]) -> str:
    raw = (env.get("LIFECYCLE_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT).strip()
    if not _MEMORY_LIMIT.match(raw) or (raw.endswith("%") and not 0 < float(raw[:-1]) <= 100):
        raise SettingsError(
            f"LIFECYCLE_DUCKDB_MEMORY_LIMIT={raw!r} is not a memory size; use a size such as "
            "'8GB' or '512MB', or a share of the machine's memory such as '25%'"
        )
    return raw


def _optional_dir(env: Mapping[str, str], name: str, default: Path) -> Path | None:
    """A folder that something optional is written to: `off` (none, false, no) for none."""
    raw = (env.get(name) or "").strip()
    if raw.lower() in ("off", "none", "false", "no"):
        return None
    return Path(raw) if raw else default


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    return int(_number(env, name, default, minimum=1, kind=int))


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0.001,
    kind: type = float,
) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name}={raw!r} is not {what}") from exc
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "false").strip().lower()
    if raw not in ("1", "true", "yes", "0", "false", "no"):
        raise SettingsError(f"{name}={raw!r} is not a yes/no value; use true or false")
    return raw in ("1", "true", "yes")


# Environment variable -> (threshold field, type, what a valid value looks like).
_QUALITY_VARIABLES = {
    "LIFECYCLE_QUARANTINE_TOLERANCE": ("quarantine_tolerance", float, "a share such as 0.01"),
    "LIFECYCLE_QUARANTINE_MIN_ROWS": ("quarantine_min_rows", int, "a whole number of rows"),
    "LIFECYCLE_QUARANTINE_CONFIDENCE": ("quarantine_confidence", float, "a share such as 0.99"),
    "LIFECYCLE_RELAND_MAX_SHRINK": ("reland_max_shrink", float, "a share such as 0.05"),
    "LIFECYCLE_CLOCK_SKEW_MINUTES": ("clock_skew_minutes", int, "a whole number of minutes"),
    "LIFECYCLE_EARLIEST_DATE": ("earliest_timestamp", dt.date.fromisoformat, "YYYY-MM-DD"),
    "LIFECYCLE_VOLUME_WINDOW_DAYS": ("volume_window_days", int, "a whole number of days"),
    "LIFECYCLE_VOLUME_MAX_RATIO": ("volume_max_ratio", float, "a number such as 3"),
    "LIFECYCLE_VOLUME_MIN_RATIO": ("volume_min_ratio", float, "a number such as 0.1"),
    "LIFECYCLE_VOLUME_MIN_ROWS": ("volume_min_rows", int, "a whole number of rows"),
    "LIFECYCLE_FRESHNESS_HOURS": ("freshness_hours", float, "a number of hours"),
    "LIFECYCLE_VALIDATION_CHUNK_ROWS": ("validation_chunk_rows", int, "a whole number of rows"),
}


# The same for the churn model's settings.
_CHURN_MODEL_VARIABLES = {
    "LIFECYCLE_CLV_MIN_CUSTOMERS": ("min_customers", int, "a whole number of customers"),
    "LIFECYCLE_CLV_MIN_HISTORY_DAYS": ("min_history_days", int, "a whole number of days"),
    "LIFECYCLE_CLV_MIN_FREQUENT_CUSTOMERS": (
        "min_frequent_customers",
        int,
        "a whole number of customers",
    ),
    "LIFECYCLE_CLV_BACKTEST_DAYS": ("backtest_holdout_days", int, "a whole number of days"),
    "LIFECYCLE_CLV_BACKTEST_MAX_ERROR": ("backtest_max_error", float, "a share such as 0.25"),
}


def _variables(
    env: Mapping[str, str], variables: Mapping[str, tuple[str, object, str]]
) -> dict[str, object]:
    """The resource fields the environment sets (field -> value), checked and converted."""
    values: dict[str, object] = {}
    for name, (field, convert, expected) in variables.items():
        raw = env.get(name)
        if not raw:
            continue
        try:
            value = convert(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r} is not valid; expected {expected}") from exc
        if isinstance(value, int | float) and value < 0:
            raise SettingsError(f"{name}={raw!r} must not be negative")
        values[field] = value.isoformat() if isinstance(value, dt.date) else value
    return values


def _quality_thresholds(env: Mapping[str, str]) -> QualityThresholds:
    values = _variables(env, _QUALITY_VARIABLES)
    currencies = env.get("LIFECYCLE_SHOP_CURRENCIES")
    if currencies:
        codes = [c.strip().upper() for c in currencies.split(",") if c.strip()]
        if not codes or not all(len(c) == 3 and c.isalpha() for c in codes):
            raise SettingsError(
                f"LIFECYCLE_SHOP_CURRENCIES={currencies!r} is not a list of ISO 4217 codes; "
                "use e.g. 'USD' or 'USD,EUR'"
            )
        values["currencies"] = codes
    return QualityThresholds(**values)
