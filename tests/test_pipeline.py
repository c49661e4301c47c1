"""Real Dagster runs over real landing files and a real DuckDB warehouse file."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from orchestration.assets import build_ingest_assets
from orchestration.sample import SampleParams, generate_sample_shop
from orchestration.settings import Settings

PARAMS = SampleParams(customers=150, days=14, start_date=dt.date(2024, 5, 1), seed=5)


@pytest.fixture
def env(isolated_env: Path):
    generate_sample_shop(PARAMS, isolated_env / "landing")
    import orchestration.definitions as module

    return importlib.reload(module)


def _count(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


def test_materializing_partitions_one_by_one(env, isolated_env: Path) -> None:
    assets = build_ingest_assets(env.partitions)
    resources = env.defs.resources
    days = ["2024-05-02", "2024-05-03", "2024-05-04"]
    with DagsterInstance.ephemeral() as instance:
        for day in days:
            result = materialize(assets, partition_key=day, resources=resources, instance=instance)
            assert result.success
        events = instance.fetch_materializations(AssetKey(["raw", "orders"]), limit=10).records
        partitions = sorted(e.partition_key for e in events)
        assert partitions == days
        latest = events[0].asset_materialization.metadata
        assert latest["days_loaded"].value == 1
        assert latest["dagster/row_count"].value == _count(
            isolated_env / "warehouse.duckdb", "orders"
        )
    with duckdb.connect(str(isolated_env / "warehouse.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "select _partition_date::varchar from raw.orders union "
            "select _partition_date::varchar from raw.email_events union "
            "select _partition_date::varchar from raw.checkouts"
        ).fetchall()
    assert sorted(r[0] for r in loaded) == days


def test_one_run_over_a_range_loads_every_day_once(env, isolated_env: Path) -> None:
    job = env.defs.resolve_job_def("daily_refresh")
    tags = {
        "dagster/asset_partition_range_start": "2024-05-01",
        "dagster/asset_partition_range_end": "2024-05-14",
    }
    warehouse = isolated_env / "warehouse.duckdb"
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, tags=tags).success
        first = {t: _count(warehouse, t) for t in ("orders", "email_events", "contacts")}
        assert job.execute_in_process(instance=instance, tags=tags).success
        again = {t: _count(warehouse, t) for t in ("orders", "email_events", "contacts")}
        status = instance.get_status_by_partition(
            AssetKey(["raw", "orders"]),
            [f"2024-05-{d:02d}" for d in range(1, 15)],
            env.partitions,
        )
    assert all(v > 0 for v in first.values())
    assert again == first
    assert len(status) == 14
    _assert_marts_are_consistent(warehouse, run_date="2024-05-14")


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
        assert vips == -(-customers // 5)  # ceil(20%)
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


def test_the_main_command_runs_end_to_end(isolated_env: Path) -> None:
    """`lifecycle demo` as a user runs it: sample generated, whole graph materialized."""
    cli = Path(sys.executable).with_name("lifecycle")
    done = subprocess.run(
        [str(cli), "demo", "--customers", "120", "--days", "10"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "daily_refresh" in done.stdout and "succeeded" in done.stdout
    settings = Settings.from_env()
    assert (settings.landing_dir / "_sample_shop.json").exists()
    for table in ("orders", "order_line_items", "checkouts", "email_events", "contacts"):
        assert _count(settings.warehouse_path, table) > 0, table
    with DagsterInstance.get() as instance:
        records = instance.fetch_materializations(AssetKey(["raw", "contacts"]), limit=100)
        assert len(records.records) == 10


def test_backfilling_a_past_day_gives_the_same_marts_as_on_that_day(
    env, isolated_env: Path
) -> None:
    job = env.defs.resolve_job_def("daily_refresh")
    warehouse = isolated_env / "warehouse.duckdb"

    def run_range(start: str, end: str) -> None:
        tags = {
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        }
        assert job.execute_in_process(instance=instance, tags=tags).success

    def rfm() -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute("select * from marts.customer_rfm order by email").fetchall()

    with DagsterInstance.ephemeral() as instance:
        run_range("2024-05-01", "2024-05-07")
        on_the_day = rfm()
        run_range("2024-05-08", "2024-05-14")
        assert rfm() != on_the_day
        assert job.execute_in_process(instance=instance, partition_key="2024-05-07").success
    assert rfm() == on_the_day


def test_dbt_marts_carry_row_counts_and_breakdowns(env, isolated_env: Path) -> None:
    job = env.defs.resolve_job_def("daily_refresh")
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, partition_key="2024-05-14").success
        record = instance.fetch_materializations(AssetKey(["marts", "customer_lifecycle"]), limit=1)
        metadata = record.records[0].asset_materialization.metadata
    stages = {k: v.value for k, v in metadata.items() if k.startswith("customer_lifecycle: ")}
    assert sum(stages.values()) == metadata["dagster/row_count"].value > 0
    assert "customer_lifecycle: prospect" in stages


def test_a_failing_dbt_test_blocks_everything_downstream(env, isolated_env: Path) -> None:
    job = env.defs.resolve_job_def("daily_refresh")
    warehouse = isolated_env / "warehouse.duckdb"
    with DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, partition_key="2024-05-14").success
        with duckdb.connect(str(warehouse)) as con:
            # An order with a financial status Shopify does not have, as if ingested as is.
            con.execute(
                "insert into raw.orders by name select * replace "
                "(id + 1000000000000 as id, 'mystery' as financial_status) from raw.orders limit 1"
            )
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
        assert failed == [
            "accepted_values_stg_shopify__orders_financial_status__pending__authorized__"
            "partially_paid__paid__partially_refunded__refunded__voided"
        ]
        materialized = {
            e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
        }
        assert "staging/stg_shopify__orders" in materialized  # dbt writes a model, then tests it
        assert "intermediate/int_orders_completed" not in materialized
        assert "marts/customer_rfm" not in materialized
