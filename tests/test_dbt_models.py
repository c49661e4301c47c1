"""dbt models checked with dbt itself: the unit tests (rules with hand-computed expectations in
`_*__unit_tests.yml`, left out of pipeline runs and run once here), and the holdout read-out
built by `dbt build` over inputs made by hand, against numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from scipy import stats

from orchestration.dbt_project import DBT_EXECUTABLE, dbt_project
from orchestration.publish.entries import record_entries
from orchestration.shop_time import shop_today
from tests.audience_tables import AUDIENCE, make_warehouse
from tests.conftest import BaseRun


def _dbt(command: list[str], warehouse: Path, target: Path, variables: dict | None = None):
    done = subprocess.run(
        [
            DBT_EXECUTABLE, *command,
            "--project-dir", str(dbt_project.project_dir),
            "--profiles-dir", str(dbt_project.profiles_dir),
            "--target-path", str(target),
            "--vars", json.dumps({"warehouse_path": str(warehouse), **(variables or {})}),
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:]
    return done


def test_every_dbt_unit_test_passes(base_run: BaseRun, tmp_path: Path) -> None:
    # Unit tests need the models' parents in the warehouse for their column types.
    warehouse = base_run.copy(tmp_path) / "warehouse.duckdb"
    done = _dbt(["test", "--select", "test_type:unit"], warehouse, tmp_path / "target")
    declared = sum(
        len(yaml.safe_load(path.read_text()).get("unit_tests") or [])
        for path in Path(dbt_project.project_dir, "models").rglob("*.yml")
    )
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    passed = [
        r for r in results if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"
    ]
    assert len(passed) == declared > 0, done.stdout[-2000:]


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_holdout_results_compare_the_published_with_the_ghost_control(tmp_path: Path) -> None:
    """Four published and two holdout members enter on 10 January, with one treatment and one
    holdout member the frequency cap held back (both ordered: neither may count). Within 30
    days two of the published order (10 and 30), one orders after the window, one holdout
    member orders on the entry day (before the mail). The figures are checked against an
    independent computation: Wilson and Newcombe by their formulas, Welch with scipy's t."""
    path = tmp_path / "warehouse.duckdb"
    members = [{"email": f"t{i}@example.com", "holdout": False} for i in range(4)] + [
        {"email": f"h{i}@example.com", "holdout": True} for i in range(2)
    ]
    capped = [
        {"email": "tc@example.com", "holdout": False},
        {"email": "hc@example.com", "holdout": True},
    ]
    make_warehouse(path, members + capped, [])
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists publish")
        con.execute(
            "create table publish.capped_members as select * from (values "
            f"('{AUDIENCE}', 'tc@example.com', 'capped', date '2025-01-10'), "
            f"('{AUDIENCE}', 'hc@example.com', 'capped', date '2025-01-10'), "
            f"('{AUDIENCE}', 't0@example.com', 'capped the day before', date '2025-01-09')"
            ") c(audience, email, reason, run_date)"
        )
        assert record_entries(con, [AUDIENCE], dt.date(2025, 1, 10)) == {AUDIENCE: (8, 0)}
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_orders_completed as select * from (values "
            "(1, 't0@example.com', date '2025-01-12', 10.0), "
            "(2, 't1@example.com', date '2025-01-20', 30.0), "
            "(3, 't2@example.com', date '2025-03-01', 99.0), "  # after the 30-day window
            "(4, 'h0@example.com', date '2025-01-10', 50.0), "  # on the entry day: before it
            "(5, 'tc@example.com', date '2025-01-15', 70.0), "  # capped: never mailed
            "(6, 'hc@example.com', date '2025-01-15', 80.0)"  # capped: no ghost of a mail
            ") o(order_id, email, ordered_date, net_revenue_amount)"
        )
    variables = {
        "run_date": "2025-03-31",
        "holdout_window_days": 30,
        "holdout_min_members": 2,
        # The pipeline's DuckDB settings reach dbt's connection (macros/duckdb_settings.sql).
        "duckdb_memory_limit": "512MB",
        "duckdb_threads": 1,
    }
    _dbt(["build", "--select", "holdout_results"], path, tmp_path / "target", variables)
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    # The hooks: DuckDB's settings, then the lake's sources (Spark only: nothing here).
    hook, lake = sorted(
        (r for r in results if "on-run-start" in r["unique_id"]), key=lambda r: r["unique_id"]
    )
    assert hook["status"] == lake["status"] == "success"
    assert lake["compiled_code"].strip() == "select 1"
    assert " ".join(hook["compiled_code"].split()) == "set memory_limit = '512MB'; set threads = 1;"
    with duckdb.connect(str(path), read_only=True) as con:
        [row] = con.execute("select * from marts.holdout_results").df().to_dict("records")
    assert (row["audience"], row["entry_month"].date()) == (AUDIENCE, dt.date(2025, 1, 1))
    assert row["readout_status"] == "ready" and bool(row["window_complete"])
    assert (row["treatment_members"], row["control_members"]) == (4, 2)
    assert (row["itt_treatment_members"], row["itt_holdout_members"]) == (5, 3)
    assert (row["treatment_conversion"], row["control_conversion"]) == (0.5, 0.0)
    assert row["conversion_lift"] == 0.5 and pd.isna(row["conversion_lift_relative"])
    z = stats.norm.ppf(0.975)
    low_t, high_t = _wilson(2, 4, z)
    low_c, high_c = _wilson(0, 2, z)
    assert row["conversion_lift_low_95"] == pytest.approx(
        0.5 - math.hypot(0.5 - low_t, high_c - 0.0), abs=1e-5
    )
    assert row["conversion_lift_high_95"] == pytest.approx(
        0.5 + math.hypot(high_t - 0.5, 0.0 - low_c), abs=1e-5
    )
    # Intent to treat: 3 of 5 converted (the capped one too) against 1 of 3.
    assert row["itt_conversion_lift"] == pytest.approx(3 / 5 - 1 / 3)
    assert row["treatment_revenue_per_member"] == 10.0
    assert row["control_revenue_per_member"] == 0.0
    # Treatment revenue 10, 30, 0, 0: sample variance 200, df = 3 (the control's is 0).
    se = math.sqrt(200 / 4)
    t = stats.t.ppf(0.975, 3)
    assert row["revenue_lift_low_95"] == pytest.approx(10.0 - t * se, rel=1e-3)
    assert row["revenue_lift_high_95"] == pytest.approx(10.0 + t * se, rel=1e-3)
    # Planning: pooled conversion 2/6; the lift 4 + 2 members can detect, and the days of
    # entries (all on one day) a test of a 2-point lift needs at the 2:1 allocation.
    pooled = 2 / 6
    zz = z + stats.norm.ppf(0.8)
    assert row["min_detectable_lift"] == pytest.approx(
        zz * math.sqrt(pooled * (1 - pooled) * (1 / 4 + 1 / 2)), rel=1e-5
    )
    needed = zz**2 * pooled * (1 - pooled) * (6 / 2 + 6 / 4) / 0.02**2
    assert row["entry_days_needed"] == math.ceil(needed / 6)
    assert row["more_entry_days_needed"] == math.ceil(needed / 6) - 1
    assert row["window_days"] == 30


def test_holdout_intervals_for_one_member_groups_at_0_and_100_percent(tmp_path: Path) -> None:
    """One published and one holdout member a month (holdout_min_members 1). January: the
    published one orders (100%), the holdout one does not (0%); February: neither does.
    Worked out by hand with z = 1.959964 (z^2 = 3.841459): the Wilson interval of 1 of 1 is
    [0.206550, 1] and of 0 of 1 [0, 0.793450] (centre 1.920730 / 4.841459, half the same
    for 0 of 1), so Newcombe's interval of the lift is 1 - sqrt(2 * 0.793450^2) = -0.122108
    to 1 in January and -0.793450 to 0.793450 in February: wide, never a false certainty."""
    path = tmp_path / "warehouse.duckdb"
    for day, month in ((dt.date(2025, 1, 10), "jan"), (dt.date(2025, 2, 10), "feb")):
        members = [
            {"email": f"t-{month}@example.com", "holdout": False},
            {"email": f"h-{month}@example.com", "holdout": True},
        ]
        make_warehouse(path, members, [])
        with duckdb.connect(str(path)) as con:
            assert record_entries(con, [AUDIENCE], day)[AUDIENCE][0] == 2
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate")
        con.execute(
            "create table intermediate.int_orders_completed as select * from (values "
            "(1, 't-jan@example.com', date '2025-01-12', 25.0)"
            ") o(order_id, email, ordered_date, net_revenue_amount)"
        )
    variables = {"run_date": "2025-03-31", "holdout_window_days": 30, "holdout_min_members": 1}
    # The unit tests are built with the project's vars (test_every_dbt_unit_test_passes).
    build = ["build", "--select", "holdout_results", "--exclude-resource-type", "unit_test"]
    _dbt(build, path, tmp_path / "target", variables)
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select entry_month, readout_status, treatment_conversion, control_conversion, "
            "conversion_lift, conversion_lift_low_95, conversion_lift_high_95 "
            "from marts.holdout_results order by entry_month"
        ).fetchall()
    january, february = rows
    assert january[1:5] == ("ready", 1.0, 0.0, 1.0)
    assert january[5:] == (pytest.approx(-0.122108, abs=1e-5), pytest.approx(1.0, abs=1e-9))
    assert february[1:5] == ("ready", 0.0, 0.0, 0.0)
    assert february[5:] == (pytest.approx(-0.793450, abs=1e-5), pytest.approx(0.793450, abs=1e-5))


def test_without_a_run_date_dbt_computes_as_of_the_shops_today(tmp_path: Path) -> None:
    """dbt run by hand (no run_date var) takes today in the shop's zone, not the server's:
    a zone whose date differs from UTC's at this hour (UTC+14 from 10:00 UTC, else UTC-11)."""
    now = dt.datetime.now(dt.UTC)
    zone = "Pacific/Kiritimati" if now.hour >= 11 else "Pacific/Pago_Pago"
    before = shop_today(zone)
    assert before != now.date()
    done = _dbt(
        ["--quiet", "show", "--inline", "select {{ run_date() }} as run_date", "--output", "json"],
        tmp_path / "warehouse.duckdb",
        tmp_path / "target",
        {"shop_timezone": zone},
    )
    [row] = json.loads(done.stdout)["show"]
    assert dt.date.fromisoformat(row["run_date"][:10]) in {before, shop_today(zone)}


@pytest.mark.slow
def test_dbt_waits_for_a_warehouse_another_process_holds(tmp_path: Path) -> None:
    """dbt started while another process holds the file (a step, a reader on the warehouse)
    retries (profiles.yml `retries`) and runs once the file is free, instead of failing.
    The file is held longer than dbt takes to parse the project, so dbt meets the lock."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    hold = (
        "import sys, time, duckdb; c = duckdb.connect(sys.argv[1]); "
        "print('held', flush=True); time.sleep(15)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    done = _dbt(
        ["--quiet", "show", "--inline", "select 42 as answer", "--output", "json"],
        warehouse,
        tmp_path / "target",
    )
    assert holder.poll() is not None, "dbt ran while the other process still held the file"
    assert json.loads(done.stdout)["show"] == [{"answer": 42}]


INCREMENTAL_MODELS = ("stg_sendgrid__email_events", "email_engagement", "suppressions")


def _relation_diff(a: Path, b: Path, relation: str) -> int:
    """Rows of `relation` in one warehouse and not the other (both ways, duplicates counted)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{a}' as a (read_only)")
        con.execute(f"attach '{b}' as b (read_only)")
        return con.execute(
            f"select (select count(*) from (from a.{relation} except all from b.{relation})) "
            f"+ (select count(*) from (from b.{relation} except all from a.{relation}))"
        ).fetchall()[0][0]


@pytest.mark.slow
def test_incremental_email_events_equal_a_full_rebuild(base_run: BaseRun, tmp_path: Path) -> None:
    """Built as of an earlier day, then incrementally as of the last one after days landed, a
    day re-landed without an event whose later copy must now win, and a day held: the events,
    engagement and suppressions equal a full rebuild as of the last day, row for row, and the
    incremental build left the events of unchanged days as they were."""
    from tests.conftest import BASE_END

    early, relanded, copy_day, held = (BASE_END - dt.timedelta(days=d) for d in (8, 20, 15, 12))
    incremental = base_run.copy(tmp_path / "incremental") / "warehouse.duckdb"
    select = ["--select", *INCREMENTAL_MODELS, "--exclude-resource-type", "unit_test"]
    with duckdb.connect(str(incremental)) as con:
        # An event of the re-landed day that SendGrid also delivered again five days later.
        [(event,)] = con.execute(
            "select sg_event_id from raw.email_events where _partition_date = ? "
            "order by sg_event_id limit 1",
            [relanded],
        ).fetchall()
        con.execute(
            "insert into raw.email_events select * replace (? as _partition_date, "
            "(select max(_loaded_at) from raw.email_events where _partition_date = ?) "
            "as _loaded_at) from raw.email_events where sg_event_id = ?",
            [copy_day, copy_day, event],
        )
    build = ["build", *select, "--full-refresh"]
    _dbt(build, incremental, tmp_path / "t1", {"run_date": early.isoformat()})
    with duckdb.connect(str(incremental)) as con:
        assert con.execute(
            "select landed_date from staging.stg_sendgrid__email_events where event_id = ?",
            [event],
        ).fetchall() == [(relanded,)]
        # The day is landed again without that event (a new load stamps the whole day) ...
        con.execute("delete from raw.email_events where sg_event_id = ? and _partition_date = ?",
                    [event, relanded])  # fmt: skip
        con.execute(
            "update raw.email_events set _loaded_at = now() where _partition_date = ?", [relanded]
        )
        # ... and another day's gate fails.
        con.execute(
            "create or replace view quality.held_partitions as select 'email_events' as "
            f"table_name, date '{held}' as partition_date"
        )
        # A row of an untouched day is marked: an incremental build leaves it as it is.
        [(untouched,)] = con.execute(
            "select event_id from staging.stg_sendgrid__email_events where landed_date = ? "
            "order by event_id limit 1",
            [BASE_END - dt.timedelta(days=25)],
        ).fetchall()
    full = tmp_path / "full.duckdb"
    shutil.copy(incremental, full)
    with duckdb.connect(str(incremental)) as con:
        con.execute(
            "update staging.stg_sendgrid__email_events set reason = 'untouched' where event_id = ?",
            [untouched],
        )

    _dbt(["build", *select], incremental, tmp_path / "t2", {"run_date": BASE_END.isoformat()})
    with duckdb.connect(str(incremental)) as con:
        marked = "select reason from staging.stg_sendgrid__email_events where event_id = ?"
        assert con.execute(marked, [untouched]).fetchall() == [("untouched",)]
        with duckdb.connect(str(full), read_only=True) as original:
            [(reason,)] = original.execute(marked, [untouched]).fetchall()
        con.execute(
            "update staging.stg_sendgrid__email_events set reason = ? where event_id = ?",
            [reason, untouched],
        )
    _dbt(["build", *select, "--full-refresh"], full, tmp_path / "t3",
         {"run_date": BASE_END.isoformat()})  # fmt: skip

    for model in INCREMENTAL_MODELS:
        schema = "staging" if model.startswith("stg_") else "marts"
        assert _relation_diff(incremental, full, f"{schema}.{model}") == 0, model
    with duckdb.connect(str(incremental), read_only=True) as con:
        assert con.execute(
            "select landed_date from staging.stg_sendgrid__email_events where event_id = ?",
            [event],
        ).fetchall() == [(copy_day,)]
        assert con.execute(
            "select count(*) from staging.stg_sendgrid__email_events where landed_date = ?",
            [held],
        ).fetchall() == [(0,)]


ORDER_MODELS = ("stg_shopify__orders", "stg_shopify__order_line_items", "int_orders_completed")


@pytest.mark.slow
def test_incremental_orders_equal_a_full_rebuild(base_run: BaseRun, tmp_path: Path) -> None:
    """Orders and their lines built as of an earlier day, then incrementally as of the last
    one after days landed, a refund landed as a new version with one line left, that day
    re-landed without it (the version before wins again, with all its lines) and a day held:
    equal to a full rebuild as of the last day, row for row, with untouched orders left as
    they were."""
    from tests.conftest import BASE_END

    early, first_day, refund_day, held = (BASE_END - dt.timedelta(days=d) for d in (8, 20, 15, 12))
    incremental = base_run.copy(tmp_path / "incremental") / "warehouse.duckdb"
    select = ["--select", *ORDER_MODELS, "--exclude-resource-type", "unit_test"]
    refunded_at = f"{refund_day}T12:00:00+00:00"
    with duckdb.connect(str(incremental)) as con:
        # An order of first_day (its only version) with two or more lines, refunded on
        # refund_day: a new version.
        [(order, lines)] = con.execute(
            "select order_id, count(*) from raw.order_line_items where _partition_date = ? "
            "and order_id not in (select id from raw.orders where _partition_date <> ?) "
            "group by 1 having count(*) > 1 order by 1 limit 1",
            [first_day, first_day],
        ).fetchall()
        [(status,)] = con.execute(
            "select lower(financial_status) from raw.orders where id = ? and _partition_date = ?",
            [order, first_day],
        ).fetchall()
        assert status != "refunded"
        stamp = "(select max(_loaded_at) from raw.orders where _partition_date = ?)"
        con.execute(
            f"insert into raw.orders select * replace (? as _partition_date, {stamp} as "
            "_loaded_at, ? as updated_at, 'refunded' as financial_status) from raw.orders "
            "where id = ? and _partition_date = ?",
            [refund_day, refund_day, refunded_at, order, first_day],
        )
        con.execute(
            f"insert into raw.order_line_items select * replace (? as _partition_date, {stamp} "
            "as _loaded_at, ? as order_updated_at) from raw.order_line_items "
            "where order_id = ? and _partition_date = ? and position = 1",
            [refund_day, refund_day, refunded_at, order, first_day],
        )
    _dbt(["build", *select, "--full-refresh"], incremental, tmp_path / "t1",
         {"run_date": early.isoformat()})  # fmt: skip
    line_count = "select count(*) from staging.stg_shopify__order_line_items where order_id = ?"
    with duckdb.connect(str(incremental)) as con:
        assert con.execute(
            "select financial_status from staging.stg_shopify__orders where order_id = ?",
            [order],
        ).fetchall() == [("refunded",)]
        assert con.execute(line_count, [order]).fetchall() == [(1,)]
        # The refund's day is landed again without it (a new load stamps the whole day) ...
        for table, key in (("orders", "id"), ("order_line_items", "order_id")):
            con.execute(f"delete from raw.{table} where {key} = ? and _partition_date = ?",
                        [order, refund_day])  # fmt: skip
            con.execute(
                f"update raw.{table} set _loaded_at = now() where _partition_date = ?",
                [refund_day],
            )
        # ... and another day's gate fails.
        con.execute(
            "create or replace view quality.held_partitions as select 'orders' as "
            f"table_name, date '{held}' as partition_date"
        )
        [(untouched,)] = con.execute(
            "select order_id from staging.stg_shopify__orders where landed_date = ? "
            "order by order_id limit 1",
            [BASE_END - dt.timedelta(days=25)],
        ).fetchall()
    full = tmp_path / "full.duckdb"
    shutil.copy(incremental, full)
    with duckdb.connect(str(incremental)) as con:
        con.execute(
            "update staging.stg_shopify__orders set order_name = 'untouched' where order_id = ?",
            [untouched],
        )

    _dbt(["build", *select], incremental, tmp_path / "t2", {"run_date": BASE_END.isoformat()})
    with duckdb.connect(str(incremental)) as con:
        marked = "select order_name from staging.stg_shopify__orders where order_id = ?"
        assert con.execute(marked, [untouched]).fetchall() == [("untouched",)]
        with duckdb.connect(str(full), read_only=True) as original:
            [(name,)] = original.execute(marked, [untouched]).fetchall()
        con.execute(
            "update staging.stg_shopify__orders set order_name = ? where order_id = ?",
            [name, untouched],
        )
    _dbt(["build", *select, "--full-refresh"], full, tmp_path / "t3",
         {"run_date": BASE_END.isoformat()})  # fmt: skip

    for model in ORDER_MODELS:
        schema = "staging" if model.startswith("stg_") else "intermediate"
        assert _relation_diff(incremental, full, f"{schema}.{model}") == 0, model
    with duckdb.connect(str(incremental), read_only=True) as con:
        assert con.execute(
            "select financial_status, landed_date from staging.stg_shopify__orders "
            "where order_id = ?",
            [order],
        ).fetchall() == [(status, first_day)]
        assert con.execute(line_count, [order]).fetchall() == [(lines,)]
        assert con.execute(
            "select count(*) from staging.stg_shopify__orders where landed_date = ?", [held]
        ).fetchall() == [(0,)]
