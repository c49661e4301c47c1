"""The sync engine on a real DuckDB file and the outbox on disk: diffs, state, crashes, bounds."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.publish.adapters import OutboxAdapter
from orchestration.publish.caps import CAPPED_TABLE, compute_caps
from orchestration.publish.engine import CircuitBreakerOpen, SyncSettings, sync_audience
from orchestration.publish.entries import record_entries
from tests.audience_tables import AUDIENCE, GROUP, make_people, make_warehouse


def _sync(path: Path, outbox: Path, run_id: str, audience: str = AUDIENCE, **options) -> object:
    adapter = OutboxAdapter(outbox, max_batch=options.pop("max_batch", 40))
    with duckdb.connect(str(path)) as con:
        return sync_audience(
            con,
            audience,
            adapter,
            run_id,
            SyncSettings(
                **{
                    "list_name": "Test list",
                    "asm_group_id": GROUP,
                    "max_change_share": 0.5,
                    "min_change_rows": 100,
                    **options,
                }
            ),
        )


def _state(path: Path, audience: str = AUDIENCE) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select email from publish.member_state where audience = ?", [audience]
        ).fetchall()
    return {e for (e,) in rows}


def _outbox_rows(outbox: Path, action: str) -> list[str]:
    emails = []
    for path in sorted(outbox.rglob(f"{action}s-*.csv")):
        with path.open() as handle:
            emails += [row["email"] for row in csv.DictReader(handle)]
    return emails


def _expected(members: list[dict], suppressed: list[tuple]) -> set[str]:
    blocked = {e for e, _, group in suppressed if group in (None, GROUP)}
    return {m["email"] for m in members if not m["holdout"] and m["email"] not in blocked}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path, make_people(100), [("p3@example.com", "hard_bounced", None)])
    return path


def test_first_sync_publishes_everyone_but_the_holdout_and_the_suppressed(
    warehouse: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    report = _sync(warehouse, outbox, "run-1")
    expected = _expected(make_people(100), [("p3@example.com", "hard_bounced", None)])
    assert report.adds == len(expected) == 89 and report.batches == 3  # batches of 40
    assert _state(warehouse) == expected
    assert sorted(_outbox_rows(outbox, "add")) == sorted(expected)
    manifest = json.loads((outbox / AUDIENCE / "run-1" / "manifest.json").read_text())
    assert manifest["adds"] == 89 and "adds-00001.json" in manifest["files"]
    document = json.loads((outbox / AUDIENCE / "run-1" / "adds-00001.json").read_text())
    assert document["list"] == "Test list" and document["members"][0]["first_name"] == "Ann"


def test_a_second_sync_sends_only_the_difference(warehouse: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    _sync(warehouse, outbox, "run-1")
    again = _sync(warehouse, outbox, "run-2")
    assert (again.adds, again.removes, again.updates, again.batches) == (0, 0, 0, 0)
    assert not (outbox / AUDIENCE / "run-2").exists()
    # Five leave, five join, one changes its name, one unsubscribes from the group.
    members = make_people(95, start=5) + make_people(5, start=200)
    members[10]["first_name"] = "Renamed"
    suppressed = [("p3@example.com", "hard_bounced", None), ("p21@example.com", "x", GROUP)]
    make_warehouse(warehouse, members, suppressed)
    third = _sync(warehouse, outbox, "run-3")
    assert _state(warehouse) == _expected(members, suppressed)
    assert (third.adds, third.updates) == (4, 1)  # p200 is in the holdout
    assert set(_outbox_rows(outbox / AUDIENCE / "run-3", "remove")) == {
        "p1@example.com", "p2@example.com", "p4@example.com", "p21@example.com"
    }  # fmt: skip


def test_the_circuit_breaker_refuses_a_large_change_unless_forced(
    warehouse: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    _sync(warehouse, outbox, "run-1")
    before = _state(warehouse)
    make_warehouse(warehouse, make_people(30), [])
    with pytest.raises(
        CircuitBreakerOpen,
        match=r"1 adds and 63 removes would change 72% of the 89 members .* allows 50% .* once 10",
    ):
        _sync(warehouse, outbox, "run-2", max_change_share=0.5, min_change_rows=10)
    assert _state(warehouse) == before
    assert not (outbox / AUDIENCE / "run-2").exists()
    forced = _sync(warehouse, outbox, "run-3", max_change_share=0.5, min_change_rows=10, force=True)
    assert forced.removes > 50 and _state(warehouse) == _expected(make_people(30), [])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        refused = con.execute("select refused from publish.sync_log where run_id = 'run-2'")
        assert "Nothing was sent" in refused.fetchall()[0][0]


def test_a_dry_run_counts_and_sends_nothing(warehouse: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    report = _sync(warehouse, outbox, "run-1", dry_run=True)
    assert report.adds == 89 and report.batches == 0
    assert _state(warehouse) == set() and not outbox.exists()


CRASHING_SYNC = """
import os, sys
from pathlib import Path
import duckdb
from orchestration.publish.adapters import OutboxAdapter
from orchestration.publish.caps import CAPPED_TABLE, compute_caps
from orchestration.publish.engine import SyncSettings, sync_audience

class CrashingOutbox(OutboxAdapter):
    sent = 0
    def send(self, batch):
        result = super().send(batch)  # the files are written ...
        type(self).sent += 1
        if type(self).sent == 2:
            os._exit(9)  # ... and the process dies before the engine records it
        return result

con = duckdb.connect(sys.argv[1])
sync_audience(con, "aud_test", CrashingOutbox(Path(sys.argv[2]), max_batch=20), "run-1",
              SyncSettings(list_name="Test list", asm_group_id=102, max_change_share=0.5,
                           min_change_rows=100))
"""


def test_a_crash_between_batches_resumes_with_nothing_lost_or_sent_twice(
    warehouse: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASHING_SYNC))
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, str(script), str(warehouse), str(outbox)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 9, done.stderr
    assert len(_state(warehouse)) == 20  # the first batch was confirmed, the second was not
    resumed = _sync(warehouse, outbox, "run-2", max_batch=20)
    assert resumed.resumed_batches == 4  # the one in flight and the three never sent
    expected = _expected(make_people(100), [("p3@example.com", "hard_bounced", None)])
    assert _state(warehouse) == expected
    adds = _outbox_rows(outbox, "add")
    assert sorted(adds) == sorted(expected), "each member sent exactly once"
    assert (outbox / AUDIENCE / "run-1" / "manifest.json").exists()
    assert _sync(warehouse, outbox, "run-3").batches == 0


emails = st.integers(min_value=0, max_value=60).map(lambda i: f"c{i}@example.com")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(st.tuples(emails, st.booleans()), max_size=60, unique_by=lambda r: r[0]),
    suppressed=st.lists(
        st.tuples(
            emails,
            st.sampled_from(["hard_bounced", "unsubscribed"]),
            st.sampled_from([None, GROUP, 101]),
        ),
        max_size=30,
    ),
)
def test_no_suppressed_contact_is_ever_published(
    rows: list[tuple[str, bool]], suppressed: list[tuple], tmp_path_factory
) -> None:
    """Whatever the audience SQL returns, the suppression list wins at publish time."""
    folder = tmp_path_factory.mktemp("prop")
    path, outbox = folder / "warehouse.duckdb", folder / "outbox"
    members = [{"email": e, "holdout": h} for e, h in rows]
    make_warehouse(path, members, suppressed)
    _sync(path, outbox, "run-1", max_batch=7)
    blocked = {e for e, _, group in suppressed if group in (None, GROUP)}
    published = set(_outbox_rows(outbox, "add"))
    assert not published & blocked
    assert not published & {m["email"] for m in members if m["holdout"]}
    assert published == _state(path) == _expected(members, suppressed)


def test_the_frequency_cap_keeps_the_highest_priority_and_limits_entries(tmp_path: Path) -> None:
    path, outbox = tmp_path / "warehouse.duckdb", tmp_path / "outbox"
    both = [{"email": f"p{i}@example.com", "holdout": False} for i in range(20)]
    only_low = [{"email": f"p{i}@example.com", "holdout": False} for i in range(20, 30)]
    make_warehouse(path, both, [], audience="aud_high")
    make_warehouse(path, both + only_low, [], audience="aud_low")
    priorities = [("aud_high", 90), ("aud_low", 10)]
    # An audience left out of the cap (a cart step) was published first: its entries do not
    # count in anyone's window, so a dry run, which sends it nothing, plans the same.
    make_warehouse(path, only_low, [], audience="aud_cart")
    _sync(path, outbox, "cart-1", audience="aud_cart")

    def publish_day(run: str) -> dict[str, int]:
        with duckdb.connect(str(path)) as con:
            end = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # the end of "today"
            lost = compute_caps(
                con, priorities, "outbox", cap=1, window_days=7, window_end=end, run_date=end.date()
            )
        for audience, _ in priorities:
            _sync(path, outbox, run, audience=audience, capped_table=CAPPED_TABLE)
        return lost

    def reasons() -> dict[str, str]:
        with duckdb.connect(str(path), read_only=True) as con:
            sql = "select email, reason from publish.capped_members where audience = 'aud_low'"
            return dict(con.execute(sql).fetchall())

    assert publish_day("day-1") == {"aud_low": 20}
    assert reasons()["p5@example.com"].startswith("in 2 audiences today; the cap keeps the 1")
    assert _state(path, "aud_high") == {m["email"] for m in both}
    assert _state(path, "aud_low") == {m["email"] for m in only_low}
    # Ten leave the high-priority audience; they entered it today, so the window keeps them
    # out of the low one for now.
    make_warehouse(path, both[10:], [], audience="aud_high")
    assert publish_day("day-2") == {"aud_low": 20}
    assert _state(path, "aud_low") == {m["email"] for m in only_low}
    assert reasons()["p0@example.com"] == "entered 1 other audiences in the last 7 days"
    # The same day again sends nothing: the ten who left still entered the high one in the
    # window (read from the history of adds, not from today's memberships).
    assert publish_day("day-2-again") == {"aud_low": 20}
    with duckdb.connect(str(path), read_only=True) as con:
        sent = con.execute("select count(*) from publish.batches where plan_id = 'day-2-again'")
        assert sent.fetchall() == [(0,)]


def test_audience_spells_open_and_close_forward_only(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path, make_people(10), [])
    with duckdb.connect(str(path)) as con:
        record_entries(con, [AUDIENCE], dt.date(2025, 1, 1))
    make_warehouse(path, make_people(8, start=2), [])
    with duckdb.connect(str(path)) as con:
        assert record_entries(con, [AUDIENCE], dt.date(2025, 1, 2)) == {AUDIENCE: (0, 2)}
        # A backfill of an earlier day leaves the spells as they are.
        assert record_entries(con, [AUDIENCE], dt.date(2024, 12, 31)) == {AUDIENCE: (0, 0)}
        left = con.execute(
            "select email, left_on from publish.audience_entries where left_on is not null"
        ).fetchall()
    assert sorted(left) == [
        ("p0@example.com", dt.date(2025, 1, 2)),
        ("p1@example.com", dt.date(2025, 1, 2)),
    ]
