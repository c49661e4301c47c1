"""The code location loads, and its graph, jobs and schedules are what we expect."""

from __future__ import annotations

import builtins
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetKey,
    AssetsDefinition,
    DefaultScheduleStatus,
    Definitions,
    build_schedule_context,
    instance_for_test,
)

from orchestration.assets.dbt import dbt_build_args, progress_line, run_date_for
from orchestration.assets.dbt_translator import group_for_node
from orchestration.assets.publish import published_audience
from orchestration.dbt_project import dbt_project
from orchestration.ingest import SOURCES, ensure_raw_tables
from orchestration.partitions import daily_partitions
from orchestration.resources import DuckDBWarehouse
from orchestration.resources.landing import first_partition_day
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.shop_time import shop_today
from tests.conftest import AUDIENCES
from tests.runs import reload_definitions

EXPECTED_GROUPS = {
    "raw/orders": "ingest",
    "quality/held_partitions": "ingest",
    "raw/order_line_items": "ingest",
    "raw/checkouts": "ingest",
    "raw/checkout_line_items": "ingest",
    "raw/email_events": "ingest",
    "raw/contacts": "ingest",
    "raw/email_events_consent": "ingest",
    "raw/contacts_consent": "ingest",
    "reference/rfm_segments": "reference",
    "staging/stg_shopify__orders": "staging",
    "staging/stg_shopify__order_line_items": "staging",
    "staging/stg_shopify__checkouts": "staging",
    "staging/stg_shopify__checkout_line_items": "staging",
    "staging/stg_sendgrid__email_events": "staging",
    "staging/stg_shop__contacts": "staging",
    "staging/stg_landing__consent_signals": "staging",
    "intermediate/int_orders_completed": "intermediate",
    "intermediate/int_customers_summarized": "intermediate",
    "intermediate/int_contacts_unified": "intermediate",
    "intermediate/int_customer_seasons": "intermediate",
    "intermediate/int_customer_preferences": "intermediate",
    "intermediate/int_abandoned_checkouts": "intermediate",
    "marts/customer_rfm": "marts",
    "predictions/clv_fits": "predictions",
    "predictions/clv_expected_orders": "predictions",
    "marts/customer_predictions": "marts",
    "marts/customer_churn": "marts",
    "marts/customer_lifecycle": "marts",
    "marts/customer_lifecycle_history": "marts",
    "marts/email_engagement": "marts",
    "marts/suppressions": "marts",
    "marts/retention_metrics_monthly": "marts",
    "audiences/dropped_members": "audiences",
    "audiences/aud_cart_abandonment_1h": "audiences",
    "audiences/aud_cart_abandonment_24h": "audiences",
    "audiences/aud_cart_abandonment_3d": "audiences",
    "audiences/aud_cross_sell_brand": "audiences",
    "audiences/aud_first_order_anniversary": "audiences",
    "audiences/aud_lapsed_long": "audiences",
    "audiences/aud_lapsed_short_nudge": "audiences",
    "audiences/aud_new_customer_welcome": "audiences",
    "audiences/aud_post_purchase": "audiences",
    "audiences/aud_prospect_first_purchase": "audiences",
    "audiences/aud_seasonal_reminder": "audiences",
    "audiences/aud_upsell_premium": "audiences",
    "audiences/aud_vip": "audiences",
    "audiences/aud_vip_churn_risk": "audiences",
    "audiences/aud_win_back": "audiences",
    **{f"publish/list_{a}": "publish" for a in AUDIENCES},
    "publish/frequency_caps": "publish",
    "publish/audience_entries": "publish",
    "publish/opt_out_removals": "publish",
    "publish/member_failures": "ingest",
    "marts/holdout_results": "measurement",
    "serve/serving_file": "serve",
    "serve/report": "serve",
}


@pytest.fixture
def defs(isolated_env: Path) -> Definitions:
    return reload_definitions().defs


def test_every_source_table_has_a_blocking_quality_gate(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    gates = {
        k.asset_key.to_user_string(): graph.get_check_spec(k)
        for k in graph.asset_check_keys
        if k.name == "quality_gate"
    }
    assert set(gates) == {"raw/orders", "raw/checkouts", "raw/email_events", "raw/contacts"}
    assert all(spec.blocking for spec in gates.values())
    for table in gates:
        assert (PROJECT_ROOT / "expectations" / f"raw_{table.split('/')[1]}.json").exists()
    audience_gates = [k for k in graph.asset_check_keys if k.name == "audience_gate"]
    assert sorted(k.asset_key.path[-1] for k in audience_gates) == AUDIENCES
    assert all(graph.get_check_spec(k).blocking for k in audience_gates)


def test_asset_graph_is_the_expected_one(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == EXPECTED_GROUPS
    for key in graph.get_all_asset_keys():
        is_raw = key.path[0] == "raw"
        assert (graph.get(key).partitions_def is not None) == is_raw, key


def test_dbt_sources_are_the_raw_ingestion_assets(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    parents = graph.get(AssetKey(["staging", "stg_shopify__orders"])).parent_keys
    # The gates' held days are a declared source: the gate -> staging edge is in the lineage.
    held = AssetKey(["quality", "held_partitions"])
    assert parents == {AssetKey(["raw", "orders"]), held}
    assert AssetKey(["raw", "orders"]) in graph.get(held).parent_keys
    # The holdout read-out is a dbt model over the entries the publish step records.
    assert graph.get(AssetKey(["marts", "holdout_results"])).parent_keys == {
        AssetKey(["publish", "audience_entries"]),
        AssetKey(["intermediate", "int_orders_completed"]),
    }
    # The suppression-only sync waits for no gate: it reads the consent signals alone, which
    # no gate holds, so it runs in a run whose gates fail.
    consent = {AssetKey(["raw", "email_events_consent"]), AssetKey(["raw", "contacts_consent"])}
    assert graph.get(AssetKey(["publish", "opt_out_removals"])).parent_keys == consent
    assert not [k for c in consent for k in graph.asset_check_keys if k.asset_key == c]
    assert graph.get(AssetKey(["staging", "stg_landing__consent_signals"])).parent_keys == consent
    assert graph.get(AssetKey(["marts", "customer_rfm"])).parent_keys == {
        AssetKey(["intermediate", "int_customers_summarized"]),
        AssetKey(["reference", "rfm_segments"]),
    }


def test_dbt_tests_are_blocking_asset_checks(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    checks = {
        (k.asset_key.to_user_string(), k.name): graph.get_check_spec(k)
        for k in graph.asset_check_keys
    }
    assert ("marts/customer_rfm", "unique_customer_rfm_email") in checks
    assert ("staging/stg_shopify__orders", "unique_stg_shopify__orders_order_id") in checks
    # A landed opt-out missing from the suppressions holds every audience built from them.
    assert ("marts/suppressions", "assert_every_landed_opt_out_is_suppressed") in checks
    # The churn model's fit is refused by a blocking check; its backtest only warns.
    assert checks.pop(("predictions/clv_fits", "fit_is_sound")).blocking
    assert not checks.pop(("predictions/clv_fits", "backtest")).blocking
    # Each publish asset's own checks report on a sync that has happened: they warn.
    published = [k for k in checks if k[0].startswith("publish/list_")]
    assert {name for _, name in published} == {"list_in_sync", "member_failures_within_threshold"}
    assert len(published) == 2 * len(AUDIENCES)
    assert not any(checks.pop(k).blocking for k in published)
    assert all(c.blocking for c in checks.values())  # every test here has error severity


def test_jobs_and_their_schedules_are_off_by_default(defs: Definitions) -> None:
    for job_name in ("daily_refresh", "cart_abandonment"):
        assert defs.resolve_job_def(job_name).tags["lifecycle/warehouse"] == "duckdb"
    names = {s.name: s.job_name for s in defs.schedules}
    assert names == {
        "daily_refresh_schedule": "daily_refresh",
        "cart_abandonment_schedule": "cart_abandonment",
    }
    for name in names:
        assert defs.resolve_schedule_def(name).default_status == DefaultScheduleStatus.STOPPED


def test_the_nightly_run_fills_yesterday_and_the_cart_job_today(defs: Definitions) -> None:
    at = dt.datetime(2025, 3, 4, 2, 0, tzinfo=dt.UTC)
    with instance_for_test() as instance:
        context = build_schedule_context(instance=instance, scheduled_execution_time=at)
        nightly = defs.resolve_schedule_def("daily_refresh_schedule")(context)
        cart = defs.resolve_schedule_def("cart_abandonment_schedule")(context)
    assert nightly.partition_key == "2025-03-03"
    assert cart.partition_key == "2025-03-04"
    assert defs.resolve_schedule_def("cart_abandonment_schedule").cron_schedule == "*/15 * * * *"


def test_resources_follow_the_settings(defs: Definitions, isolated_env: Path) -> None:
    resources = defs.resources
    assert resources["warehouse"].path == str(isolated_env / "warehouse.duckdb")
    assert resources["landing"].root == str(isolated_env / "landing")


def test_the_dbt_resource_knows_the_executables_version_without_running_it(
    defs: Definitions,
) -> None:
    """dagster-dbt asks `dbt --version` before every step; ours answers from the installed
    dbt-core, which must be the version the executable the steps run reports."""
    resource = defs.resources["dbt"]
    printed = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert f"installed: {resource._cli_version}" in printed
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_partitions_start_on_the_configured_day(defs: Definitions) -> None:
    spec = defs.resolve_assets_def(AssetKey(["raw", "orders"]))
    assert spec.partitions_def.get_first_partition_key() == "2024-01-01"


def test_partitions_start_where_the_landing_data_starts_and_end_today(tmp_path: Path) -> None:
    """Unset, the first partition is the landing folder's first day of any source (today on
    an empty folder); the last is always today, the open day."""
    landing = tmp_path / "landing"
    env = {"LIFECYCLE_LANDING_DIR": str(landing), "LIFECYCLE_TIMEZONE": "Pacific/Auckland"}
    today = shop_today("Pacific/Auckland")

    def keys() -> tuple[str, str]:
        settings = Settings.from_env(env)
        partitions = daily_partitions(first_partition_day(settings), settings.timezone)
        return partitions.get_first_partition_key(), partitions.get_last_partition_key()

    assert keys() == (today.isoformat(), today.isoformat())
    for source, day in (("orders", "2025-03-04"), ("contacts", "2025-02-27"), ("x", "2020-01-01")):
        (landing / source / f"day={day}").mkdir(parents=True)
    (landing / "orders" / "day=2019-13-01").mkdir()  # not a day: never read, never a start
    assert keys() == ("2025-02-27", today.isoformat())
    settings = Settings.from_env({**env, "LIFECYCLE_PARTITIONS_START": "2025-03-01"})
    assert first_partition_day(settings) == dt.date(2025, 3, 1)


def test_workspace_yaml_validates(isolated_env: Path) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful for code location lifecycle-pipeline" in done.stderr + done.stdout


def test_run_date_is_the_runs_last_partition_or_today() -> None:
    today = dt.date(2026, 1, 2)
    assert run_date_for({}, today) == today
    assert run_date_for({"dagster/partition": "2025-03-04"}, today) == dt.date(2025, 3, 4)
    range_tags = {
        "dagster/asset_partition_range_start": "2025-01-01",
        "dagster/asset_partition_range_end": "2025-12-30",
    }
    assert run_date_for(range_tags, today) == dt.date(2025, 12, 30)


def test_dbt_build_args_pass_the_run_date_moment_and_time_zone() -> None:
    later = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    warehouse = DuckDBWarehouse(path="/data/w.duckdb", memory_limit="6GB", threads=2)
    args = dbt_build_args(dt.date(2025, 12, 30), "Europe/Berlin", later, warehouse)
    # dbt's unit tests run once in the test suite (test_dbt_unit_tests.py), not in every run.
    assert args[:4] == ["build", "--exclude-resource-type", "unit_test", "--vars"]
    # A past day is computed as of its end in Berlin (23:00 UTC in winter).
    assert json.loads(args[4]) == {
        "run_date": "2025-12-30",
        "run_at": "2025-12-30 23:00:00",
        "shop_timezone": "Europe/Berlin",
        "warehouse_path": "/data/w.duckdb",
        "duckdb_memory_limit": "6GB",
        "duckdb_threads": 2,
    }
    # Today (not over yet) is computed as of now.
    during = dt.datetime(2025, 12, 30, 9, 15, 7, tzinfo=dt.UTC)
    args = dbt_build_args(dt.date(2025, 12, 30), "Europe/Berlin", during, warehouse)
    assert json.loads(args[4])["run_at"] == "2025-12-30 09:15:07"


def test_dbt_progress_names_each_model_as_dbt_finishes_it() -> None:
    def event(name: str, resource_type: str, status: str = "success") -> dict:
        node = {
            "resource_type": resource_type,
            "materialized": "table",
            "node_status": status,
            "node_relation": {"schema": "marts", "alias": "customer_rfm"},
            "unique_id": f"{resource_type}.lifecycle.customer_rfm",
        }
        return {"info": {"name": name}, "data": {"node_info": node, "execution_time": 3.24}}

    line = progress_line(event("LogModelResult", "model"), 12, 40)
    assert line == "dbt: built marts.customer_rfm (table) in 3.2 s, 12/40"
    failed = progress_line(event("LogModelResult", "model", "error"), 13, 40)
    assert failed is not None and failed.startswith("dbt: error marts.customer_rfm")
    # Tests report through the asset checks; starts and other log lines say nothing.
    assert progress_line(event("LogTestResult", "test"), 1, 40) is None
    assert progress_line(event("LogStartLine", "model"), 1, 40) is None


def test_dbt_folders_become_groups() -> None:
    assert (
        group_for_node({"resource_type": "model", "fqn": ["lifecycle", "staging", "x"]})
        == "staging"
    )
    assert group_for_node({"resource_type": "model", "fqn": ["lifecycle", "marts", "x"]}) == "marts"
    assert (
        group_for_node({"resource_type": "seed", "fqn": ["lifecycle", "rfm_segments"]})
        == "reference"
    )
    readout = {"resource_type": "model", "fqn": ["lifecycle", "marts", "x"], "tags": ["readout"]}
    assert group_for_node(readout) == "measurement"


def test_a_failed_audience_gate_holds_back_only_its_own_publish(defs: Definitions) -> None:
    """A blocking check skips everything downstream of its asset: no publish asset may be
    downstream of another audience than its own (the frequency cap reads them all, yet
    depends only on the models they share)."""
    graph = defs.resolve_asset_graph()
    audiences = {k for k in graph.get_all_asset_keys() if k.path[-1] in AUDIENCES}
    for key in graph.get_all_asset_keys():
        audience = published_audience(key)
        if audience is None:
            continue
        upstream = graph.get_ancestor_asset_keys(key)
        assert {k for k in upstream if k in audiences} == {AssetKey(["audiences", audience])}
    caps = graph.get(AssetKey(["publish", "frequency_caps"]))
    assert AssetKey(["marts", "customer_lifecycle"]) in caps.parent_keys


def test_loading_the_code_location_reads_the_manifest_once(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest is read once and handed to the dbt assets and the audience specs."""
    manifest = str(dbt_project.manifest_path)
    opened: list[str] = []
    real_open = builtins.open

    def counting_open(file, *args, **kwargs):
        if str(file) == manifest:
            opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    reload_definitions()
    assert opened == [manifest]


def test_the_marts_audiences_and_read_outs_say_when_they_are_overdue(defs: Definitions) -> None:
    graph = defs.resolve_asset_graph()
    policies = {
        k.to_user_string(): graph.get(k).freshness_policy for k in graph.get_all_asset_keys()
    }
    for key, group in EXPECTED_GROUPS.items():
        if group in ("marts", "audiences", "measurement"):
            policy = policies[key]
            assert policy is not None, key
            assert policy.fail_window.to_timedelta() == dt.timedelta(hours=30), key
        elif group in ("ingest", "staging", "intermediate"):
            assert policies[key] is None, key


def test_the_catalog_reads_in_words(defs: Definitions) -> None:
    """Summaries carry no raw SQL; every dbt test's check has a short, whole name and says
    what it asserts; a generic test's sentence is made from its own arguments."""
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        description = graph.get(key).description or ""
        assert "Raw SQL" not in description, key
    specs = {
        spec.key.name: spec
        for assets_def in defs.assets
        if isinstance(assets_def, AssetsDefinition)
        for spec in assets_def.check_specs
        if spec.metadata.get("dagster_dbt/unique_id")
    }
    assert len(specs) > 100
    for name, spec in specs.items():
        assert len(name) <= 64, name
        assert spec.description and not spec.description.startswith("dbt test"), name
    assert specs["accepted_values_customer_rfm_recency_score"].description == (
        "`recency_score` is one of: 1, 2, 3, 4, 5 (or null)."
    )
    assert "Can't Lose Them" in specs["accepted_values_customer_rfm_rfm_segment"].description
    assert specs["not_suppressed_aud_vip_email"].description.startswith(
        "No `email` is on the suppression list"
    )
    assert specs["relationships_stg_shopify__order_line_items_order_id"].description == (
        "Every `order_id` is a `order_id` of stg_shopify__orders."
    )
    assert specs["assert_holdout_results_one_row_per_audience_month"].description == (
        "A returned row is an audience and entry month read out more than once."
    )


def test_every_raw_column_is_described(defs: Definitions) -> None:
    """The catalog shows each raw table's columns, typed and described, from its definition
    (not repeated on every partition's event), as the loads create the tables."""
    con = duckdb.connect()
    for spec in SOURCES:
        ensure_raw_tables(con, spec)
    created = con.execute(
        "select table_name, list((column_name, data_type) order by ordinal_position) "
        "from information_schema.columns where table_schema = 'raw' group by 1"
    ).fetchall()
    assert len(created) == 6
    for table, columns in created:
        metadata = (
            defs.resolve_assets_def(AssetKey(["raw", table]))
            .specs_by_key[AssetKey(["raw", table])]
            .metadata
        )
        schema = metadata["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == [tuple(c) for c in columns], table
        assert [c.name for c in schema.columns if not c.description] == [], table


FLOW = ["ingest", "reference", "staging", "intermediate", "predictions", "marts", "audiences",
        "publish", "measurement", "serve"]  # fmt: skip


def test_the_lineage_reads_in_flow_order(defs: Definitions) -> None:
    """No asset depends on one of a later group, so the collapsed lineage is drawn left to
    right as the data flows (the ESP's feedback for tomorrow's suppressions is an input)."""
    graph = defs.resolve_asset_graph()
    group = {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert set(group.values()) == set(FLOW)
    backwards = [
        f"{parent.to_user_string()} ({group[parent]}) -> {key.to_user_string()} ({group[key]})"
        for key in group
        for parent in graph.get(key).parent_keys
        if FLOW.index(group[parent]) > FLOW.index(group[key])
    ]
    assert backwards == []
