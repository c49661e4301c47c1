"""`lifecycle report` and the report asset: one HTML page per run date, in the reports folder.

Beside each page, `report_<date>.json` keeps its segment and stage counts, so the next page
(the latest earlier date's sidecar) can say what changed. Both files are written aside and
renamed into place: a reader never opens half a page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb

from orchestration.serve.report_data import ReportData, read_report_data
from orchestration.serve.report_html import render_report


def _previous(folder: Path, run_date: dt.date) -> dict | None:
    earlier = sorted(
        p
        for p in folder.glob("report_*.json")
        if p.stem.removeprefix("report_") < run_date.isoformat()
    )
    return json.loads(earlier[-1].read_text()) if earlier else None


def _write(path: Path, text: str) -> None:
    aside = path.with_name(f".{path.name}.tmp")
    aside.write_text(text, encoding="utf-8")
    aside.replace(path)


def write_report(
    con: duckdb.DuckDBPyConnection, run_date: dt.date, folder: Path
) -> tuple[Path, ReportData]:
    """Write report_<run_date>.html (and its sidecar) from the warehouse; (page, its data)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = read_report_data(con, run_date)
    page = folder / f"report_{run_date.isoformat()}.html"
    _write(page, render_report(data, _previous(folder, run_date)))
    summary = {k: v for k, v in dataclasses.asdict(data).items() if k in ("segments", "stages")}
    _write(page.with_suffix(".json"), json.dumps({"run_date": run_date.isoformat(), **summary}))
    return page, data
