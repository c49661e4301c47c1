"""The daily job with its dbt layer on Apache Spark (LIFECYCLE_DBT_TARGET=spark), end to end:
ingestion to the lake, dbt and its tests on Spark, the churn model, the audience gate and
publishing reading Spark's tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from orchestration.sample import SampleSummary
from orchestration.spark_output import spark_table_source
from tests.conftest import AUDIENCES, SMALL, point_settings_at
from tests.runs import evaluations, range_tags, reload_definitions


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
