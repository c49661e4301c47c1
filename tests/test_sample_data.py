"""The sample shop: deterministic, in the real formats, with believable behaviour."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from orchestration.sample import SampleParams, SampleSummary, generate_sample_shop
from orchestration.sample.params import SampleParamsError
from orchestration.sample_data import main
from tests.conftest import SMALL


def _lines_by_file(root: Path) -> dict[str, list[str]]:
    return {
        p.relative_to(root).as_posix(): sorted(p.read_text().splitlines())
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("_")
    }


def _con(shop: SampleSummary) -> duckdb.DuckDBPyConnection:
    """Views over the landed files, read exactly as the files are (no ingestion)."""
    con = duckdb.connect()
    root = shop.landing_dir
    con.execute(
        f"create view orders as select * from read_json('{root}/orders/*/*.jsonl', "
        "hive_partitioning = true, format = 'newline_delimited')"
    )
    con.execute(
        f"create view events as select * from read_json('{root}/email_events/*/*.jsonl', "
        "hive_partitioning = true, format = 'newline_delimited', "
        "columns = {'email': 'VARCHAR', 'timestamp': 'BIGINT', 'event': 'VARCHAR', "
        "'sg_event_id': 'VARCHAR', 'type': 'VARCHAR', 'sg_machine_open': 'BOOLEAN', "
        "'asm_group_id': 'BIGINT'})"
    )
    con.execute(
        f"create view contacts as select * from read_csv('{root}/contacts/*/*.csv', "
        "hive_partitioning = true, all_varchar = true)"
    )
    con.execute(
        f"create view checkouts as select * from read_json('{root}/checkouts/*/*.jsonl', "
        "hive_partitioning = true, format = 'newline_delimited')"
    )
    # One row per order: its latest version, with a clean e-mail.
    con.execute(
        """
        create view order_latest as
        select * from orders
        qualify row_number() over (partition by id order by updated_at desc) = 1
        """
    )
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchall()[0][0]


def test_same_seed_writes_the_same_lines(tmp_path: Path, small_shop: SampleSummary) -> None:
    assert main(["--out", str(tmp_path / "again"), "--customers", "300", "--days", "45",
                 "--start-date", "2024-03-01", "--seed", "3"]) == 0  # fmt: skip
    first, second = _lines_by_file(small_shop.landing_dir), _lines_by_file(tmp_path / "again")
    assert first.keys() == second.keys()
    assert first == second


def test_another_seed_writes_another_shop(tmp_path: Path, small_shop: SampleSummary) -> None:
    other = generate_sample_shop(dataclasses.replace(SMALL, seed=4), tmp_path / "other")
    assert _lines_by_file(other.landing_dir) != _lines_by_file(small_shop.landing_dir)


def test_every_source_lands_in_daily_folders_of_the_range(small_shop: SampleSummary) -> None:
    root = small_shop.landing_dir
    for source in ("orders", "checkouts", "email_events", "contacts"):
        days = sorted(p.name for p in (root / source).iterdir())
        assert days, source
        assert days[0] >= f"day={SMALL.start_date}"
        assert days[-1] <= f"day={SMALL.end_date}"
    manifest = json.loads((root / "_sample_shop.json").read_text())
    assert manifest["last_day"] == SMALL.end_date.isoformat()
    assert manifest["lines"] == small_shop.lines


def test_orders_follow_the_shopify_order_shape(small_shop: SampleSummary) -> None:
    line = (next((small_shop.landing_dir / "orders").glob("*/*.jsonl"))).read_text().splitlines()[0]
    order = json.loads(line)
    for key in (
        "id",
        "email",
        "created_at",
        "cancelled_at",
        "financial_status",
        "currency",
        "total_price",
        "total_discounts",
        "customer",
        "line_items",
        "discount_codes",
    ):
        assert key in order, key  # fmt: skip
    assert isinstance(order["total_price"], str)
    assert set(order["customer"]) >= {"id", "email", "first_name", "email_marketing_consent"}
    item = order["line_items"][0]
    assert set(item) >= {"product_id", "sku", "title", "vendor", "product_type", "quantity"}
    assert isinstance(item["price"], str)


def test_timestamps_carry_the_shops_utc_offset(tmp_path: Path) -> None:
    params = dataclasses.replace(SMALL, customers=50, timezone="America/New_York")
    shop = generate_sample_shop(params, tmp_path / "ny")
    offsets = {
        json.loads(line)["created_at"][-6:]
        for path in (shop.landing_dir / "orders").glob("*/*.jsonl")
        for line in path.read_text().splitlines()
    }
    assert offsets <= {"-05:00", "-04:00"}
    assert "-04:00" in offsets  # the range crosses the start of daylight saving time


def test_purchases_are_heavy_tailed_around_the_target_mean(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    con.execute(
        "create table per_buyer as select customer.id as buyer, count(*) as n "
        "from order_latest group by 1"
    )
    buyers, mean = con.execute("select count(*), avg(n) from per_buyer").fetchall()[0]
    assert buyers >= 1_900
    assert 7 <= mean <= 13
    one_timers = _one(con, "select avg((n = 1)::int) from per_buyer")
    assert one_timers > 0.15
    top_share = _one(
        con,
        "select sum(n) filter (where rk <= 0.2) / sum(n) "
        "from (select n, percent_rank() over (order by n desc) as rk from per_buyer)",
    )
    assert top_share > 0.5  # a few buyers order very often


def test_buyers_lapse_come_back_and_buy_in_season(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    con.execute(
        """
        create table gaps as
        select customer.id as buyer, created_at::timestamptz as ordered_at,
            date_diff('day', lag(created_at::timestamptz) over w, created_at::timestamptz) as gap
        from order_latest window w as (partition by customer.id order by created_at)
        """
    )
    assert _one(con, "select count(distinct buyer) from gaps where gap > 180") > 20
    seasonal = _one(
        con,
        """
        select count(*) from (
            select buyer from gaps group by buyer
            having count(*) >= 2 and count(distinct year(ordered_at)) = 2
               and bool_and(month(ordered_at) in (3, 4, 5))
        )
        """,
    )
    assert seasonal > 5


def test_orders_include_cancellations_refunds_and_test_orders(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    n = _one(con, "select count(*) from order_latest")
    cancelled = _one(con, "select count(*) from order_latest where cancelled_at is not null")
    assert 0.015 < cancelled / n < 0.05
    refunded = _one(
        con, "select count(*) from order_latest where financial_status like '%refunded'"
    )
    assert refunded > cancelled / 2
    assert _one(con, "select count(*) from order_latest where test") > 0
    # Cancelled orders first land as paid and again, updated, on the day of the cancellation.
    assert _one(con, "select count(*) from orders") > n


def test_prospects_never_buy_and_consent_varies(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    contacts = _one(con, "select count(distinct email) from contacts where email like '%@%.%'")
    buyers = _one(con, "select count(distinct customer.email) from order_latest")
    assert 0.2 < (contacts - buyers) / buyers < 0.4
    states = dict(
        con.execute(
            "select email_marketing_consent_state, count(*) from contacts group by 1"
        ).fetchall()
    )
    assert {"subscribed", "not_subscribed", "unsubscribed"} <= states.keys()


def test_email_events_have_believable_rates(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    counts = dict(con.execute("select event, count(*) from events group by 1").fetchall())
    delivered_rate = counts["delivered"] / counts["processed"]
    assert 0.95 < delivered_rate < 0.995
    human_opens = _one(
        con, "select count(*) from events where event = 'open' and not sg_machine_open"
    )
    machine_opens = _one(con, "select count(*) from events where sg_machine_open")
    assert 0.15 < human_opens / counts["delivered"] < 0.5
    assert 0.15 < machine_opens / counts["delivered"] < 0.5
    assert 0.005 < counts["click"] / counts["delivered"] < 0.1
    bounce_types = {
        r[0] for r in con.execute("select type from events where event = 'bounce'").fetchall()
    }
    assert bounce_types == {"bounce", "blocked"}  # hard and soft
    for event in ("unsubscribe", "group_unsubscribe", "spamreport"):
        assert counts.get(event, 0) > 0, event
    assert counts["unsubscribe"] / counts["delivered"] < 0.01


def test_events_arrive_duplicated_and_late(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    duplicates = _one(con, "select count(*) - count(distinct sg_event_id) from events")
    late = _one(con, "select count(*) from events where to_timestamp(timestamp)::date < day::date")
    total = _one(con, "select count(*) from events")
    assert 0.002 < duplicates / total < 0.03
    assert 0.01 < late / total < 0.06


def test_a_small_share_of_rows_is_malformed(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    assert _one(con, "select count(*) from orders where email is null") > 0
    assert _one(con, "select count(*) from orders where email like '% at %'") > 0
    assert _one(con, "select count(*) from orders where total_price like '-%'") > 0
    assert _one(con, "select count(*) from events where event = 'opened'") > 0
    assert _one(con, "select count(*) from contacts where email not like '%@%.%'") > 0
    bad_share = _one(con, "select avg((email is null or email like '% at %')::int) from events")
    assert bad_share < 0.01


def test_a_bad_day_has_a_third_of_its_rows_malformed(tmp_path: Path) -> None:
    bad_day = SMALL.start_date + dt.timedelta(days=9)
    shop = generate_sample_shop(dataclasses.replace(SMALL, bad_day=bad_day), tmp_path)
    shares = dict(
        _con(shop)
        .execute(
            "select day = ?, avg((email is null or email like '% at %' "
            "or total_price like '-%')::int) from orders group by 1",
            [bad_day],
        )
        .fetchall()
    )
    assert 0.2 < shares[True] < 0.4
    assert shares[False] < 0.01
    with pytest.raises(SampleParamsError, match="bad_day must lie between"):
        dataclasses.replace(SMALL, bad_day=SMALL.end_date + dt.timedelta(days=1))


def test_abandoned_checkouts_some_recovered(demo_shop: SampleSummary) -> None:
    con = _con(demo_shop)
    total = _one(con, "select count(distinct token) from checkouts")
    recovered = _one(
        con, "select count(distinct token) from checkouts where completed_at is not null"
    )
    assert 0.03 < recovered / total < 0.3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"customers": 1}, "customers"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"currency": "usd"}, "currency"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(SampleParamsError, match=message):
        SampleParams(**change)


def test_cli_reports_a_bad_parameter(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--start-date", "2024-01-01", "--days", "2"]) == 2
    assert "days must be at least 7" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_compressed_shop_has_the_same_lines(tmp_path: Path, small_shop: SampleSummary) -> None:
    packed = generate_sample_shop(dataclasses.replace(SMALL, compress=True), tmp_path / "zst")
    files = [p for p in packed.landing_dir.rglob("*") if p.is_file() and p.name[0] != "_"]
    assert files and all(p.name.endswith(".zst") for p in files)
    assert packed.lines == small_shop.lines
