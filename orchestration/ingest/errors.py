"""Errors for landing files that cannot be read, naming the file, the line and the fix."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import zstandard


class LandingFileError(ValueError):
    """A landing file cannot be loaded; nothing of its partition was written."""

    def __init__(self, file: str, line: int | None, problem: str, partition: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        self.partition = partition
        where = f"{file}, line {line}" if line else file
        super().__init__(
            f"landing file {where}: {problem}. Nothing was loaded for partition {partition} "
            "and earlier data is unchanged; fix or replace the file, then re-run the partition."
        )


class WarehouseResourceError(RuntimeError):
    """DuckDB ran out of a resource (memory) while loading: a limit to raise, not a bad file."""

    def __init__(self, what: str, partition: str, detail: str) -> None:
        super().__init__(
            f"DuckDB ran out of memory while loading {what} for partition {partition} "
            f"({detail}). The files were not judged and nothing was written; give DuckDB more "
            "memory (LIFECYCLE_DUCKDB_MEMORY_LIMIT) or fewer threads (LIFECYCLE_DUCKDB_THREADS), "
            "or load fewer days in one run, then re-run the partition."
        )


def _open_text(path: Path) -> io.BufferedReader:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.suffix == ".zst":
        return io.BufferedReader(zstandard.open(path, "rb"))
    return path.open("rb")


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"


def find_json_problem(path: Path) -> tuple[int, str] | None:
    """The first line of a JSON-lines file that is not UTF-8 or not a JSON object."""
    with _open_text(path) as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, _not_utf8(raw, exc)
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                return number, f"malformed JSON ({exc.msg} at column {exc.colno})"
            if not isinstance(value, dict):
                return number, f"each line must be a JSON object, found {type(value).__name__}"
    return None


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file; reads the first line only."""
    with _open_text(path) as fh:
        first = fh.readline().decode("utf-8", errors="replace")
    return next(csv.reader([first]), [])


def find_missing_csv_columns(path: Path, required: tuple[str, ...]) -> tuple[int, str] | None:
    """A required column missing from the header; reads the first line only."""
    header = csv_header(path)
    missing = [c for c in required if c not in header]
    if header and missing:
        return 1, f"missing column(s) {', '.join(missing)} in the header"
    return None


def find_csv_problem(path: Path, required: tuple[str, ...]) -> tuple[int, str] | None:
    """A missing header column, or the first line that is not UTF-8 or has a wrong field count."""
    problem = find_missing_csv_columns(path, required)
    if problem:
        return problem
    with _open_text(path) as fh:
        width = None
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, _not_utf8(raw, exc)
            row = next(csv.reader([text]), [])
            if width is None:
                width = len(row)
            elif row and len(row) != width:
                return number, f"{len(row)} fields where the header has {width}"
    return None
