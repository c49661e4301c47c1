"""The same dbt models build on Apache Spark over the lake's Parquet (the raw zone and the
warehouse tables the catalog lists) and give the same marts and audiences as on DuckDB,
through the incremental paths too. Spark's tables are read back from their Parquet files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.lake_catalog import export_catalog
from orchestration.publish.entries import record_entries
from orchestration.sample import SampleSummary
from orchestration.spark_output import spark_table_source
from tests.conftest import AUDIENCES
from tests.engines import ENTRY_DAY, MARTS, RUN_DATE, assert_same_rows, dbt_build, load_raw

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
    before_publish = ("--exclude", "tag:readout")
    # dbt's data tests run on Spark once, after the incremental build (and every day in
    # test_spark_pipeline.py, as the daily job's checks): here they would only cost time.
    short = RUN_DATE - dt.timedelta(days=DAYS_SHORT)
    for engine, env in (("duckdb", duck_env), ("spark", spark_env)):
        target_path = tmp_path / engine
        dbt_build(engine, env, target_path, *before_publish, run_date=short, data_tests=False)
        tests = engine == "spark"
        dbt_build(engine, env, target_path, *before_publish, run_date=RUN_DATE, data_tests=tests)
    # What publishing records (the audience spells), to the lake, then the read-outs.
    with duckdb.connect(str(warehouse)) as con:
        assert sum(e for e, _ in record_entries(con, AUDIENCES, ENTRY_DAY).values()) > 0
        assert "publish.audience_entries" in export_catalog(con, lake)
    readouts = ("--select", "tag:readout")
    dbt_build("duckdb", duck_env, tmp_path / "duckdb", *readouts, data_tests=False)
    dbt_build("spark", spark_env, tmp_path / "spark", *readouts, data_tests=False)
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
