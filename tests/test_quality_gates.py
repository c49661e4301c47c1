"""The bad-input catalogue: each kind of bad landing file, run through the real pipeline.

Every case starts from a copy of the session's shared run (the small shop up to BASE_END).
Bad rows a day can take within its tolerance are landed together in one run of the next day
(each on a row of its own); every input that stops a day gets a run of its own. Each case
asserts the outcome (rows quarantined, the gate failing with its message, or the file
refused), that nothing downstream was built from the bad data, that earlier data is unchanged,
and that loading the day again once the files are fixed passes its gates and releases it.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

from orchestration.ingest.consent import opt_outs_sql
from orchestration.sample import SampleParams, generate_sample_shop
from tests.conftest import BASE_END, BaseRun, point_settings_at
from tests.consent_cases import event
from tests.runs import (
    built,
    evaluations,
    range_tags,
    reload_definitions,
    run_day,
    run_ingest,
)

GOOD_END = BASE_END
BAD_DAY = GOOD_END + dt.timedelta(days=1)
NEXT_DAY = BAD_DAY + dt.timedelta(days=1)
# An address with more of its local part than the one letter masking keeps.
FULL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]{2,}@")


@dataclass
class Pipeline:
    """A private copy of the good state, and runs of the real job against it."""

    data: Path
    definitions: object

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    def day_file(self, source: str, day: dt.date = BAD_DAY) -> Path:
        files = sorted((self.data / "landing" / source / f"day={day}").iterdir())
        assert files, f"the small shop has no {source} file on {day}"
        return files[0]

    def run(self, day: dt.date):
        job = self.definitions.defs.resolve_job_def("daily_refresh")
        with DagsterInstance.ephemeral() as instance:
            return job.execute_in_process(
                instance=instance, partition_key=day.isoformat(), raise_on_error=False
            )

    def models(self, day: dt.date, upstream_of: AssetKey | None = None):
        """The day's run up to the models (no publishing), or only what `upstream_of` needs:
        what a test of quarantine and holds looks at."""
        with DagsterInstance.ephemeral() as instance:
            return run_day(self.definitions, instance, day, publish=False, upstream_of=upstream_of)

    def ingest(self, day: dt.date):
        """The day's ingest assets and their gates only (a fixed file loaded again)."""
        with DagsterInstance.ephemeral() as instance:
            return run_ingest(self.definitions, instance, day, day)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def snapshot(self) -> dict[str, list[tuple]]:
        """Everything that must not change when a bad day is refused."""
        tables = ["raw.orders", "raw.email_events", "raw.checkouts", "raw.contacts"]
        state = {
            t: self.query(
                f"select * exclude (_loaded_at) from {t} where _partition_date <= ? order by all",
                [GOOD_END],
            )
            for t in tables
        }
        for mart in ("marts.customer_rfm", "marts.customer_lifecycle", "marts.suppressions"):
            state[mart] = self.query(f"select * from {mart} order by all")
        return state


@pytest.fixture
def pipeline(base_run: BaseRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    data = base_run.copy(tmp_path)
    point_settings_at(monkeypatch, data)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return Pipeline(data=data, definitions=reload_definitions())


def downstream_of_gates(result) -> set[str]:
    """What a run built past its raw tables, besides the suppression-only sync (which waits
    for no gate, on purpose: an opt-out is honoured whatever failed)."""
    return {k for k in built(result) if k.split("/")[0] != "raw"} - {"publish/opt_out_removals"}


# --- damaging a landing file --------------------------------------------------------------


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_lines(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _edit_row(path: Path, row: int, change: Callable[[dict], None], key: str = "id") -> str:
    """Change the `row`-th row whose key is alone in the file (no other version of it lands
    that day); returns the key for later lookups."""
    rows = _json_lines(path)
    copies = collections.Counter(r[key] for r in rows)
    target = [r for r in rows if copies[r[key]] == 1][row]
    change(target)
    _write_lines(path, rows)
    return str(target[key])


# Rows a day can lose to quarantine while its gate passes: each damages another row, so that
# all of them go through one run together (as bad rows arrive in real exports).
def duplicate_order_with_another_amount(p: Pipeline) -> str:
    path = p.day_file("orders")
    rows = _json_lines(path)
    twin = {**rows[0], "total_price": "999.99"}
    _write_lines(path, [*rows, twin])
    return str(rows[0]["id"])


def negative_total(p: Pipeline) -> str:
    return _edit_row(p.day_file("orders"), 1, lambda r: r.update(total_price="-12.50"))


def unknown_currency(p: Pipeline) -> str:
    return _edit_row(p.day_file("orders"), 2, lambda r: r.update(currency="XAU"))


def future_timestamp(p: Pipeline) -> str:
    change = {"created_at": "2099-01-01T00:00:00+00:00"}
    return _edit_row(p.day_file("checkouts"), 0, lambda r: r.update(change), key="token")


def null_email(p: Pipeline) -> str:
    change = {"email": None}
    return _edit_row(p.day_file("email_events"), 0, lambda r: r.update(change), "sg_event_id")


def unknown_event_type(p: Pipeline) -> str:
    change = {"event": "opened"}
    return _edit_row(p.day_file("email_events"), 1, lambda r: r.update(change), "sg_event_id")


def _edit_contacts(p: Pipeline, change: Callable[[list[dict], list[str]], list[str]]) -> None:
    path = p.day_file("contacts")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows, columns = list(reader), list(reader.fieldnames or [])
    columns = change(rows, columns)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def malformed_email(p: Pipeline) -> str:
    def change(rows: list[dict], columns: list[str]) -> list[str]:
        rows[1]["email"] = "jane.doe at mail"
        return columns

    _edit_contacts(p, change)
    return "jane.doe at mail"


def extra_csv_column(p: Pipeline) -> None:
    def change(rows: list[dict], columns: list[str]) -> list[str]:
        for row in rows:
            row["phone"] = "555-0100"
        return [*columns, "phone"]

    _edit_contacts(p, change)


def missing_csv_column(p: Pipeline) -> None:
    path = p.day_file("contacts")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c != "email"]
    path.write_text("".join(",".join(line.split(",")[i] for i in keep) + "\n" for line in lines))


def missing_json_field(p: Pipeline) -> None:
    path = p.day_file("orders")
    rows = _json_lines(path)
    for row in rows:
        del row["total_price"]
    _write_lines(path, rows)


def empty_file(p: Pipeline) -> None:
    p.day_file("orders").write_text("")


# An unsubscribe in a file that is then refused (its last line cut): recorded all the same.
CUT_FILE_LEAVER = "left.in.a.cut.file@example.com"


def truncated_json_line(p: Pipeline) -> None:
    path = p.day_file("email_events")
    at = dt.datetime.combine(BAD_DAY, dt.time(9), tzinfo=dt.UTC)
    leaver = json.dumps(event(CUT_FILE_LEAVER, "unsubscribe", "cut-file-1", at))
    text = leaver + "\n" + path.read_text()
    path.write_text(text[: len(text) - 40])


def non_utf8_bytes(p: Pipeline) -> None:
    path = p.day_file("orders")
    path.write_bytes(path.read_bytes().replace(b'"paid"', b'"pa\xffid"', 1))


def ten_times_the_volume(p: Pipeline) -> None:
    path = p.day_file("orders")
    rows = _json_lines(path)
    copies = [{**r, "id": r["id"] + 10**9 * k} for k in range(1, 10) for r in rows]
    _write_lines(path, rows + copies)


def unknown_financial_status(p: Pipeline) -> None:
    """A payment app that renamed its statuses: every order of the day is quarantined."""
    path = p.day_file("orders")
    _write_lines(path, [{**row, "financial_status": "settled"} for row in _json_lines(path)])


def a_third_of_rows_malformed(p: Pipeline) -> None:
    path = p.day_file("orders")
    rows = _json_lines(path)
    for row in rows[::3]:
        row["email"] = row["customer"]["email"] = "nobody-at-all"
    _write_lines(path, rows)


# --- the catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    source: str
    rule: str


@dataclass(frozen=True)
class GateFails:
    table: str
    message: str  # regex over the failed check's description


@dataclass(frozen=True)
class Refused:
    table: str
    message: str  # regex over the ingest step's error


@dataclass(frozen=True)
class Warned:
    table: str
    message: str


# Bad rows a day takes within its tolerance: quarantined (or, for the CSV column, a warning),
# the day goes on. They all land in one run, as in a real export.
WITHIN_TOLERANCE = {
    "duplicate order id, other amount": (
        duplicate_order_with_another_amount,
        Quarantined("orders", "conflicting_duplicate"),
    ),
    "negative total": (negative_total, Quarantined("orders", "negative_amount")),
    "unknown currency": (unknown_currency, Quarantined("orders", "unknown_currency")),
    "future timestamp": (future_timestamp, Quarantined("checkouts", "future_timestamp")),
    "null email": (null_email, Quarantined("email_events", "missing_email")),
    "unknown event type": (unknown_event_type, Quarantined("email_events", "unknown_event_type")),
    "malformed email": (malformed_email, Quarantined("contacts", "malformed_email")),
    "unexpected extra column": (extra_csv_column, Warned("contacts", r"not loaded: .*phone")),
}
# Bad input that stops the day: each in a run of its own.
STOPS_THE_DAY = {
    "missing CSV column": (missing_csv_column, Refused("contacts", r"missing column\(s\) email")),
    "missing JSON field": (
        missing_json_field,
        GateFails("orders", r"rows \(100\.0%\) quarantined \(missing_amount"),
    ),
    "empty file": (empty_file, GateFails("orders", r"0 rows, less than 0\.1 x the median")),
    "truncated JSON line": (truncated_json_line, Refused("email_events", r"malformed JSON")),
    "non-UTF-8 bytes": (non_utf8_bytes, Refused("orders", r"not UTF-8 \(byte 0xff")),
    "10x the usual volume": (
        ten_times_the_volume,
        GateFails("orders", r"more than 3 x the busiest of the 14 days before"),
    ),
    "unknown financial status": (
        unknown_financial_status,
        GateFails("orders", r"rows \(100\.0%\) quarantined \(unknown_financial_status"),
    ),
    "a third of rows malformed": (
        a_third_of_rows_malformed,
        GateFails("orders", r"quarantined \(malformed_email \d+\); the tolerance is 1\.0%"),
    ),
}
KEY_COLUMNS = {
    "orders": "id::varchar",
    "checkouts": "token",
    "email_events": "sg_event_id",
    "contacts": "email",
}


@dataclass
class Landed:
    """One run of the day with every within-tolerance damage, then one after the fix."""

    pipeline: Pipeline
    keys: dict[str, str | None]
    result: object
    quarantined: dict[str, list[tuple]]  # kind -> (rule, reason, source file) of its key
    leaked: dict[str, int]  # kind -> rows of its key in raw on the bad day
    fixed: object


@pytest.fixture(scope="module")
def landed(base_run: BaseRun, tmp_path_factory: pytest.TempPathFactory) -> Landed:
    data = base_run.copy(tmp_path_factory.mktemp("within"))
    with pytest.MonkeyPatch.context() as mp:
        point_settings_at(mp, data)
        p = Pipeline(data=data, definitions=reload_definitions())
        original = {f: f.read_bytes() for f in (data / "landing").rglob(f"day={BAD_DAY}/*")}
        keys = {kind: damage(p) for kind, (damage, _) in WITHIN_TOLERANCE.items()}
        result = p.models(BAD_DAY)
        quarantined, leaked = {}, {}
        for kind, (_, outcome) in WITHIN_TOLERANCE.items():
            if not isinstance(outcome, Quarantined):
                continue
            quarantined[kind] = p.query(
                f"select rule, reason, _source_file from quarantine.{outcome.source} "
                "where _partition_date = ? and record_key = ? and released_at is null",
                [BAD_DAY, keys[kind]],
            )
            leaked[kind] = p.query(
                f"select count(*) from raw.{outcome.source} "
                f"where {KEY_COLUMNS[outcome.source]} = ? and _partition_date = ?",
                [keys[kind], BAD_DAY],
            )[0][0]
        for path, content in original.items():
            path.write_bytes(content)
        fixed = p.ingest(BAD_DAY)
        return Landed(p, keys, result, quarantined, leaked, fixed)


@pytest.mark.parametrize("kind", list(WITHIN_TOLERANCE))
def test_bad_rows_within_tolerance(kind: str, landed: Landed) -> None:
    _, outcome = WITHIN_TOLERANCE[kind]
    assert landed.result.success
    assert "marts/customer_rfm" in built(landed.result)
    checks = evaluations(landed.result)
    if isinstance(outcome, Quarantined):
        check = checks[outcome.source]  # passed, or only warned (the contacts' extra column)
        assert check.passed or check.severity.value == "WARN"
        rules = landed.quarantined[kind]
        assert {r[0] for r in rules} == {outcome.rule}
        assert all(r[1] and r[2].startswith(f"{outcome.source}/day={BAD_DAY}/") for r in rules)
        assert landed.leaked[kind] == 0, "the bad row reached raw"
        # The fixed file released the quarantined rows.
        still_open = landed.pipeline.query(
            f"select count(*) from quarantine.{outcome.source} "
            "where record_key = ? and released_at is null",
            [landed.keys[kind]],
        )
        assert still_open == [(0,)]
    else:
        check = checks[outcome.table]
        assert not check.passed and check.severity.value == "WARN"
        assert check.metadata["failed_rules"].value == 1
        assert re.search(outcome.message, check.description), check.description
    # Loaded again once fixed, the day passes its gates and nothing of it stays held.
    assert landed.fixed.success
    assert all(c.passed for c in evaluations(landed.fixed).values())
    assert landed.pipeline.query("select count(*) from quality.held_partitions") == [(0,)]


def _opt_outs_in(path: Path) -> set[str]:
    """The addresses of the unsubscribes, complaints and hard bounces in the lines of a JSON
    events file that parse (read with json, not with the loader)."""
    found = set()
    for line in path.read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        kind = str(e.get("event", "")).strip().lower()
        hard = kind == "bounce" and str(e.get("type", "")).strip().lower() == "bounce"
        if kind in ("unsubscribe", "group_unsubscribe", "spamreport") or hard:
            found.add(str(e["email"]).strip().lower())
    return found


def opt_outs_sql_of(pipeline: Pipeline) -> str:
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as con:
        return opt_outs_sql(con)


@pytest.mark.parametrize("kind", list(STOPS_THE_DAY))
def test_bad_input_that_stops_the_day(kind: str, pipeline: Pipeline) -> None:
    damage, outcome = STOPS_THE_DAY[kind]
    original = {p: p.read_bytes() for p in (pipeline.data / "landing").rglob(f"day={BAD_DAY}/*")}
    before = pipeline.snapshot()
    damage(pipeline)

    result = pipeline.run(BAD_DAY)
    checks = evaluations(result)
    assert not result.success, kind
    assert downstream_of_gates(result) == set(), "built downstream"
    if isinstance(outcome, GateFails):
        check = checks[outcome.table]
        assert not check.passed and check.severity.value == "ERROR"
        assert re.search(outcome.message, check.description), check.description
        failures = check.metadata["failures"].value
        assert BAD_DAY.isoformat() in failures
        assert not FULL_ADDRESS.search(failures), "an e-mail address in the metadata"
        held = pipeline.query(
            "select partition_date from quality.held_partitions where table_name = ?",
            [outcome.table],
        )
        assert held == [(BAD_DAY,)]
    else:
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        error = failure.step_failure_data.error
        text = str(error.message) + str(error.cause.message if error.cause else "")
        assert re.search(outcome.message, text), text
        assert f"day={BAD_DAY}" in text
        assert outcome.table not in checks, "a refused file is not validated"
        if outcome.table == "email_events":
            # Every opt-out in the readable lines of the refused file, found independently,
            # was recorded before the refusal (the publish side's opt-out list has it).
            landed = _opt_outs_in(pipeline.day_file("email_events"))
            assert CUT_FILE_LEAVER in landed
            recorded = pipeline.query(f"select email from ({opt_outs_sql_of(pipeline)})")
            assert landed <= {r[0] for r in recorded}
    assert pipeline.snapshot() == before, "earlier data changed"

    for path, content in original.items():
        path.write_bytes(content)
    fixed = pipeline.ingest(BAD_DAY)
    assert fixed.success, kind
    assert all(c.passed for c in evaluations(fixed).values())
    assert pipeline.query("select count(*) from quality.held_partitions") == [(0,)]


def test_a_failed_day_is_held_from_later_runs_until_it_passes(pipeline: Pipeline) -> None:
    original = pipeline.day_file("orders").read_bytes()
    a_third_of_rows_malformed(pipeline)
    # On the same day a published contact unsubscribes: the held day must not hold that up.
    [(leaver,)] = pipeline.query(
        "select email from publish.member_state where email not in "
        "(select email from marts.suppressions) order by email limit 1"
    )
    noon = dt.datetime(BAD_DAY.year, BAD_DAY.month, BAD_DAY.day, 12, tzinfo=dt.UTC)
    events = pipeline.day_file("email_events")
    events.write_text(
        events.read_text() + json.dumps(event(leaver, "unsubscribe", "leaver-1", noon)) + "\n"
    )
    held = pipeline.run(BAD_DAY)
    assert not held.success
    # Nothing was built past the failed gate but the suppression-only sync, which took the
    # contact off every list.
    assert downstream_of_gates(held) == set() and "publish/opt_out_removals" in built(held)
    listed = "select count(*) from publish.member_state where email = ?"
    assert pipeline.query(listed, [leaver]) == [(0,)]
    landed_that_day = "select count(*) from staging.stg_shopify__orders where landed_date = ?"
    # The next day passes its gate and is built, but the failed day's rows stay out.
    later = pipeline.models(NEXT_DAY)
    assert later.success
    assert "marts/customer_rfm" in built(later)
    suppressed = "select count(*) from marts.suppressions where email = ? and reason = ?"
    assert pipeline.query(suppressed, [leaver, "unsubscribed"]) == [(1,)]
    assert pipeline.query(landed_that_day, [BAD_DAY]) == [(0,)]
    assert (
        pipeline.query("select count(*) from raw.orders where _partition_date = ?", [BAD_DAY])[0][0]
        > 0
    ), "the good rows of the failed day are kept in raw"
    pipeline.day_file("orders").write_bytes(original)
    assert pipeline.ingest(BAD_DAY).success
    staging = AssetKey(["staging", "stg_shopify__orders"])
    assert pipeline.models(NEXT_DAY, upstream_of=staging).success
    assert pipeline.query(landed_that_day, [BAD_DAY])[0][0] > 0


@pytest.mark.slow
def test_a_bad_day_of_the_sample_shop_fails_its_gate(isolated_env: Path) -> None:
    """The generator's broken day: the run fails at the gates and builds nothing after them."""
    bad_day = dt.date(2024, 5, 10)
    params = SampleParams(customers=300, days=14, start_date=dt.date(2024, 5, 1), bad_day=bad_day)
    generate_sample_shop(params, isolated_env / "landing")
    job = reload_definitions().defs.resolve_job_def("daily_refresh")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags=range_tags(params.start_date, params.end_date),
            raise_on_error=False,
        )
    assert not result.success
    failed = {t: c for t, c in evaluations(result).items() if not c.passed}
    assert "orders" in failed
    message = rf"^{bad_day}: \d+ of \d+ rows \(\d+\.\d%\) quarantined"
    assert re.search(message, failed["orders"].description)
    assert downstream_of_gates(result) == set()
