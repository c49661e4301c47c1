"""The sensors: a day's landing files start its run once, and a failed run is told, to a file,
a webhook and Slack (real HTTP servers standing in for both)."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from dagster import (
    DagsterInstance,
    asset,
    build_run_status_sensor_context,
    build_sensor_context,
    define_asset_job,
    materialize,
)

from orchestration.resources.alerts import AlertSinks
from orchestration.resources.landing import LandingZone
from orchestration.sensors import build_failure_sensor, build_landing_sensor
from orchestration.shop_time import shop_today


@asset
def failing_step() -> None:
    raise RuntimeError("the ESP refused ann.smith@example.com: list not found")


FAILING_JOB = define_asset_job("daily_refresh", selection=[failing_step])


def _land(root: Path, day: dt.date, source: str, age_seconds: float, text: str = "{}\n") -> Path:
    folder = root / source / f"day={day}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source}_000.jsonl"
    path.write_text(text)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def _evaluate(sensor, landing: Path, cursor: str | None):
    context = build_sensor_context(
        cursor=cursor, resources={"landing": LandingZone(root=str(landing))}
    )
    return sensor(context)


def test_a_day_whose_files_arrived_runs_once_and_again_when_landed_again(tmp_path: Path) -> None:
    yesterday = shop_today("UTC") - dt.timedelta(days=1)
    before, old = yesterday - dt.timedelta(days=1), yesterday - dt.timedelta(days=30)
    sensor = build_landing_sensor(FAILING_JOB, "UTC", old, lookback_days=7, settle_seconds=60)
    _land(tmp_path, yesterday, "orders", age_seconds=600)
    _land(tmp_path, before, "email_events", age_seconds=600)
    _land(tmp_path, old, "orders", age_seconds=600)  # beyond the lookback: never looked at
    _land(tmp_path, shop_today("UTC"), "orders", age_seconds=600)  # today: the cart job's

    first = _evaluate(sensor, tmp_path, None)
    assert [r.partition_key for r in first.run_requests] == [
        before.isoformat(),
        yesterday.isoformat(),
    ]
    assert len({r.run_key for r in first.run_requests}) == 2

    again = _evaluate(sensor, tmp_path, first.cursor)
    assert again.run_requests == [] and again.skip_reason.skip_message == "nothing new"

    # Yesterday is landed again: a new file, still being written (fresh), then settled.
    late = _land(tmp_path, yesterday, "email_events", age_seconds=0)
    waiting = _evaluate(sensor, tmp_path, again.cursor)
    assert waiting.run_requests == []
    assert waiting.skip_reason.skip_message == f"still arriving: {yesterday}"
    settled = time.time() - 600
    os.utime(late, (settled, settled))
    relanded = _evaluate(sensor, tmp_path, waiting.cursor)
    assert [r.partition_key for r in relanded.run_requests] == [yesterday.isoformat()]
    assert relanded.run_requests[0].run_key not in {r.run_key for r in first.run_requests}


def _fail_and_alert(alerts: AlertSinks):
    """A run of FAILING_JOB's step that fails, then the failure sensor evaluated on it."""
    with DagsterInstance.ephemeral() as instance:
        result = materialize([failing_step], instance=instance, raise_on_error=False)
        assert not result.success
        context = build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
            resources={"alerts": alerts},
        ).for_run_failure()
        build_failure_sensor([FAILING_JOB])(context)
    return result


class _Recorder(BaseHTTPRequestHandler):
    """A webhook receiver and Slack's chat.postMessage, recording what they are sent."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers.get("Authorization", ""), body))
        reply = (
            {"ok": True, "channel": "C1", "ts": "1.0"} if "chat.postMessage" in self.path else {}
        )
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_failed_run_is_recorded_and_posted_without_the_address(tmp_path: Path, receiver: str):
    alerts = AlertSinks(
        path=str(tmp_path / "alerts.jsonl"),
        webhook_url=f"{receiver}/hooks/lifecycle",
        slack_token="xoxb-test-token",
        slack_channel="#lifecycle-alerts",
        slack_base_url=f"{receiver}/api/",
    )
    result = _fail_and_alert(alerts)

    [line] = (tmp_path / "alerts.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["run_id"] == result.run_id
    assert record["failed_steps"] == ["failing_step"]
    assert record["error"] == "RuntimeError: the ESP refused a***@example.com: list not found"
    assert "ann.smith" not in line
    posted = {path: (auth, json.loads(body) if path.startswith("/hooks") else body.decode())
              for path, auth, body in _Recorder.received}  # fmt: skip
    _, hook = posted["/hooks/lifecycle"]
    assert hook["text"] == record["text"] and hook["run_id"] == result.run_id
    auth, slack = posted["/api/chat.postMessage"]
    assert auth == "Bearer xoxb-test-token"
    assert "lifecycle-alerts" in slack and "ann.smith" not in slack


def test_an_alert_is_recorded_when_the_webhook_is_down(tmp_path: Path) -> None:
    alerts = AlertSinks(path=str(tmp_path / "alerts.jsonl"), webhook_url="http://127.0.0.1:9/x")
    result = _fail_and_alert(alerts)
    assert json.loads((tmp_path / "alerts.jsonl").read_text())["run_id"] == result.run_id
