"""Opt-outs read from landing files the loader refuses, so that they wait for no fix.

A file that cannot be loaded (a truncated or corrupt compressed stream, a JSON line cut in
two, a CSV row with an extra field, a header without a required column) is refused whole,
and with it the other files of the days it would have been loaded with: nothing of them
reaches the raw tables until someone fixes the file. The unsubscribes, complaints and hard
bounces in those files must not wait for that. So before the refusal is raised, every
refused file is read again leniently, record by record, as far as it can be read: a record
that does not parse is skipped, a compressed stream is read up to where it breaks. The
opt-outs found are recorded in `raw.<source>_consent` like any other, with the rule
`file_refused` saying where they came from. Opt-ins are never taken from a refused file
(fail safe: suppress more, never less), and no other row of it is kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import zstandard

from orchestration.ingest.consent import consent_table, record_consent_signals
from orchestration.ingest.errors import open_landing_file
from orchestration.ingest.readers import relative
from orchestration.ingest.sources import SourceSpec

# The rule recorded with an opt-out read from a refused file.
FILE_REFUSED = "file_refused"
# Lines worth parsing: a line without any of these words carries no opt-out of its source.
_OPT_OUT_WORDS: dict[str, tuple[str, ...]] = {
    "email_events": ("unsubscribe", "spamreport", "bounce"),
    "contacts": ("unsubscribed",),
}
# What a broken stream raises where it breaks: reading stops there, keeping what came before.
_STREAM_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError, UnicodeError)


def salvage_opt_outs(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    files: dict[Path, dt.date],
    landing_root: Path,
    batch_id: str,
) -> int:
    """Record the opt-outs of the refused `files` (path -> partition day); the number of new
    ones. Runs in a transaction of its own: the raw tables are not touched."""
    if consent_table(spec.name) is None or not files:
        return 0
    columns = list(spec.columns)
    rows = [
        (*record, day, relative(path, landing_root))
        for path, day in sorted(files.items())
        for record in _records(spec, path, columns)
    ]
    if not rows:
        return 0
    text = ", ".join(f'"{c}" varchar' for c in columns)
    con.execute(
        f"create or replace temp table salvaged "
        f"({text}, _partition_date date, _source_file varchar)"
    )
    con.executemany(f"insert into salvaged values ({', '.join('?' * (len(columns) + 2))})", rows)
    typed = ", ".join(f'try_cast("{c}" as {t}) as "{c}"' for c, t in spec.columns.items())
    con.execute("begin transaction")
    try:
        con.execute(
            f"create or replace temp table batch_checked as select {typed}, "
            f"'{FILE_REFUSED}' as _rule, _partition_date, _source_file from salvaged"
        )
        recorded = record_consent_signals(con, spec.name, batch_id)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists batch_checked")
        con.execute("drop table if exists salvaged")
    return recorded


def _records(spec: SourceSpec, path: Path, columns: list[str]) -> Iterator[tuple]:
    """The source's columns (as text) of every record of the file that can be read and may
    carry an opt-out."""
    words = _OPT_OUT_WORDS[spec.name]
    lines = _lines(path)
    if spec.file_format == "json":
        for line in lines:
            if not any(w in line.lower() for w in words):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield tuple(_text(record.get(c)) for c in columns)
        return
    header = next(_csv_rows(lines), None)
    if header is None:
        return
    position = {name.strip().lstrip("\ufeff"): i for i, name in enumerate(header)}
    for row in _csv_rows(lines):
        if len(row) != len(header) or not any(w in ",".join(row).lower() for w in words):
            continue
        yield tuple(row[position[c]] if c in position else None for c in columns)


def _lines(path: Path) -> Iterator[str]:
    """The file's lines as text, up to where its stream breaks (bad bytes replaced)."""
    raw = open_landing_file(path)
    with io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as text:
        while True:
            try:
                line = text.readline()
            except _STREAM_ERRORS:
                return
            if not line:
                return
            yield line


def _csv_rows(lines: Iterator[str]) -> Iterator[list[str]]:
    """Each line read as one CSV record; a line that is not one is skipped."""
    for line in lines:
        try:
            yield next(csv.reader([line]))
        except (csv.Error, StopIteration):
            continue


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
