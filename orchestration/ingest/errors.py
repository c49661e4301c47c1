"""Errors for landing files that cannot be read, naming the file, the line and the fix."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path

import zstandard

CHUNK_BYTES = 1 << 20
GLOB_CHARACTERS = frozenset("*?[]{}")


class LandingFileError(ValueError):
    """A landing file cannot be loaded; nothing of its partition was written."""

    def __init__(self, file: str, line: int | None, problem: str, partition: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        self.partition = partition
        self.opt_outs_recorded: int | None = None
        self.opt_outs_note = ""
        super().__init__(self._message())

    def record_opt_outs(self, recorded: int, table: str) -> None:
        """Say in the message how many opt-outs of the refused files were recorded anyway."""
        self.opt_outs_recorded = recorded
        self.opt_outs_note = (
            f"; the opt-outs in the refused files were read anyway ({recorded} new, recorded "
            f"in {table}) and suppress from the next run on"
        )
        self.args = (self._message(),)

    def opt_outs_unread(self, reason: str) -> None:
        """Say in the message that the refused files' opt-outs could not be read either."""
        self.opt_outs_note = (
            f"; their opt-outs could not be read either ({reason}) and wait for the fix"
        )
        self.args = (self._message(),)

    def _message(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        saved = self.opt_outs_note
        return (
            f"landing file {where}: {self.problem}. Nothing was loaded for partition "
            f"{self.partition} and earlier data is unchanged{saved}; fix or replace the file, "
            "then re-run the partition."
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


def find_compression_problem(path: Path) -> str | None:
    """A gzip or zstd file that is corrupt or ends inside its compressed stream.

    DuckDB reads a truncated zstd file as no rows at all, without an error (and a truncated
    gzip file as the rows before the cut), so each compressed file is decompressed to its end
    once, and the output thrown away, before it is read.
    """
    suffix = path.suffix.lower()
    codec = {".gz": "gzip", ".zst": "zstd"}.get(suffix)
    if codec is None:
        return None
    try:
        complete = _gzip_complete(path) if codec == "gzip" else _zstd_complete(path)
    except (OSError, EOFError, zlib.error, zstandard.ZstdError) as exc:
        return f"the {codec} data is corrupt ({exc}); export or upload the file again"
    if not complete:
        return (
            f"the {codec} stream is truncated: the file ends inside its compressed data "
            "(an interrupted upload?); upload the complete file again"
        )
    return None


def _gzip_complete(path: Path) -> bool:
    with gzip.open(path, "rb") as fh:
        try:
            while fh.read(CHUNK_BYTES):
                pass
        except EOFError:
            return False
    return True


def _zstd_complete(path: Path) -> bool:
    """True when the file is whole zstd frames (one or more, back to back)."""
    decompressor = zstandard.ZstdDecompressor()
    frame, complete = decompressor.decompressobj(), False
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            while chunk:
                frame.decompress(chunk)
                complete = frame.eof
                chunk = frame.unused_data if frame.eof else b""
                if frame.eof:
                    frame = decompressor.decompressobj()
    return complete


def pattern_in_name(path: Path) -> str | None:
    """A file name DuckDB would read as a glob pattern (and so read other files)."""
    found = sorted(set(path.name) & GLOB_CHARACTERS)
    if not found:
        return None
    return (
        f"the file name holds {' '.join(found)}, which the reader would take for a pattern "
        "matching other files; rename the file without them"
    )


def open_landing_file(path: Path) -> io.BufferedReader:
    """The file's bytes, decompressed by its suffix (.gz, .zst)."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.suffix == ".zst":
        return io.BufferedReader(zstandard.open(path, "rb"))
    return path.open("rb")


def _not_utf8(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"


def find_json_problem(path: Path) -> tuple[int, str] | None:
    """The first line of a JSON-lines file that is not UTF-8 or not a JSON object."""
    with open_landing_file(path) as fh:
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
    with open_landing_file(path) as fh:
        first = fh.readline().decode("utf-8-sig", errors="replace")  # a BOM is not a name
    return next(csv.reader([first]), [])


def find_missing_csv_columns(path: Path, required: tuple[str, ...]) -> tuple[int, str] | None:
    """A required column missing from the header; reads the first line only."""
    return missing_columns_problem(csv_header(path), required)


def missing_columns_problem(header: list[str], required: tuple[str, ...]) -> tuple[int, str] | None:
    """A required column missing from a CSV header (line 1), with a hint for a wrong separator."""
    missing = [c for c in required if c not in header]
    if header and missing:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = "; the header is one field: the file looks separated by ';', tab or '|', "
            hint += "but contact exports must be comma-separated"
        return 1, f"missing column(s) {', '.join(missing)} in the header{hint}"
    return None


def find_csv_problem(path: Path, required: tuple[str, ...]) -> tuple[int, str] | None:
    """A missing header column, or the first line that is not UTF-8 or has a wrong field count."""
    problem = find_missing_csv_columns(path, required)
    if problem:
        return problem
    with open_landing_file(path) as fh:
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
