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


def _open_text(path: Path) -> io.BufferedReader:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.suffix == ".zst":
        return io.BufferedReader(zstandard.open(path, "rb"))
    return path.open("rb")


def find_json_problem(path: Path) -> tuple[int, str] | None:
    """The first line of a JSON-lines file that is not UTF-8 or not a JSON object."""
    with _open_text(path) as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                return number, f"malformed JSON ({exc.msg} at column {exc.colno})"
            if not isinstance(value, dict):
                return number, f"each line must be a JSON object, found {type(value).__name__}"
    return None


def find_csv_problem(path: Path, required: tuple[str, ...]) -> tuple[int, str] | None:
    """A missing header column, or the first line that is not UTF-8 or has a wrong field count."""
    with _open_text(path) as fh:
        lines = []
        for number, raw in enumerate(fh, start=1):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                return number, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    if not lines:
        return None
    reader = csv.reader(lines)
    header = next(reader)
    missing = [c for c in required if c not in header]
    if missing:
        return 1, f"missing column(s) {', '.join(missing)} in the header"
    for number, row in enumerate(reader, start=2):
        if row and len(row) != len(header):
            return number, f"{len(row)} fields where the header has {len(header)}"
    return None
