"""The marketer's report: its numbers against an independent computation from the warehouse
(pandas over the same tables), its change since the previous page, and a page that needs
nothing from outside."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.cli import main
from orchestration.serve.report import write_report
from orchestration.serve.report_data import ReportData, read_report_data
from orchestration.serve.report_html import render_report
from tests.conftest import BASE_END, BaseRun


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def test_the_daily_run_writes_the_page_with_its_headline(base_run: BaseRun) -> None:
    page = base_run.data / "reports" / f"report_{BASE_END}.html"
    assert page.exists() and page.with_suffix(".json").exists()
    metadata = base_run.metadata["serve/report"]
    assert metadata["path"].value == str(page)
    stages = _frame(base_run.warehouse, "select lifecycle_stage from marts.customer_lifecycle")
    for stage, n in stages.value_counts("lifecycle_stage").items():
        assert f"| {stage} | {n:,} |" in metadata["stages"].value


def test_cohorts_and_transitions_match_an_independent_computation(
    base_run: BaseRun, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(base_run.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # One run builds every spell from its run date: three contacts are given an earlier
        # spell as `new` that ended on the run date, so they changed stage then.
        picked = con.execute(
            "select email, lifecycle_stage from marts.customer_lifecycle_history "
            "where is_current order by email limit 3"
        ).fetchall()
        emails = [e for e, _ in picked]
        con.execute(
            "update marts.customer_lifecycle_history set valid_from = ? where email in (?, ?, ?)",
            [BASE_END, *emails],
        )
        con.execute(
            "insert into marts.customer_lifecycle_history select email, 'new', 'test', "
            "?::date - 30, ?::date, false from marts.customer_lifecycle_history "
            "where email in (?, ?, ?)",
            [BASE_END, BASE_END, *emails],
        )
        data = read_report_data(con, BASE_END)
    by_hand: dict[tuple[str, str], int] = {}
    for _, stage in picked:
        by_hand[("new", stage)] = by_hand.get(("new", stage), 0) + 1
    assert {(a, b): n for a, b, n in data.transitions} == by_hand
    orders = _frame(warehouse, "select email, ordered_date from intermediate.int_orders_completed")
    orders["month"] = pd.to_datetime(orders["ordered_date"]).dt.to_period("M")
    orders["cohort"] = orders.groupby("email")["month"].transform("min")
    orders["age"] = (orders["month"] - orders["cohort"]).apply(lambda d: d.n)
    current = pd.Period(BASE_END, "M")
    assert data.cohorts, "no cohort"
    for cohort, customers, shares in data.cohorts:
        members = orders[orders["cohort"] == pd.Period(cohort, "M")]
        assert customers == members["email"].nunique()
        ended = (current - pd.Period(cohort, "M")).n - 1  # months after it that have ended
        assert len(shares) == max(min(ended, 11), 0)
        for age, share in enumerate(shares, start=1):
            buyers = members.loc[members["age"] == age, "email"].nunique()
            assert share == pytest.approx(buyers / customers)
    spells = _frame(warehouse, "select * from marts.customer_lifecycle_history")
    began = spells[pd.to_datetime(spells["valid_from"]).dt.date == BASE_END]
    ended = spells[pd.to_datetime(spells["valid_to"]).dt.date == BASE_END]
    moves = began.merge(ended, on="email", suffixes=("_to", "_from"))
    expected = moves.groupby(["lifecycle_stage_from", "lifecycle_stage_to"]).size().to_dict()
    assert {(a, b): n for a, b, n in data.transitions} == expected
    assert data.customers == len(_frame(warehouse, "select 1 from marts.customer_rfm"))


def test_the_retention_chart_leaves_out_the_month_still_under_way(base_run: BaseRun) -> None:
    """The run date's month is measured only to the run date: plotted, it would read as a
    drop in churn. The chart shows the months that ended by then, every one of them."""
    months = _frame(base_run.warehouse, "select month_start from marts.retention_metrics_monthly")
    starts = pd.to_datetime(months["month_start"])
    ended = starts[(starts + pd.offsets.MonthEnd(0)).dt.date <= BASE_END].dt.date
    with duckdb.connect(str(base_run.warehouse), read_only=True) as con:
        data = read_report_data(con, BASE_END)
    plotted = [month for month, _, _ in data.retention]
    assert plotted == sorted(ended) and len(plotted) == len(starts) - 1
    assert plotted[-1] < BASE_END.replace(day=1)


def test_the_page_says_what_changed_and_needs_nothing_from_outside(
    base_run: BaseRun, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    with duckdb.connect(str(base_run.warehouse), read_only=True) as con:
        first, data = write_report(con, BASE_END - dt.timedelta(days=1), folder)
        # The earlier page had 7 fewer contacts in the largest stage than there are now.
        sidecar = json.loads(first.with_suffix(".json").read_text())
        (stage, n), *_ = data.stages
        sidecar["stages"] = [[s, c - 7 if s == stage else c] for s, c in sidecar["stages"]]
        first.with_suffix(".json").write_text(json.dumps(sidecar))
        page, _ = write_report(con, BASE_END, folder)
    text = page.read_text()
    assert f"(change since {BASE_END - dt.timedelta(days=1)})" in text
    row = re.search(rf"<td>{stage}</td><td>{n:,}</td><td class=(\w+)>([^<]+)</td>", text)
    assert row is not None and row.groups() == ("up", "+7")
    assert "<script" not in text and not re.search(r"(src|href)=\"?https?:", text)
    assert text.count("<svg") >= 3  # segments, stages, retention
    funnels = _frame(
        base_run.warehouse,
        f"select audience, published from publish.audience_funnel where run_date = '{BASE_END}'",
    )
    for audience in funnels["audience"]:
        assert f"<td>{audience}</td>" in text


def test_the_report_command_writes_the_latest_run_dates_page(
    base_run: BaseRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(base_run.warehouse, warehouse)
    monkeypatch.setenv("LIFECYCLE_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("LIFECYCLE_REPORTS_DIR", str(tmp_path / "pages"))
    assert main(["report"]) == 0
    page = Path(capsys.readouterr().out.strip())
    assert page == tmp_path / "pages" / f"report_{BASE_END}.html" and page.exists()


def test_a_holdout_read_out_shows_its_interval_only_once_it_has_one() -> None:
    """A read-out still inside its window shows its status and no figure; a ready one, its
    lift and interval as signed percentages."""
    waiting = {"audience": "aud_vip", "entry_month": dt.date(2026, 12, 1),
               "readout_status": "window_incomplete", "treatment_members": 540,
               "control_members": 48, "treatment_conversion": None, "control_conversion": None,
               "conversion_lift": None, "conversion_lift_low_95": None,
               "conversion_lift_high_95": None}  # fmt: skip
    ready = {**waiting, "entry_month": dt.date(2026, 10, 1), "readout_status": "ready",
             "conversion_lift": 0.0234, "conversion_lift_low_95": -0.0051,
             "conversion_lift_high_95": 0.0519}  # fmt: skip
    page = render_report(ReportData(run_date=dt.date(2026, 12, 2), holdouts=[waiting, ready]), None)
    section = page[page.index("Holdout read-out") :]
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:3]
    assert "window_incomplete" in rows[0] and " to " not in rows[0]
    assert "+2.3%" in rows[1] and "-0.5% to +5.2%" in rows[1]
