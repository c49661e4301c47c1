"""The same dbt models build on Apache Spark over the lake's Parquet (the raw zone and the
warehouse tables the catalog lists) and give the same marts and audiences as on DuckDB,
through the incremental paths too; and the daily job runs end to end with its dbt layer on
Spark (LIFECYCLE_DBT_TARGET=spark): ingestion to the lake, dbt and its tests on Spark, the
churn model, the audience gate and publishing reading Spark's tables. Spark's tables are read
back from their Parquet files. One module, so the two run one after the other on one worker:
side by side they would share two cores between two JVMs and the rest of the suite."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from orchestration.ingest.lake_catalog import export_catalog
from orchestration.publish.entries import record_entries
from orchestration.sample import SampleSummary
from orchestration.spark_output import spark_table_source
from tests.conftest import AUDIENCES, SMALL, point_settings_at
from tests.engines import ENTRY_DAY, MARTS, RUN_DATE, assert_same_rows, dbt_build, load_raw
from tests.runs import evaluations, range_tags, reload_definitions

# The first build stops this many landing days short; the second takes the incremental
# paths over the days in between (staging's partition overwrite, the stage history's).
DAYS_SHORT = 3


@pytest.mark.slow
def test_marts_are_identical_on_spark_and_duckdb(
    spark_env: dict[str, str], small_shop: SampleSummary, tmp_path: Path
) -> None:
    lake, spark = Path(spark_env["LIFECYCLE_LAKE_DIR"]), Path(spark_env["LIFECYCLE_SPARK_DIR"])
    warehouse = tmp_path / "warehouse.duckdb"
    load_raw(warehouse, small_shop, lake=lake)
    with duckdb.connect(str(warehouse)) as con:
        catalog = export_catalog(con, lake)
    assert {"raw.orders", "raw.email_events_consent", "quarantine.email_events"} <= set(catalog)
    duck_env = {"LIFECYCLE_WAREHOUSE_PATH": str(warehouse)}
    engines = (("duckdb", duck_env), ("spark", spark_env))
    # dbt's data tests run on Spark in the daily job test below, as its checks: here, where
    # every row is compared with DuckDB's, they would only cost time (about 150 queries).
    # Two builds per engine (a Spark build costs a minute and a half): the first stops short
    # and leaves out the read-outs; publishing records the audiences' members (what the
    # read-outs count), to the lake too; the second takes the incremental paths and builds
    # the read-outs.
    short = RUN_DATE - dt.timedelta(days=DAYS_SHORT)
    before_publish = ("--exclude", "tag:readout")
    for engine, env in engines:
        dbt_build(engine, env, tmp_path / engine, *before_publish, run_date=short, data_tests=False)
    with duckdb.connect(str(warehouse)) as con:
        assert sum(e for e, _ in record_entries(con, AUDIENCES, ENTRY_DAY).values()) > 0
        assert "publish.audience_entries" in export_catalog(con, lake)
    for engine, env in engines:
        dbt_build(engine, env, tmp_path / engine, run_date=RUN_DATE, data_tests=False)
    tables = {
        **MARTS,
        **{f"audiences.{a}": "email" for a in AUDIENCES},
        "audiences.dropped_members": "audience, email",
        # The incremental staging tables, partitioned by landing day on Spark.
        "staging.stg_sendgrid__email_events": "event_id",
        "staging.stg_shopify__orders": "order_id",
        "staging.stg_shopify__order_line_items": "order_line_key",
    }
    compared = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, order in tables.items():
            schema, name = table.split(".")
            columns = ", ".join(
                f'"{c}"'
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
            )
            expected = con.execute(f"select {columns} from {table} order by {order}").fetchall()
            source = spark_table_source(spark, schema, name)
            actual = con.execute(f"select {columns} from {source} order by {order}").fetchall()
            assert_same_rows(actual, expected, table)
            compared[table] = len(expected)
    assert all(compared[m] for m in MARTS)
    assert sum(compared[f"audiences.{a}"] > 0 for a in AUDIENCES) >= 6
    assert compared["audiences.dropped_members"] > 0


@pytest.mark.slow
def test_the_daily_job_runs_with_its_dbt_layer_on_spark(
    spark_env: dict[str, str],
    small_shop: SampleSummary,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(small_shop.landing_dir, data / "landing")
    point_settings_at(monkeypatch, data)
    monkeypatch.setenv("LIFECYCLE_DBT_TARGET", "spark")
    spark = tmp_path / "spark"
    monkeypatch.setenv("LIFECYCLE_SPARK_DIR", str(spark))
    for name in ("LIFECYCLE_SPARK_SHUFFLE_PARTITIONS", "LIFECYCLE_SPARK_JAVA_OPTIONS"):
        monkeypatch.setenv(name, spark_env[name])
    monkeypatch.delenv("LIFECYCLE_LAKE_DIR", raising=False)  # the default: data/lake
    with DagsterInstance.ephemeral() as instance:
        job = reload_definitions().defs.resolve_job_def("daily_refresh")
        result = job.execute_in_process(
            instance=instance, tags=range_tags(SMALL.start_date, SMALL.end_date)
        )
    monkeypatch.undo()
    reload_definitions()
    assert result.success
    # dbt's tests ran on Spark as the models' checks, the consent test among them.
    checks = evaluations(result)
    assert checks["suppressions"].passed
    assert sum(1 for c in checks.values() if c.passed) >= 20
    assert (data / "lake" / "raw" / "orders").is_dir()
    assert (data / "lake" / "catalog").is_dir()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        # The marts and audiences the later steps read are Spark's files.
        views = dict(
            con.execute(
                "select schema_name || '.' || view_name, sql from duckdb_views() "
                "where schema_name in ('marts', 'audiences')"
            ).fetchall()
        )
        assert {"marts.suppressions", "marts.customer_rfm"} <= set(views)
        audiences = [a for a in AUDIENCES if f"audiences.{a}" in views]
        assert len(audiences) >= 10  # the cart steps are built by the cart job
        assert all(str(spark) in views[f"audiences.{a}"] for a in audiences)
        # The churn model ran on Spark's orders (too few for a fit in this small shop), and dbt
        # on Spark scored every customer with what it wrote.
        fits = con.execute("select run_date, status from predictions.clv_fits").fetchall()
        assert fits == [(SMALL.end_date, "insufficient_data")]
        customers, scored = con.execute(
            "select (select count(*) from intermediate.int_customers_summarized), "
            "count(*) filter (where prediction_status is not null) "
            "from marts.customer_predictions"
        ).fetchall()[0]
        assert scored == customers > 0
        # Publishing sent members of Spark's audience tables, read here from the files, and
        # none of the suppressed.
        published = con.execute(
            "select audience, email from publish.member_state where target = 'outbox'"
        ).fetchall()
        assert len(published) > 50
        for audience in {a for a, _ in published}:
            source = spark_table_source(spark, "audiences", audience)
            members = {
                e
                for (e,) in con.execute(
                    f"select email from {source} where not is_holdout"
                ).fetchall()
            }
            assert {e for a, e in published if a == audience} <= members, audience
        suppressed = con.execute(
            "select count(*) from publish.member_state m join marts.suppressions s "
            "on s.email = m.email and s.asm_group_id is null"
        ).fetchall()[0][0]
        assert suppressed == 0
