"""Real Dagster runs over real landing files and a real DuckDB warehouse file."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from orchestration.assets import build_ingest_assets
from orchestration.sample import SampleSummary
from tests.conftest import BASE_END, SMALL, BaseRun, point_settings_at
from tests.runs import reload_definitions, run_day, run_ingest

MIDDLE = SMALL.start_date + dt.timedelta(days=20)


@pytest.fixture
def env(small_shop: SampleSummary, isolated_env: Path):
    """The code location over a fresh warehouse and the small shop's landing files."""
    shutil.copytree(small_shop.landing_dir, isolated_env / "landing")
    return reload_definitions()


@pytest.fixture
def copied(base_run: BaseRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The code location over a private copy of the shared run."""
    data = base_run.copy(tmp_path)
    point_settings_at(monkeypatch, data)
    return reload_definitions(), data / "warehouse.duckdb"


def _count(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


def test_materializing_partitions_one_by_one(env, isolated_env: Path) -> None:
    assets = build_ingest_assets(env.partitions)
    resources = env.defs.resources
    days = [(SMALL.start_date + dt.timedelta(days=i)).isoformat() for i in (1, 2, 3)]
    with DagsterInstance.ephemeral() as instance:
        for day in days:
            result = materialize(assets, partition_key=day, resources=resources, instance=instance)
            assert result.success
        events = instance.fetch_materializations(AssetKey(["raw", "orders"]), limit=10).records
        partitions = sorted(e.partition_key for e in events)
        assert partitions == days
        latest = events[0].asset_materialization.metadata
        assert latest["table_rows_after_run"].value == _count(
            isolated_env / "warehouse.duckdb", "orders"
        )
        row_counts = {e.partition_key: e.asset_materialization.metadata for e in events}
    with duckdb.connect(str(isolated_env / "warehouse.duckdb"), read_only=True) as con:
        by_day = dict(
            con.execute(
                "select _partition_date::varchar, count(*) from raw.orders group by 1"
            ).fetchall()
        )
    # Each partition states its own day's rows and files, not the table's or the run's.
    for day in days:
        assert row_counts[day]["dagster/row_count"].value == by_day[day] > 0
        assert row_counts[day]["files"].value >= 1
        assert row_counts[day]["rows_read"].value >= by_day[day]
    with duckdb.connect(str(isolated_env / "warehouse.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "select _partition_date::varchar from raw.orders union "
            "select _partition_date::varchar from raw.email_events union "
            "select _partition_date::varchar from raw.checkouts"
        ).fetchall()
    assert sorted(r[0] for r in loaded) == days


def test_one_run_over_a_range_loads_every_day_once(base_run: BaseRun, copied) -> None:
    module, warehouse = copied
    tables = ("orders", "email_events", "contacts")
    first = {t: _count(base_run.warehouse, t) for t in tables}
    # The same range loaded again (its ingest assets and gates) changes no row.
    with DagsterInstance.ephemeral() as instance:
        assert run_ingest(module, instance, SMALL.start_date, BASE_END).success
    again = {t: _count(warehouse, t) for t in tables}
    days = (BASE_END - SMALL.start_date).days + 1
    status = base_run.instance.get_status_by_partition(
        AssetKey(["raw", "orders"]),
        [(SMALL.start_date + dt.timedelta(days=d)).isoformat() for d in range(days)],
        module.partitions,
    )
    assert all(v > 0 for v in first.values())
    assert again == first
    assert len(status) == days
    _assert_marts_are_consistent(base_run.warehouse, run_date=BASE_END.isoformat())


def _assert_marts_are_consistent(warehouse: Path, run_date: str) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:

        def one(sql: str) -> object:
            return con.execute(sql).fetchall()[0][0]

        customers = one("select count(*) from intermediate.int_customers_summarized")
        assert customers > 0
        segments = con.execute(
            "select rfm_segment, count(*) from marts.customer_rfm group by 1"
        ).fetchall()
        assert sum(n for _, n in segments) == customers
        assert None not in dict(segments)
        vips = one("select count(*) from marts.customer_rfm where is_vip")
        assert vips == int(customers * 0.2 + 0.5)  # 20%, rounded half up
        assert one("select max(run_date)::varchar from marts.customer_rfm") == run_date
        # Nothing after the run date is used.
        assert str(one("select max(last_order_date) from marts.customer_rfm")) <= run_date
        contacts = one("select count(*) from intermediate.int_contacts_unified")
        assert one("select count(distinct email) from marts.customer_lifecycle") == contacts
        assert one("select count(*) from marts.customer_lifecycle") == contacts
        stages = dict(
            con.execute(
                "select lifecycle_stage, count(*) from marts.customer_lifecycle group by 1"
            ).fetchall()
        )
        assert stages["prospect"] == contacts - customers
        suppressed_but_mailable = one(
            "select count(*) from marts.customer_lifecycle l join marts.suppressions s "
            "on s.email = l.email and s.asm_group_id is null where l.is_mailable"
        )
        assert suppressed_but_mailable == 0
        assert one("select count(*) from marts.suppressions") > 0
        assert one("select count(*) from marts.retention_metrics_monthly") >= 1
        # Nobody who ordered within the global short window is lapsed, own window or not.
        lapsed_too_early = one(
            "select count(*) from marts.customer_lifecycle where days_since_last_order <= 30 "
            "and lifecycle_stage in ('short_term_lapsed', 'long_term_lapsed')"
        )
        assert lapsed_too_early == 0
        # "Active" (within the long window) is one set of customers in every mart on the run
        # date: not past it in churn, not long-term lapsed by the window in the lifecycle, and
        # active at the end of the run date's month in the retention metrics.
        in_churn = one("select count(*) from marts.customer_churn where not is_past_long_window")
        in_lifecycle = one(
            "select count(*) from marts.customer_lifecycle where days_since_last_order <= 180"
        )
        in_retention = one(
            "select active_customers from marts.retention_metrics_monthly "
            "order by month_start desc limit 1"
        )
        assert in_churn == in_lifecycle == in_retention > 0


def test_backfilling_a_past_day_gives_the_same_marts_as_on_that_day(
    base_run: BaseRun, copied
) -> None:
    module, warehouse = copied

    def rfm(path: Path) -> list[tuple]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("select * from marts.customer_rfm order by email").fetchall()

    on_the_day = rfm(base_run.warehouse)  # built by the range run ending on BASE_END
    # The models only (publishing is not the point; dbt's tests that span marts need them all).
    with DagsterInstance.ephemeral() as instance:
        assert run_day(module, instance, MIDDLE, publish=False).success
        assert rfm(warehouse) != on_the_day
        assert run_day(module, instance, BASE_END, publish=False).success
    assert rfm(warehouse) == on_the_day


def test_dbt_marts_carry_row_counts_and_breakdowns(base_run: BaseRun) -> None:
    metadata = base_run.metadata["marts/customer_lifecycle"]
    stages = {k: v.value for k, v in metadata.items() if k.startswith("customer_lifecycle: ")}
    assert sum(stages.values()) == metadata["dagster/row_count"].value > 0
    assert "customer_lifecycle: prospect" in stages


def test_a_failing_dbt_test_blocks_everything_downstream(copied) -> None:
    env, warehouse = copied
    job = env.defs.resolve_job_def("daily_refresh")
    with DagsterInstance.ephemeral() as instance:
        with duckdb.connect(str(warehouse)) as con:
            # An order with a financial status Shopify does not have, as if ingested as is
            # (a load replaces its day: every row of the day gets the load's time).
            [(day,)] = con.execute(
                "insert into raw.orders by name select * replace "
                "(id + 1000000000000 as id, 'mystery' as financial_status) from raw.orders "
                "limit 1 returning _partition_date"
            ).fetchall()
            con.execute("update raw.orders set _loaded_at = now() where _partition_date = ?", [day])
        dbt_keys = [k for k in job.asset_layer.executable_asset_keys if k.path[0] != "raw"]
        result = env.defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=dbt_keys, raise_on_error=False
        )
        assert not result.success
        checks = {
            e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
        failed = [name for name, passed in checks.items() if not passed]
        assert failed == ["accepted_values_stg_shopify__orders_financial_status"]
        materialized = {
            e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
        }
        assert "staging/stg_shopify__orders" in materialized  # dbt writes a model, then tests it
        assert "intermediate/int_orders_completed" not in materialized
        assert "marts/customer_rfm" not in materialized
