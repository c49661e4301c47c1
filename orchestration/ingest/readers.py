"""How a batch of landing files is checked and read, and how a read error is explained.

Before DuckDB reads anything, each file is checked for what its readers would get wrong
without a word: a name DuckDB would take for a glob pattern, a truncated or corrupt gzip or
zstd stream (a truncated zstd file reads as no rows), a CSV header without a required column.
CSV files are then read with the header each file declares, never sniffed: sniffing a batch
of many days can take a row with an extra field for the header and read the whole file as
nothing. A row that does not fit its header is an error naming the file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from pathlib import Path

from orchestration.ingest.errors import (
    LandingFileError,
    csv_header,
    find_compression_problem,
    find_csv_problem,
    find_json_problem,
    missing_columns_problem,
    pattern_in_name,
)
from orchestration.ingest.sources import SourceSpec
from orchestration.masking import mask_addresses


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def days_label(files: dict[Path, dt.date]) -> str:
    """The partitions of a batch of files: one day, or the first and last."""
    days = sorted(set(files.values()))
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"


def check_files(spec: SourceSpec, files: dict[Path, dt.date], root: Path) -> dict[Path, list[str]]:
    """Refuse a file that would be read wrong without an error (see the module); return the
    header of each CSV file."""
    headers = {}
    for path, day in files.items():
        problem = pattern_in_name(path) or find_compression_problem(path)
        if problem:
            raise LandingFileError(relative(path, root), None, problem, day.isoformat())
        if spec.file_format != "csv":
            continue
        headers[path] = csv_header(path)  # read once: checked here, used by the reader
        missing = missing_columns_problem(headers[path], spec.required_columns)
        if missing:
            raise LandingFileError(relative(path, root), missing[0], missing[1], day.isoformat())
    return headers


def reader_sql(spec: SourceSpec, headers: dict[Path, list[str]], files: list[Path]) -> str:
    """A relation over the files with the source's read columns and `_file`."""
    if spec.file_format == "json":
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in spec.columns.items()) + "}"
        return (
            f"read_json({sql_list([str(p.resolve()) for p in files])}, "
            f"format = 'newline_delimited', columns = {columns}, "
            "filename = '_file', maximum_object_size = 16777216)"
        )
    # One read per distinct header, each with its own column names and no sniffing.
    by_header: dict[tuple[str, ...], list[Path]] = defaultdict(list)
    for path in files:
        by_header[tuple(headers[path])].append(path)
    reads = []
    for header, paths in by_header.items():
        columns = "{" + ", ".join(f"{quote(c)}: 'VARCHAR'" for c in header) + "}"
        reads.append(
            f"select * from read_csv({sql_list([str(p.resolve()) for p in paths])}, "
            f"header = true, auto_detect = false, columns = {columns}, delim = ',', "
            "quote = '\"', escape = '\"', strict_mode = true, filename = '_file')"
        )
    return "(" + " union all by name ".join(reads) + ")"


def explain_failure(
    spec: SourceSpec, files: dict[Path, dt.date], root: Path, exc: Exception
) -> LandingFileError:
    """Find the file and line behind a reader error; fall back to DuckDB's first line, with
    what it quotes of the record left out and addresses masked (later lines quote the row)."""
    for path, day in files.items():
        if spec.file_format == "json":
            problem = find_json_problem(path)
        else:
            problem = find_csv_problem(path, spec.required_columns)
        if problem:
            return LandingFileError(relative(path, root), problem[0], problem[1], day.isoformat())
    culprit = next((p for p in files if str(p.resolve()) in str(exc)), None)
    name = relative(culprit, root) if culprit else f"{spec.name}/day=*"
    reason = mask_addresses(re.sub(r'"[^"]*"', '"..."', str(exc).split("\n")[0]))
    return LandingFileError(name, None, f"DuckDB could not read it: {reason}", days_label(files))
