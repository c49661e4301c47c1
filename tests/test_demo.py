"""`lifecycle demo` as a user runs it, then its records in the Dagster UI, in a real browser.

One demo run for the module (a small shop: 120 customers, 7 days ending yesterday): the
command's own output and records are checked first, then the webserver is started on those
records and Debian's Chromium, driven by Playwright, reads the pages a user would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster_graphql.test.utils import execute_dagster_graphql
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.shop_time import shop_today

pytestmark = pytest.mark.slow

DAYS = 7


@dataclass
class Demo:
    done: subprocess.CompletedProcess
    settings: Settings
    sample: dict
    today: dt.date


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIFECYCLE_DATA_DIR", str(root / "data"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        for name in (
            "LIFECYCLE_LANDING_DIR",
            "LIFECYCLE_WAREHOUSE_PATH",
            "LIFECYCLE_TIMEZONE",
            "LIFECYCLE_OUTBOX_DIR",
            "LIFECYCLE_PARTITIONS_START",  # the default: the landing folder's first day
        ):
            mp.delenv(name, raising=False)
        cli = Path(sys.executable).with_name("lifecycle")
        done = subprocess.run(
            [str(cli), "demo", "--customers", "120", "--days", str(DAYS)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        settings = Settings.from_env()
        sample = json.loads((settings.landing_dir / "_sample_shop.json").read_text())
        yield Demo(done, settings, sample, shop_today(settings.timezone))


def _count(path: Path, table: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


def test_the_main_command_runs_end_to_end(demo: Demo) -> None:
    """Sample generated (ending yesterday), whole graph materialized, progress shown; the
    UI's API lists the run under its job and no missing partition but today's."""
    out = demo.done.stdout + demo.done.stderr
    assert re.search(r"daily_refresh \S+ succeeded in \d+ min \d+ s", demo.done.stdout)
    assert "http://localhost:3000/runs/" in demo.done.stdout  # where to see it
    assert "loading the code location's definitions" in demo.done.stdout
    assert "dbt: built marts.customer_rfm" in out  # each model, as it is built
    assert "\x1b[" not in out  # no colour codes off a terminal
    assert demo.sample["last_day"] == (demo.today - dt.timedelta(days=1)).isoformat()
    for table in ("orders", "order_line_items", "checkouts", "email_events", "contacts"):
        assert _count(demo.settings.warehouse_path, table) > 0, table
    with DagsterInstance.get() as instance:
        records = instance.fetch_materializations(AssetKey(["raw", "contacts"]), limit=100)
        assert len(records.records) == DAYS
        # The run belongs to the code location, as the UI's own do: the daily_refresh job's
        # Runs tab lists it, and it ran the job's current version (no warning to re-execute).
        [run] = instance.get_runs()
        target = WorkspaceFileTarget(paths=[str(PROJECT_ROOT / "workspace.yaml")])
        with WorkspaceProcessContext(instance, target) as workspace:
            answer = execute_dagster_graphql(
                workspace.create_request_context(),
                JOB_RUNS,
                {"job": {"repositoryLocationName": "lifecycle-pipeline",
                         "repositoryName": "__repository__", "pipelineName": "daily_refresh"}},
            )  # fmt: skip
            stats = {
                key: execute_dagster_graphql(
                    workspace.create_request_context(),
                    PARTITION_STATS,
                    {"key": {"path": list(key)}},
                ).data["assetNodeOrError"]
                for key in (("raw", "orders"), ("raw", "contacts"), ("raw", "email_events"))
            }
    for key, node in stats.items():
        assert node["partitionKeys"][0] == demo.sample["first_day"], key
        assert node["partitionKeys"][-1] == demo.today.isoformat(), key
        counts = node["partitionStats"]
        assert counts["numPartitions"] == DAYS + 1 and counts["numFailed"] == 0, (key, counts)
        assert counts["numMaterialized"] == DAYS, (key, counts)  # all but today, the open day
    assert answer.errors is None, answer.errors
    job = answer.data["pipelineOrError"]
    assert [r["runId"] for r in job["runs"]] == [run.run_id]
    assert job["runs"][0]["status"] == "SUCCESS"
    assert job["runs"][0]["pipelineSnapshotId"] == job["pipelineSnapshotId"]


PARTITION_STATS = """
query ($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      partitionKeys
      partitionStats { numMaterialized numPartitions numFailed }
    }
  }
}
"""

JOB_RUNS = """
query ($job: PipelineSelector!) {
  pipelineOrError(params: $job) {
    ... on Pipeline { pipelineSnapshotId runs { runId status pipelineSnapshotId } }
  }
}
"""


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, in a closed network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
FLOW_GROUPS = ["ingest", "staging", "intermediate", "marts", "audiences", "publish",
               "measurement", "serve"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(demo: Demo) -> Iterator[str]:
    """The Dagster webserver over the demo's records, on a loopback port."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                assert server.poll() is None, "the webserver exited"
                assert time.monotonic() < deadline, "the webserver did not answer in 120 s"
                time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed; .ci/run installs it")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)  # the first page waits for the code location to load
    page.goto(url)
    skip = page.get_by_role("button", name="Skip")  # the UI's one-time newsletter prompt
    with contextlib.suppress(PlaywrightTimeout):
        skip.click(timeout=5_000)
    return page


def test_the_ui_shows_the_demo_in_a_real_browser(demo: Demo, webserver: str, browser) -> None:
    """What a user looks at after the demo: the lineage with every group, the gates passed,
    the run under its job."""
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    page = _open(browser, f"{webserver}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    for group in FLOW_GROUPS:  # in the tree of groups and as a node of the graph
        expect(page.get_by_text(group, exact=True).filter(visible=True)).to_have_count(2)

    page.goto(f"{webserver}/assets/raw/orders?view=checks")
    page.get_by_text("quality_gate", exact=True).first.click()
    expect(page.get_by_text("This is a blocking asset check.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^raw\.orders .*: every rule passed\.$"))).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()

    page.goto(f"{webserver}/assets/audiences/aud_vip?view=checks")
    page.get_by_text("audience_gate", exact=True).first.click()
    last_day = demo.sample["last_day"]
    expect(page.get_by_text(f"audiences.aud_vip {last_day}: every rule passed.")).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()

    with DagsterInstance.get() as instance:
        [run] = instance.get_runs()
    page.goto(f"{webserver}/locations/lifecycle-pipeline/jobs/daily_refresh/runs")
    expect(page.get_by_text(run.run_id[:8], exact=True)).to_be_visible()
    expect(page.get_by_text("Success", exact=True)).to_be_visible()
    page.close()


def test_the_report_renders_its_charts_offline(demo: Demo, browser) -> None:
    """The marketer's page from a file, with no network: every section and its chart drawn,
    nothing logged as an error."""
    from playwright.sync_api import expect

    report = demo.settings.reports_dir / f"report_{demo.sample['last_day']}.html"
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline
    page.goto(report.as_uri())
    for heading in ("RFM segments", "Lifecycle stages", "Monthly retention", "Cohort retention",
                    "Churn probability", "Audience funnels", "Holdout read-out"):  # fmt: skip
        expect(page.get_by_role("heading", name=re.compile(heading))).to_be_visible()
    charts = page.locator("svg")  # segments, stages, retention (no churn fit on a small shop)
    assert charts.count() >= 3
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 20, i
        assert charts.nth(i).locator("rect, polyline, path, circle").count() > 0, i
    assert errors == []
    page.close()
