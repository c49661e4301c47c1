"""Row rules, the column contract and the gate's settings, on real DuckDB loads."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest import load_days
from orchestration.ingest.quarantine import ensure_quarantine_tables
from orchestration.ingest.rules import CONSENT_STATES, FINANCIAL_STATUSES, SENDGRID_EVENTS
from orchestration.ingest.sources import EMAIL_EVENTS, ORDERS
from orchestration.masking import mask, mask_addresses, mask_row
from orchestration.quality import suites
from orchestration.quality.load_checks import quarantine_samples, share_lower_bound
from orchestration.quality.raw_gate import _chunks, check_freshness, run_gate
from orchestration.quality.report import Failure, GateReport, record_verdicts
from orchestration.quality.suite_checks import validate_suite
from orchestration.quality_thresholds import QualityThresholds
from orchestration.sample import SampleSummary
from orchestration.settings import Settings, SettingsError
from orchestration.shop_time import day_end, shop_today
from orchestration.warehouse_schema import RAW_SCHEMA

DAY = dt.date(2024, 3, 5)


def _a_good_order(small_shop: SampleSummary) -> dict:
    path = next((small_shop.landing_dir / "orders" / f"day={DAY}").iterdir())
    return json.loads(path.read_text().splitlines()[0])


def _load(tmp_path: Path, spec, rows: list[dict], thresholds=None):
    folder = tmp_path / "landing" / spec.name / f"day={DAY}"
    folder.mkdir(parents=True)
    (folder / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    result = load_days(
        con,
        spec,
        {DAY: [folder / "part.jsonl"]},
        tmp_path / "landing",
        "batch-1",
        thresholds or QualityThresholds(),
    )
    return con, result


def test_each_order_rule_names_the_row_it_quarantines(
    tmp_path: Path, small_shop: SampleSummary
) -> None:
    good = _a_good_order(small_shop)
    cases = {
        "missing_key": {"id": None},
        "missing_email": {"email": " ", "customer": {**good["customer"], "email": None}},
        "invalid_timestamp": {"created_at": "yesterday"},
        "implausibly_old_timestamp": {"created_at": "1999-12-31T23:00:00+00:00"},
        "future_timestamp": {"created_at": "2999-01-01T00:00:00+00:00"},
        "invalid_amount": {"subtotal_price": "12,50"},
        "missing_amount": {"total_price": None},
        "unknown_financial_status": {"financial_status": "mystery"},
        "malformed_email": {"email": "nobody", "customer": {**good["customer"], "email": "x"}},
    }
    # A malformed `email` beside a good customer address is fine: the order is the customer's.
    customers = {**good, "id": good["id"] + 100, "email": "not an address"}
    rows = [good, customers] + [
        {**good, "id": good["id"] + i + 1, **change} for i, change in enumerate(cases.values())
    ]
    con, result = _load(tmp_path, ORDERS, rows)
    quarantined = dict(
        con.execute("select rule, count(*) from quarantine.orders group by 1").fetchall()
    )
    assert quarantined == dict.fromkeys(cases, 1)
    assert result.rows_quarantined == len(cases)
    loaded = con.execute("select id from raw.orders order by id").fetchall()
    assert loaded == [(good["id"],), (customers["id"],)]
    loads = con.execute(
        "select rows_read, rows_loaded, rows_quarantined from quality.partition_loads"
    ).fetchall()
    assert loads == [(len(rows), 2, len(cases))]


def test_a_corrupt_copy_does_not_make_its_good_twin_a_conflict(
    tmp_path: Path, small_shop: SampleSummary
) -> None:
    event = {
        "email": "ann@example.com",
        "timestamp": 1709629200,
        "event": "delivered",
        "sg_event_id": "ev-1",
        "sg_message_id": "m-1",
    }
    corrupt = {**event, "email": None}
    conflicting = [{**event, "sg_event_id": "ev-2", "event": e} for e in ("open", "click")]
    con, _ = _load(tmp_path, EMAIL_EVENTS, [event, corrupt, *conflicting])
    assert con.execute("select sg_event_id from raw.email_events").fetchall() == [("ev-1",)]
    rules = con.execute(
        "select record_key, rule from quarantine.email_events order by all"
    ).fetchall()
    assert rules == [
        ("ev-1", "missing_email"),
        ("ev-2", "conflicting_duplicate"),
        ("ev-2", "conflicting_duplicate"),
    ]


def test_the_shop_currencies_are_configuration(tmp_path: Path, small_shop: SampleSummary) -> None:
    order = {**_a_good_order(small_shop), "currency": "EUR"}
    euro_shop = QualityThresholds(currencies=["USD", "EUR"])
    _, result = _load(tmp_path, ORDERS, [order], euro_shop)
    assert result.rows_quarantined == 0


def test_the_column_contract_fails_the_gate(tmp_path: Path, small_shop: SampleSummary) -> None:
    con, _ = _load(tmp_path, ORDERS, [_a_good_order(small_shop)])
    con.execute("alter table raw.orders add column coupon varchar")
    con.execute("alter table raw.orders alter test type varchar")
    report = run_gate(con, "orders", DAY, DAY, QualityThresholds(), "run-1", "UTC")
    [failure] = report.failures
    assert failure.rule == "column_contract"
    assert "coupon is not in the contract" in failure.message
    assert "test is VARCHAR, expected BOOLEAN" in failure.message
    held = con.execute("select table_name, partition_date from quality.held_partitions")
    assert held.fetchall() == [("orders", DAY)]


def test_addresses_are_masked() -> None:
    assert mask("jane.doe@example.com") == "j***@example.com"
    assert mask(42) == 42
    row = mask_row({"email": "jane.doe at example.com", "id": 7, "customer_email": "a@b.co"})
    assert row == {"email": "j*** (malformed)", "id": 7, "customer_email": "a***@b.co"}
    assert mask_row({"Email": "jane.doe at example.com"}) == {"Email": "j*** (malformed)"}


def test_a_quarantined_contacts_key_is_masked_like_its_address() -> None:
    """A contact's natural key is its address: a sample of its quarantine shows it masked,
    even malformed (no `@`), while an order's numeric key stays readable."""
    con = duckdb.connect()
    for source in ("contacts", "orders"):
        ensure_quarantine_tables(con, source)
    rows = [
        ("contacts", "jane.doe at example.com", '{"email": "jane.doe at example.com"}'),
        ("orders", "1001", '{"email": "bob@example.com"}'),
    ]
    for table, key, record in rows:
        con.execute(
            f"insert into quarantine.{table} values "
            "(?, 'x.csv', 'rule', 'why', ?, ?, 'b1', now(), null, null)",
            [DAY, key, record],
        )
    [contact] = quarantine_samples(con, "contacts", DAY)
    assert contact["key"] == "j*** (malformed)" and contact["email"] == "j*** (malformed)"
    [order] = quarantine_samples(con, "orders", DAY)
    assert order["key"] == "1001" and order["email"] == "b***@example.com"


def test_failure_messages_mask_addresses_like_the_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The observed values of a failed expectation reach the message, which becomes the check
    description, the log line and quality.gate_results: masked, malformed addresses too."""
    suite = {
        "name": "people",
        "meta": {"column_types": {"email": "VARCHAR"}},
        "expectations": [
            {
                # An aggregate expectation: what failed is the observed value, not a row count.
                "type": "expect_column_most_common_value_to_be_in_set",
                "kwargs": {"column": "email", "value_set": ["ann@example.com"]},
            }
        ],
    }
    (tmp_path / "people.json").write_text(json.dumps(suite))
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", tmp_path)
    con = duckdb.connect()
    con.execute(
        "create table people as select * from "
        "(values ('jane.doe@example.com'), ('bob at example.com')) t(email)"
    )
    report = GateReport(table="people", start=DAY, end=DAY)
    slices = [(f"{DAY}", "true", [], (DAY,))]
    validate_suite(con, "people", "people", suite, slices, QualityThresholds(), report)
    [failure] = report.failures
    assert "j***@example.com" in failure.message
    assert "b*** (malformed)" in failure.message
    assert sorted(failure.observed) == ["b*** (malformed)", "j***@example.com"]
    con.execute("create schema quality")
    record_verdicts(con, report, "run-1")
    [(recorded,)] = con.execute("select failures from quality.gate_results").fetchall()
    assert json.loads(recorded) == [failure.message]
    for text in (failure.message, recorded):
        assert "jane.doe" not in text and "bob at" not in text


def test_a_failure_message_never_carries_a_whole_address() -> None:
    failure = Failure("rule", "GX could not read 'jane.doe@example.com' (x@y.co)", ())
    assert failure.message == "GX could not read 'j***@example.com' (x***@y.co)"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("q=jane.doe%40example.com&x=1", "q=j***%40example.com&x=1"),
        # Encoded twice (a proxy's echo of an encoded query), plus sign and all.
        ("q=jane.doe%252Bnews%2540example.com", "q=j***%2540example.com"),
        ("<p>jane.doe&#64;example.com</p>", "<p>j***&#64;example.com</p>"),
        ("jane.doe&#x40;example.com", "j***&#x40;example.com"),
        ("jane.doe\uff20example.com", "j***\uff20example.com"),
        ("5 &#64; 3, 50% off", "5 &#64; 3, 50% off"),  # no address: unchanged
    ],
)
def test_rarer_spellings_of_an_address_are_masked(text: str, masked: str) -> None:
    assert mask_addresses(text) == masked


def test_validation_chunks_are_whole_days_within_the_limit() -> None:
    days = [dt.date(2024, 1, d) for d in range(1, 6)]
    counts = [(d, n, True) for d, n in zip(days, [40, 50, 0, 120, 30], strict=True)]
    assert _chunks(counts, days[1], limit=100) == [
        (days[1], days[1], 50),
        (days[3], days[3], 120),  # a day above the limit stands alone
        (days[4], days[4], 30),
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIFECYCLE_QUARANTINE_TOLERANCE", "one percent", "expected a share such as 0.01"),
        ("LIFECYCLE_VOLUME_MAX_RATIO", "-3", "must not be negative"),
        ("LIFECYCLE_EARLIEST_DATE", "2000-13-01", "YYYY-MM-DD"),
        ("LIFECYCLE_SHOP_CURRENCIES", "dollars", "ISO 4217"),
        ("LIFECYCLE_DUCKDB_MEMORY_LIMIT", "lots", "not a memory size"),
        ("LIFECYCLE_DUCKDB_MEMORY_LIMIT", "120%", "not a memory size"),
        ("LIFECYCLE_DUCKDB_THREADS", "0", "must be at least 1"),
    ],
)
def test_bad_thresholds_are_refused_by_name(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as error:
        Settings.from_env({name: value})
    assert name in str(error.value)


def test_duckdb_gets_a_share_of_the_machine_and_every_core_unless_told() -> None:
    default = Settings.from_env({})
    assert (default.duckdb_memory_limit, default.duckdb_threads) == ("25%", os.cpu_count())
    chosen = Settings.from_env(
        {"LIFECYCLE_DUCKDB_MEMORY_LIMIT": "6GB", "LIFECYCLE_DUCKDB_THREADS": "1"}
    )
    assert (chosen.duckdb_memory_limit, chosen.duckdb_threads) == ("6GB", 1)


def test_thresholds_come_from_the_environment() -> None:
    quality = Settings.from_env(
        {"LIFECYCLE_SHOP_CURRENCIES": "usd, eur", "LIFECYCLE_QUARANTINE_TOLERANCE": "0.05"}
    ).quality
    assert quality.currencies == ["USD", "EUR"]
    assert quality.quarantine_tolerance == 0.05


def test_freshness_is_judged_at_the_end_of_the_shops_day() -> None:
    """The newest order at 06:00 UTC on 10 May is 23:00 on 9 May in Los Angeles: 25 hours
    before the end of the shop's 10 May (07:00 UTC on the 11th), stale against 24 hours, while
    a UTC shop's day ends 18 hours after it."""
    con = duckdb.connect()
    con.execute(f"create schema {RAW_SCHEMA}")
    con.execute(
        f"create table {RAW_SCHEMA}.orders as select date '2024-05-10' as _partition_date, "
        "'2024-05-10T06:00:00+00:00' as created_at"
    )
    day = dt.date(2024, 5, 10)
    thresholds = QualityThresholds(freshness_hours=24)
    verdicts = {}
    for zone in ("UTC", "America/Los_Angeles"):
        report = GateReport(table="orders", start=day, end=day)
        check_freshness(con, "orders", day, thresholds, zone, report)
        verdicts[zone] = [f.rule for f in report.failures]
    assert verdicts == {"UTC": [], "America/Los_Angeles": ["freshness"]}


def test_today_and_the_end_of_a_day_are_the_shops() -> None:
    moment = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)
    assert shop_today("Pacific/Kiritimati", moment) == dt.date(2024, 5, 11)  # UTC+14
    assert shop_today("Pacific/Pago_Pago", moment) == dt.date(2024, 5, 10)  # UTC-11
    assert shop_today("UTC", moment) == dt.date(2024, 5, 10)
    assert day_end(dt.date(2024, 5, 10), "Europe/Berlin") == dt.datetime(
        2024, 5, 10, 22, 0, tzinfo=dt.UTC
    )


def test_row_rules_and_suites_agree_on_normalised_values(
    tmp_path: Path, small_shop: SampleSummary
) -> None:
    """What the row rules accept, the suite accepts: lower-case currencies, event types and
    consent states and capitalised financial statuses are normalised at load, and amounts the
    suite's format refuses (`1e3`, `NaN`, a space) are quarantined, so the gate holds no good
    day for them."""
    good = _a_good_order(small_shop)
    amounts = {"1e3": "invalid_amount", "NaN": "invalid_amount", " 12.50": "invalid_amount"}
    rows = [{**good, "currency": "usd", "financial_status": " Paid"}] + [
        {**good, "id": good["id"] + i + 1, "total_price": value} for i, value in enumerate(amounts)
    ]
    con, result = _load(tmp_path, ORDERS, rows)
    assert result.quarantined_by_rule == {"invalid_amount": 3}
    loaded = con.execute("select currency, financial_status from raw.orders").fetchall()
    assert loaded == [("USD", "paid")]
    report = run_gate(con, "orders", DAY, DAY, QualityThresholds(), "run-1", "UTC")
    assert report.failures == []  # 3 quarantined rows stay under LIFECYCLE_QUARANTINE_MIN_ROWS


def test_every_value_set_of_a_raw_suite_is_a_row_rules_set() -> None:
    """A suite's set of values is the set its row rule quarantines outside of (or a setting
    both read), so a row the rules load never fails the suite for its value."""
    rule_sets = {
        ("raw_orders", "financial_status"): FINANCIAL_STATUSES,
        ("raw_email_events", "event"): SENDGRID_EVENTS,
        ("raw_contacts", "email_marketing_consent_state"): CONSENT_STATES,
    }
    literal = {}
    for path in sorted(suites.EXPECTATIONS_DIR.glob("raw_*.json")):
        for expectation in suites.load_suite_file(path)["expectations"]:
            values = expectation["kwargs"].get("value_set")
            if expectation["type"].endswith("_in_set") and isinstance(values, list):
                literal[(path.stem, expectation["kwargs"]["column"])] = tuple(values)
    assert literal == rule_sets


def test_an_event_time_in_milliseconds_is_stored_in_seconds(tmp_path: Path) -> None:
    """A millisecond epoch used to be quarantined as a date in the year 56000 (and crashed the
    gate's freshness rule); it loads as seconds, and the gate passes its suite."""
    at = int(dt.datetime(2024, 3, 5, 12, tzinfo=dt.UTC).timestamp())
    event = {"email": "Ann@Example.com", "timestamp": at * 1000, "event": "Unsubscribe",
             "sg_event_id": "ev-1", "sg_message_id": "m-1"}  # fmt: skip
    con, result = _load(tmp_path, EMAIL_EVENTS, [event])
    assert result.rows_quarantined == 0
    assert con.execute("select timestamp, event from raw.email_events").fetchall() == [
        (at, "unsubscribe")
    ]
    report = run_gate(con, "email_events", DAY, DAY, QualityThresholds(), "run-1", "UTC")
    assert [f.rule for f in report.failures] == []


def test_a_day_landed_again_with_fewer_rows_fails_until_accepted(
    tmp_path: Path, small_shop: SampleSummary
) -> None:
    good = _a_good_order(small_shop)
    rows = [{**good, "id": good["id"] + i} for i in range(10)]
    con, _ = _load(tmp_path, ORDERS, rows)
    assert not run_gate(con, "orders", DAY, DAY, QualityThresholds(), "run-1", "UTC").blocking
    folder = tmp_path / "landing" / "orders" / f"day={DAY}"
    (folder / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:4]))
    files, root = {DAY: [folder / "part.jsonl"]}, tmp_path / "landing"
    load_days(con, ORDERS, files, root, "batch-2", QualityThresholds())
    report = run_gate(con, "orders", DAY, DAY, QualityThresholds(), "run-2", "UTC")
    [failure] = [f for f in report.failures if f.rule == "relanded_smaller"]
    assert failure.message.startswith(
        f"{DAY}: landed again with 4 rows where its load before, which passed the gate, had 10 "
        "(60% fewer)"
    )
    assert "LIFECYCLE_RELAND_MAX_SHRINK" in failure.message
    accepting = QualityThresholds(reland_max_shrink=0.6)
    assert not run_gate(con, "orders", DAY, DAY, accepting, "run-3", "UTC").blocking
    # A day its gate held: a smaller file is the fix (its bad rows gone), not a loss. (Every
    # row-level expectation has a row rule, so the suite fails here on a currency loaded while
    # the shop's list allowed it and validated once the list no longer does.)
    gold = [{**r, "currency": "XAU"} for r in rows]
    (folder / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in gold))
    load_days(con, ORDERS, files, root, "batch-3", QualityThresholds(currencies=["USD", "XAU"]))
    assert run_gate(con, "orders", DAY, DAY, QualityThresholds(), "run-4", "UTC").blocking
    (folder / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:4]))
    load_days(con, ORDERS, files, root, "batch-4", QualityThresholds())
    report = run_gate(con, "orders", DAY, DAY, QualityThresholds(), "run-5", "UTC")
    assert "relanded_smaller" not in {f.rule for f in report.failures}


def test_a_bad_day_in_a_chunk_of_many_holds_only_itself(
    tmp_path: Path, small_shop: SampleSummary
) -> None:
    """A backfill validates days together; a failing expectation names the day of its bad
    rows, and the good days beside it are neither held nor blamed."""
    good = _a_good_order(small_shop)
    days = [DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    files = {}
    for n, day in enumerate(days):
        rows = [{**good, "id": good["id"] + 100 * n + i} for i in range(5)]
        if n == 1:
            # Loaded while the shop's currencies allowed it, validated once they no longer do
            # (every row-level expectation has a row rule: the suite sees a table-level drift).
            rows[3]["currency"] = "XAU"
        folder = tmp_path / "landing" / "orders" / f"day={day}"
        folder.mkdir(parents=True)
        (folder / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        files[day] = [folder / "part.jsonl"]
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    then = QualityThresholds(currencies=["USD", "XAU"])
    load_days(con, ORDERS, files, tmp_path / "landing", "batch-1", then)
    report = run_gate(con, "orders", days[0], days[-1], QualityThresholds(), "run-1", "UTC")
    [failure] = [f for f in report.blocking if f.rule != "freshness"]
    assert failure.partitions == (days[1],)
    assert failure.message.startswith(
        f"{days[1]}: expect_column_values_to_be_in_set on currency failed: 1 of 5 rows"
    )
    held = con.execute("select partition_date from quality.held_partitions").fetchall()
    assert held == [(days[1],)]


def test_only_differing_copies_of_the_newest_version_conflict(
    tmp_path: Path, small_shop: SampleSummary
) -> None:
    """Copies of an older version that differ are superseded, not a conflict; copies of the
    newest that differ are all quarantined, and the key's latest version before them loads."""
    base = {"email": "ann@example.com", "sg_message_id": "m-1", "timestamp": 1709629200}
    older_differ = [{**base, "sg_event_id": "ev-3", "event": e} for e in ("open", "click")] + [
        {**base, "sg_event_id": "ev-3", "event": "delivered", "timestamp": 1709629300}
    ]
    newest_differ = [{**base, "sg_event_id": "ev-4", "event": "delivered"}] + [
        {**base, "sg_event_id": "ev-4", "event": e, "timestamp": 1709629300}
        for e in ("open", "click")
    ]
    con, result = _load(tmp_path, EMAIL_EVENTS, [*older_differ, *newest_differ])
    loaded = con.execute("select sg_event_id, event from raw.email_events order by 1").fetchall()
    assert loaded == [("ev-3", "delivered"), ("ev-4", "delivered")]
    rules = con.execute(
        "select record_key, rule, record ->> 'event' from quarantine.email_events order by all"
    ).fetchall()
    assert rules == [
        ("ev-4", "conflicting_duplicate", "click"),
        ("ev-4", "conflicting_duplicate", "open"),
    ]
    assert (result.rows_read, result.rows_quarantined, result.duplicates_dropped) == (6, 2, 2)


def test_a_quiet_days_few_bad_rows_above_the_share_warn_a_broken_export_fails(
    tmp_path: Path,
) -> None:
    """Exact binomial bounds: 5 bad of 480 is 1.04%, but a day whose true bad share is 0.2%
    (the sample shop's) gives 5 or more with probability 0.003, and the 99% lower bound of
    the share is 0.267%, under the 1% tolerance; 160 of 480 (a third) has one of 28.4%."""
    assert share_lower_bound(5, 480, 0.99) == pytest.approx(0.0026724, abs=1e-7)
    assert share_lower_bound(5, 480, 0.0) == pytest.approx(5 / 480)
    assert share_lower_bound(160, 480, 0.99) > 0.28
    assert share_lower_bound(0, 480, 0.99) == 0.0
    # 2,400 of 200,000 (1.2%) is above 1% beyond chance: it fails as before.
    assert share_lower_bound(2_400, 200_000, 0.99) > 0.0113

    event = {"timestamp": 1709629200, "event": "delivered", "sg_message_id": "m"}
    day = [{**event, "email": f"p{i}@example.com", "sg_event_id": f"e{i}"} for i in range(480)]
    for bad, severity in ((5, "warning"), (160, "error")):
        rows = [{**r, "email": "no address"} if i < bad else r for i, r in enumerate(day)]
        con, _ = _load(tmp_path / str(bad), EMAIL_EVENTS, rows)
        report = run_gate(con, "email_events", DAY, DAY, QualityThresholds(), "run-1", "UTC")
        [share] = [f for f in report.failures if f.rule == "quarantine_share"]
        assert share.severity == severity and share.observed == round(bad / 480, 4)
        con.close()
