"""Loads one day of one source from the landing folder into its raw tables, idempotently.

A load reads every file of the day with DuckDB's native readers, moves rows that break a row
rule to quarantine, records the consent signals of every row read (good or bad: see
`consent`), keeps one row per natural key (the latest version within the day), and
replaces the day's rows in each raw table in one transaction: loading a day twice gives the
same rows, and a file that cannot be read changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.ingest.consent import (
    consent_table,
    ensure_consent_table,
    record_consent_signals,
)
from orchestration.ingest.errors import LandingFileError, WarehouseResourceError
from orchestration.ingest.quarantine import (
    ensure_quarantine_tables,
    flag_batch,
    quarantine_batch,
    record_empty_days,
)
from orchestration.ingest.raw_zone import write_days
from orchestration.ingest.readers import (
    check_files,
    days_label,
    explain_failure,
    reader_sql,
    relative,
)
from orchestration.ingest.salvage import salvage_opt_outs
from orchestration.ingest.sources import SourceSpec
from orchestration.quality_thresholds import QualityThresholds
from orchestration.warehouse_schema import RAW_SCHEMA


@dataclass(frozen=True)
class LoadResult:
    """What one load of a range of days did, for Dagster metadata."""

    source: str
    days: list[dt.date]
    days_with_files: list[dt.date] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    duplicates_dropped: int = 0
    rows_quarantined: int = 0
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    empty_files: int = 0
    consent_signals: int = 0  # new signals recorded, from good and quarantined rows alike
    seconds: float = 0.0
    zone_seconds: float = 0.0  # of `seconds`, writing the days to the raw zone


def _typed_empty_batch(spec: SourceSpec) -> str:
    """A batch with the read schema and no rows, so raw tables have one shape from day one."""
    columns = ", ".join(
        f'cast(null as {t if spec.file_format == "json" else "VARCHAR"}) as "{c}"'
        for c, t in spec.columns.items()
    )
    return (
        f"select {columns}, cast(null as varchar) as _source_file, "
        "cast(null as date) as _partition_date, cast(null as varchar) as _batch_id, "
        "cast(null as timestamptz) as _loaded_at where false"
    )


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Create the source's raw tables if they do not exist yet."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(f"create or replace temp table batch as {_typed_empty_batch(spec)}")
    try:
        for table in spec.tables:
            con.execute(
                f"create table if not exists {RAW_SCHEMA}.{table.name} as {table.select_sql}"
            )
    finally:
        con.execute("drop table if exists batch")


def day_batches(
    files_by_day: dict[dt.date, list[Path]], max_bytes: int | None
) -> list[list[dt.date]]:
    """The days in order, cut into runs whose files hold at most `max_bytes` together (a day
    is never split; a day larger than that is a batch of its own). None: one batch."""
    batches: list[list[dt.date]] = []
    size = 0
    for day in sorted(files_by_day):
        day_size = sum(p.stat().st_size for p in files_by_day[day])
        if not batches or (max_bytes is not None and size + day_size > max_bytes and size):
            batches.append([])
            size = 0
        batches[-1].append(day)
        size += day_size
    return batches


def load_days(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    files_by_day: dict[dt.date, list[Path]],
    landing_root: Path,
    batch_id: str,
    thresholds: QualityThresholds,
    max_batch_bytes: int | None = None,
    progress: Callable[[str], None] | None = None,
    lake: Path | None = None,
) -> LoadResult:
    """Replace the rows of every day that has files with what those files hold.

    Days without files (or with empty files only) keep their rows: nothing arrived for them
    (a day of empty files is recorded as a load of no rows, for the gate to judge).
    Every file is checked before anything is written. The days are then read and written in
    batches of whole days of at most `max_batch_bytes` of landing files (None: all at once),
    each in one transaction, so a backfill of two years costs one scan and its memory and
    temporary disk are those of one batch. A file a batch cannot read leaves that batch and
    the later ones as they were; the earlier batches' days are loaded, complete.
    With a `lake`, each batch's days are then written to the raw zone (see `raw_zone`), the
    consent signals of refused files too.
    """
    started = time.perf_counter()
    ensure_raw_tables(con, spec)
    ensure_quarantine_tables(con, spec.name)
    ensure_consent_table(con, spec.name)
    nonempty = {p: d for d, paths in files_by_day.items() for p in paths if p.stat().st_size > 0}
    results: list[LoadResult] = []
    try:
        headers = check_files(spec, nonempty, landing_root)
        batches = day_batches(files_by_day, max_batch_bytes)
        for number, days in enumerate(batches, 1):
            result = _load_batch(
                con, spec, {d: files_by_day[d] for d in days}, headers, landing_root, batch_id,
                thresholds, lake,
            )  # fmt: skip
            results.append(result)
            if progress and len(batches) > 1:
                progress(
                    f"{spec.name}: batch {number} of {len(batches)} ({days[0]}..{days[-1]}): "
                    f"{result.rows_read:,} rows in {result.seconds:.1f} s"
                )
    except LandingFileError as refusal:
        # The opt-outs of every file not loaded are recorded before the refusal is raised.
        loaded = {d for r in results for d in r.days}
        refused = {p: d for p, d in nonempty.items() if d not in loaded}
        table = consent_table(spec.name)
        if table:
            try:
                recorded = salvage_opt_outs(con, spec, refused, landing_root, batch_id)
            except Exception as failure:  # the refusal stays the error; the note says so
                # Only the kind: a DuckDB message may quote the record it choked on.
                refusal.opt_outs_unread(type(failure).__name__)
            else:
                refusal.record_opt_outs(recorded, table)
                if lake is not None:
                    write_days(con, lake, [table.split(".")[-1]], list(refused.values()))
        raise
    return dataclasses.replace(
        _merged(spec.name, results), seconds=round(time.perf_counter() - started, 3)
    )


def _merged(source: str, results: list[LoadResult]) -> LoadResult:
    def added(dicts: list[dict[str, int]]) -> dict[str, int]:
        total: dict[str, int] = {}
        for d in dicts:
            for k, v in d.items():
                total[k] = total.get(k, 0) + v
        return total

    return LoadResult(
        source=source,
        days=[d for r in results for d in r.days],
        days_with_files=[d for r in results for d in r.days_with_files],
        files=[f for r in results for f in r.files],
        rows_read=sum(r.rows_read for r in results),
        duplicates_dropped=sum(r.duplicates_dropped for r in results),
        rows_quarantined=sum(r.rows_quarantined for r in results),
        quarantined_by_rule=dict(
            sorted(added([r.quarantined_by_rule for r in results]).items(), key=lambda kv: -kv[1])
        ),
        rows_written=added([r.rows_written for r in results]),
        empty_files=sum(r.empty_files for r in results),
        consent_signals=sum(r.consent_signals for r in results),
        zone_seconds=round(sum(r.zone_seconds for r in results), 3),
    )


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    files_by_day: dict[dt.date, list[Path]],
    headers: dict[Path, list[str]],
    landing_root: Path,
    batch_id: str,
    thresholds: QualityThresholds,
    lake: Path | None,
) -> LoadResult:
    """One batch of days, read in one pass and written in one transaction (then to the raw
    zone, with a `lake`)."""
    started = time.perf_counter()
    days = sorted(files_by_day)
    every_file = [p for d in days for p in files_by_day[d]]
    files = {p: d for d in days for p in files_by_day[d] if p.stat().st_size > 0}
    arrived = LoadResult(
        source=spec.name,
        days=days,
        files=[relative(p, landing_root) for p in every_file],
        empty_files=len(every_file) - len(files),
    )
    # Days whose files are all empty keep their rows, but the gate hears of them (volume).
    empty_days = [d for d in days if files_by_day[d] and d not in set(files.values())]
    if not files:
        record_empty_days(con, spec.name, empty_days, batch_id)
        return arrived
    # CSV columns the source does not define are not loaded; the gate warns of them.
    unexpected = {p: [c for c in h if c not in spec.columns] for p, h in headers.items()}
    unexpected = {p: extra for p, extra in unexpected.items() if extra}
    con.execute(
        "create or replace temp table batch_files "
        "(path varchar, day date, unexpected_columns varchar)"
    )
    con.executemany(
        "insert into batch_files values (?, ?, ?)",
        [
            (
                str(p.resolve()),
                d,
                f"{relative(p, landing_root)}: {', '.join(unexpected[p])}"
                if p in unexpected
                else None,
            )
            for p, d in files.items()
        ],
    )
    root_prefix = str(landing_root.resolve()).rstrip("/") + "/"
    select_columns = ", ".join(f'r."{c}"' for c in spec.columns)
    read_sql = f"""
        select
            {select_columns},
            f.day as _partition_date,
            replace(r._file, '{root_prefix.replace("'", "''")}', '') as _source_file,
            row_number() over () as _row,
        from {reader_sql(spec, headers, list(files))} r
        join batch_files f on f.path = r._file
    """
    try:
        flag_batch(con, spec, thresholds, read_sql)
    except duckdb.OutOfMemoryException as exc:
        # A limit of the machine, not of the files: reading them one by one to find a culprit
        # would only blame an innocent file.
        what = f"{len(files)} {spec.name} file(s)"
        raise WarehouseResourceError(what, days_label(files), str(exc).split("\n")[0]) from exc
    except duckdb.Error as exc:
        # Not chained: DuckDB's message quotes the record (an address, a name) it choked on.
        raise explain_failure(spec, files, landing_root, exc) from None

    # The copy of each key and day that loads: the latest version, then the later file, then
    # the later line. Ranked on the few columns that decide it (a narrow sort), then taken.
    con.execute(
        f"""
        create or replace temp table batch as
        select * exclude (_row, _key, _version, _rule),
            '{batch_id}' as _batch_id,
            current_timestamp as _loaded_at,
        from batch_checked
        where _rule is null and _row in (
            select _row from batch_checked
            where _rule is null
            qualify row_number() over (
                partition by _partition_date, _key
                order by _version desc nulls last, _source_file desc, _row desc
            ) = 1
        )
        """
    )
    rows_read, quarantined = con.execute(
        "select count(*), count(_rule) from batch_checked"
    ).fetchall()[0]
    kept = con.execute("select count(*) from batch").fetchall()[0][0]
    by_rule = dict(
        con.execute(
            "select _rule, count(*) from batch_checked where _rule is not null "
            "group by 1 order by 2 desc, 1"
        ).fetchall()
    )
    loaded_days = sorted(set(files.values()))
    written: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        for table in spec.tables:
            target = f"{RAW_SCHEMA}.{table.name}"
            con.execute(
                f"delete from {target} where _partition_date in (select day from batch_files)"
            )
            con.execute(f"insert into {target} by name {table.select_sql}")
            written[table.name] = con.execute(
                f"select count(*) from {target} "
                "where _partition_date in (select day from batch_files)"
            ).fetchall()[0][0]
        quarantine_batch(con, spec, thresholds, batch_id)
        signals = record_consent_signals(con, spec.name, batch_id)
        record_empty_days(con, spec.name, empty_days, batch_id)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop view if exists batch_checked")
        for temp in ("batch_ruled", "batch_conflicts", "batch", "batch_files"):
            con.execute(f"drop table if exists {temp}")
    zone_seconds = 0.0
    if lake is not None:
        consent = consent_table(spec.name)
        tables = [t.name for t in spec.tables] + ([consent.split(".")[-1]] if consent else [])
        zone_seconds = write_days(con, lake, tables, loaded_days)
    return dataclasses.replace(
        arrived,
        days_with_files=loaded_days,
        rows_read=rows_read,
        duplicates_dropped=rows_read - quarantined - kept,
        rows_quarantined=quarantined,
        quarantined_by_rule=by_rule,
        rows_written=written,
        consent_signals=signals,
        seconds=round(time.perf_counter() - started, 3),
        zone_seconds=zone_seconds,
    )
