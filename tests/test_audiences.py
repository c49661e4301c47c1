"""Audiences built by the real pipeline on two consecutive days: holdouts, suppression, churn."""

from __future__ import annotations

import datetime as dt
import importlib
import math
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from orchestration.quality.gate import run_audience_gate
from orchestration.quality.thresholds import QualityThresholds
from orchestration.sample import SampleParams, generate_sample_shop
from tests.conftest import AUDIENCES

PARAMS = SampleParams(customers=400, days=40, start_date=dt.date(2024, 6, 1), seed=8)
DAY_1 = PARAMS.end_date - dt.timedelta(days=1)
DAY_2 = PARAMS.end_date
HOLDOUT_SHARE = 0.1  # every audience's meta.audience.holdout_share


def _members(warehouse: Path) -> dict[tuple[str, str], bool]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'audiences'"
        ).fetchall()
        rows = []
        for (table,) in tables:
            sql = f"select audience, email, is_holdout from audiences.{table}"
            rows += con.execute(sql).fetchall()
    return {(audience, email): holdout for audience, email, holdout in rows}


@pytest.fixture
def two_days(isolated_env: Path):
    generate_sample_shop(PARAMS, isolated_env / "landing")
    import orchestration.definitions as module

    job = importlib.reload(module).defs.resolve_job_def("daily_refresh")
    warehouse = isolated_env / "warehouse.duckdb"
    with DagsterInstance.ephemeral() as instance:
        tags = {
            "dagster/asset_partition_range_start": PARAMS.start_date.isoformat(),
            "dagster/asset_partition_range_end": DAY_1.isoformat(),
        }
        assert job.execute_in_process(instance=instance, tags=tags).success
        first = _members(warehouse)
        result = job.execute_in_process(instance=instance, partition_key=DAY_2.isoformat())
        assert result.success
        second = _members(warehouse)
        gates = {
            e.asset_check_evaluation_data.asset_key.path[-1]: e.asset_check_evaluation_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.asset_check_evaluation_data.check_name == "audience_gate"
        }
        vip = instance.fetch_materializations(AssetKey(["audiences", "aud_vip"]), limit=1)
        metadata = vip.records[0].asset_materialization.metadata
    return first, second, metadata, warehouse, gates


def test_audiences_keep_a_stable_holdout_and_change_from_day_to_day(two_days) -> None:
    first, second, metadata, *_ = two_days
    audiences = {audience for audience, _ in first}
    assert len(audiences) >= 7, audiences
    # The same contact stays in (or out of) an audience's holdout from one day to the next.
    both = first.keys() & second.keys()
    assert both and all(first[k] == second[k] for k in both)
    # Members enter and leave as the days pass.
    assert second.keys() - first.keys() and first.keys() - second.keys()
    # The holdout share is the configured one, within four binomial standard deviations.
    n = len(second)
    share = sum(second.values()) / n
    assert abs(share - HOLDOUT_SHARE) < 4 * math.sqrt(HOLDOUT_SHARE * (1 - HOLDOUT_SHARE) / n)
    # The Dagster UI shows each audience's treatment and holdout sizes.
    assert metadata["aud_vip: holdout"].value + metadata["aud_vip: treatment"].value == (
        metadata["dagster/row_count"].value
    )


def test_no_audience_holds_a_contact_who_must_not_be_mailed(two_days) -> None:
    *_, warehouse, gates = two_days
    # Every audience passed its gate before publishing: suite, contract, suppressions.
    assert sorted(gates) == AUDIENCES
    assert all(g.passed for g in gates.values())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        suppressed = {
            e
            for (e,) in con.execute(
                "select email from marts.suppressions where coalesce(asm_group_id, 102) = 102"
            ).fetchall()
        }
        assert suppressed
    members = {email for _, email in _members(warehouse)}
    assert members and not members & suppressed


def test_the_audience_gate_stops_a_suppressed_member(two_days, tmp_path: Path) -> None:
    *_, warehouse, _ = two_days
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with duckdb.connect(str(copy)) as con:
        # As if an audience's SQL forgot the suppression list.
        con.execute(
            "insert into audiences.aud_vip by name "
            "select 'aud_vip' as audience, email, 'oops' as reason, false as is_holdout, "
            "(select max(run_date) from audiences.aud_vip) as run_date "
            "from marts.suppressions where reason = 'hard_bounced' limit 1"
        )
        report = run_audience_gate(con, "aud_vip", 102, QualityThresholds())
    [failure] = report.failures
    assert failure.rule == "suppressed_member"
    assert "(hard_bounced)" in failure.message
    assert failure.samples[0]["email"].split("@")[0].endswith("***")
