"""Writes the sample shop as daily landing files in the real export formats, with DuckDB.

The arrays from the generators are registered as DuckDB tables and shaped into Shopify
`Order` and abandoned `Checkout` JSON lines, SendGrid Event Webhook JSON lines and a contact
CSV export, one folder per source and day (`<source>/day=YYYY-MM-DD/`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.sample.catalog import CATEGORIES, TIERS, VENDORS, Catalog
from orchestration.sample.email_events import CAMPAIGN_KINDS, EVENT_TYPES, Campaigns, EmailEvents
from orchestration.sample.orders import DISCOUNT_CODES, Checkouts, Orders
from orchestration.sample.params import SampleParams
from orchestration.sample.people import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    SIGNUP_SOURCES,
    People,
)

ROWS_PER_CHUNK = 1_000_000
BAD_DAY_SHARE = 0.3  # malformed share of orders, checkouts and events on the bad day
SOURCES = ("orders", "checkouts", "email_events", "contacts")
CUSTOMER_ID_BASE = 6_000_000_000
ORDER_ID_BASE = 5_000_000_000
CHECKOUT_ID_BASE = 3_000_000_000
PRODUCT_ID_BASE = 8_000_000_000
LINKS = (
    "/",
    "/collections/new",
    "/collections/sale",
    "/products/bestseller",
    "/pages/guide",
    "/cart",
)


def _lookup(con: duckdb.DuckDBPyConnection, name: str, values: tuple[str, ...]) -> None:
    con.execute(f"create or replace temp table {name} (idx integer, value varchar)")
    con.executemany(f"insert into {name} values (?, ?)", list(enumerate(values)))


def _register(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, np.ndarray]) -> None:
    frame = pd.DataFrame(columns)
    con.register(f"{name}_frame", frame)
    con.execute(f"create or replace temp table {name} as select * from {name}_frame")
    con.unregister(f"{name}_frame")


def _macros(con: duckdb.DuckDBPyConnection, params: SampleParams) -> None:
    """Shop seconds -> shop-local timestamps with their UTC offset, epochs, days, money."""
    start = params.start_date.isoformat()
    tz = params.timezone.replace("'", "''")
    con.execute("set timezone = 'UTC'")
    con.execute(f"create or replace temp macro local_ts(s) as timestamp '{start}' + to_seconds(s)")
    con.execute(f"create or replace temp macro instant(s) as timezone('{tz}', local_ts(s))")
    con.execute("create or replace temp macro unix_ts(s) as epoch(instant(s))::bigint")
    con.execute(
        """
        create or replace temp macro shop_time(s) as
            strftime(local_ts(s), '%Y-%m-%dT%H:%M:%S')
            || case when epoch(local_ts(s)) - epoch(instant(s)) < 0 then '-' else '+' end
            || lpad((abs(epoch(local_ts(s)) - epoch(instant(s)))::bigint // 3600)::varchar, 2, '0')
            || ':'
            || lpad(((abs(epoch(local_ts(s)) - epoch(instant(s)))::bigint % 3600) // 60)::varchar,
                    2, '0')
        """
    )
    con.execute(
        f"create or replace temp macro landing_day(s) as date '{start}' + (s // 86400)::int"
    )
    con.execute("create or replace temp macro money(x) as round(x, 2)::decimal(14, 2)::varchar")


def _load_reference(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    people: People,
    signup_t: np.ndarray,
) -> None:
    for name, values in {
        "first_names": FIRST_NAMES,
        "last_names": LAST_NAMES,
        "domains": EMAIL_DOMAINS,
        "sources": SIGNUP_SOURCES,
        "categories": tuple(c for c, _, _ in CATEGORIES),
        "vendors": VENDORS,
        "tiers": TIERS,
        "event_types": EVENT_TYPES,
        "campaign_kinds": tuple(k for k, _ in CAMPAIGN_KINDS),
        "discount_codes": tuple(c for c, _ in DISCOUNT_CODES),
        "links": LINKS,
    }.items():
        _lookup(con, name, values)
    nouns = [(c, i, noun) for c, (_, _, ns) in enumerate(CATEGORIES) for i, noun in enumerate(ns)]
    con.execute("create or replace temp table nouns (category integer, idx integer, value varchar)")
    con.executemany("insert into nouns values (?, ?, ?)", nouns)
    con.execute(
        "create or replace temp table discount_pct as select * from (values "
        + ", ".join(f"({i}, {pct})" for i, (_, pct) in enumerate(DISCOUNT_CODES))
        + ") t(idx, pct)"
    )
    _register(
        con,
        "products_raw",
        {
            "idx": np.arange(catalog.size),
            "category": catalog.category,
            "vendor": catalog.vendor,
            "tier": catalog.tier,
            "noun": catalog.noun,
            "price": catalog.price,
        },
    )
    con.execute(
        f"""
        create or replace temp table products as
        select
            p.idx,
            {PRODUCT_ID_BASE} + p.idx as product_id,
            {PRODUCT_ID_BASE} * 5 + p.idx as variant_id,
            upper(left(c.value, 3)) || '-' || upper(left(replace(v.value, ' ', ''), 3)) || '-'
                || upper(left(t.value, 1)) || lpad(p.idx::varchar, 3, '0') as sku,
            v.value || ' ' || n.value || case t.value
                when 'premium' then ' Pro' when 'budget' then ' Basic' else '' end as title,
            v.value as vendor,
            c.value as product_type,
            t.value as tier,
            p.price,
        from products_raw p
        join categories c on c.idx = p.category
        join vendors v on v.idx = p.vendor
        join tiers t on t.idx = p.tier
        join nouns n on n.category = p.category and n.idx = p.noun
        """
    )
    _register(
        con,
        "people_raw",
        {
            "idx": np.arange(people.size),
            "first_name": people.first_name,
            "last_name": people.last_name,
            "domain": people.domain,
            "source": people.source,
            "accepts": people.accepts_marketing,
            "confirmed": people.confirmed_opt_in,
            "birthday_days": people.birthday_days,
            "signup_t": signup_t,
        },
    )
    con.execute(
        f"""
        create or replace temp table people as
        select
            p.*,
            {CUSTOMER_ID_BASE} + p.idx as customer_id,
            f.value as first_name_text,
            l.value as last_name_text,
            lower(f.value || '.' || l.value || p.idx::varchar || '@' || d.value) as email,
            s.value as source_text,
        from people_raw p
        join first_names f on f.idx = p.first_name
        join last_names l on l.idx = p.last_name
        join domains d on d.idx = p.domain
        join sources s on s.idx = p.source
        """
    )


def _load_orders(
    con: duckdb.DuckDBPyConnection, params: SampleParams, orders: Orders, rng: np.random.Generator
) -> None:
    corrupt = _corruption(rng, params, orders.t, (1, 2, 3))
    _register(
        con,
        "orders_raw",
        {
            "seq": np.arange(orders.size),
            "buyer": orders.buyer,
            "t": orders.t,
            "discount_code": orders.discount_code,
            "status": orders.status,
            "changed_t": orders.changed_t,
            "kept_share": orders.kept_share,
            "is_test": orders.is_test,
            "email_variant": orders.email_variant,
            "corrupt": corrupt,
        },
    )
    _register(
        con,
        "order_items",
        {
            "order_seq": orders.item_order,
            "product": orders.item_product,
            "quantity": orders.item_quantity,
            "line": np.arange(len(orders.item_order)),
        },
    )


def _load_checkouts(
    con: duckdb.DuckDBPyConnection,
    params: SampleParams,
    checkouts: Checkouts,
    rng: np.random.Generator,
) -> None:
    _register(
        con,
        "checkouts_raw",
        {
            "seq": np.arange(checkouts.size),
            "contact": checkouts.contact,
            "t": checkouts.t,
            "completed_t": checkouts.completed_t,
            "corrupt": _corruption(rng, params, checkouts.t, (1, 2, 3)),
        },
    )
    _register(
        con,
        "checkout_items",
        {
            "checkout_seq": checkouts.item_checkout,
            "product": checkouts.item_product,
            "quantity": checkouts.item_quantity,
            "line": np.arange(len(checkouts.item_checkout)),
        },
    )


def _load_campaigns(con: duckdb.DuckDBPyConnection, campaigns: Campaigns) -> None:
    _register(
        con,
        "campaigns",
        {
            "idx": np.arange(len(campaigns.t)),
            "t": campaigns.t,
            "kind": campaigns.kind,
            "grp": campaigns.group,
        },
    )


def _load_events(
    con: duckdb.DuckDBPyConnection,
    params: SampleParams,
    events: EmailEvents,
    send_base: int,
    event_base: int,
    rng: np.random.Generator,
) -> None:
    """Register one chunk of events; the bases keep send and event ids unique across chunks."""
    _register(
        con,
        "sends",
        {
            "idx": send_base + np.arange(len(events.send_contact)),
            "contact": events.send_contact,
            "campaign": events.send_campaign,
        },
    )
    _register(
        con,
        "events_raw",
        {
            "event_id": event_base + events.event_id,
            "send": send_base + events.send,
            "type": events.type,
            "t": events.t,
            "arrival_t": events.arrival_t,
            "hard": events.hard,
            "machine": events.machine,
            "link": events.link,
            "corrupt": _corruption(rng, params, events.arrival_t, (1, 2, 4)),
        },
    )


def _corruption(
    rng: np.random.Generator,
    params: SampleParams,
    landing_t: np.ndarray,
    codes: tuple[int, ...],
) -> np.ndarray:
    """Mark a small share of rows as malformed: 1 no e-mail, 2 malformed e-mail,
    3 negative amount, 4 unknown event type. 0 means the row is fine. On the bad day (if
    any) a much larger share is malformed, as when an export breaks."""
    n = len(landing_t)
    share = np.full(n, params.bad_row_share)
    if params.bad_day is not None:
        bad_index = (params.bad_day - params.start_date).days
        share[landing_t // 86_400 == bad_index] = BAD_DAY_SHARE
    bad = rng.random(n) < share
    return np.where(bad, rng.choice(codes, size=n), 0).astype(np.int8)


def _bad_email(column: str, flag: str = "corrupt") -> str:
    """SQL for an e-mail column as landed: missing or malformed where the row is corrupt."""
    return (
        f"case {flag} when 1 then null when 2 then replace({column}, '@', ' at ') else {column} end"
    )


def _copy(
    con: duckdb.DuckDBPyConnection,
    query: str,
    out: Path,
    source: str,
    fmt: str,
    pattern: str | None = None,
    replace: bool = True,
    compress: bool = False,
) -> None:
    """Write a query as one folder per day; `replace` first clears the source's folder."""
    options = (
        "format json"
        if fmt == "jsonl"
        else "format csv, header true, timestampformat '%Y-%m-%dT%H:%M:%S'"
    )
    overwrite = "overwrite true" if replace else "overwrite_or_ignore true"
    if compress:
        options += ", compression 'zstd'"
        fmt += ".zst"
    con.execute(
        f"""
        copy ({query}) to '{out / source}'
        ({options}, partition_by (day), filename_pattern '{pattern or source}_{{i}}',
         file_extension '{fmt}', {overwrite})
        """
    )


# Some orders carry the contact's address in another case and with a trailing space.
VARIANT_EMAIL = "case when email_variant then upper(p.email) || ' ' else p.email end"


def _write_orders(
    con: duckdb.DuckDBPyConnection, params: SampleParams, out: Path, chunk: int, rows: range
) -> None:
    con.execute(
        f"""
        create or replace temp table order_lines as
        select i.order_seq, i.line, i.quantity, p.*,
        from order_items i join products p on p.idx = i.product
        where i.order_seq >= {rows.start} and i.order_seq < {rows.stop}
        """
    )
    con.execute(
        f"""
        create or replace temp table order_totals as
        select
            o.*,
            ({ORDER_ID_BASE} + o.seq) as order_id,
            l.subtotal,
            l.items,
            coalesce(round(l.subtotal * d.pct, 2), 0) as discount,
            dc.value as code,
        from orders_raw o
        join (
            select
                order_seq,
                sum(price * quantity) as subtotal,
                list({{
                    'id': {ORDER_ID_BASE} * 3 + line,
                    'product_id': product_id,
                    'variant_id': variant_id,
                    'sku': sku,
                    'title': title,
                    'name': title,
                    'vendor': vendor,
                    'product_type': product_type,
                    'quantity': quantity,
                    'price': money(price),
                    'total_discount': '0.00',
                }} order by line) as items,
            from order_lines group by order_seq
        ) l on l.order_seq = o.seq
        left join discount_pct d on d.idx = o.discount_code
        left join discount_codes dc on dc.idx = o.discount_code
        where o.seq >= {rows.start} and o.seq < {rows.stop}
        """
    )
    # Version 0 lands when the order is placed; version 1 when it is cancelled or refunded.
    query = f"""
        with versions as (
            select *, 0 as version, t as version_t from order_totals
            union all
            select *, 1 as version, changed_t as version_t from order_totals where status > 0
        ),
        shaped as (
            select
                v.*,
                v.subtotal - v.discount as total,
                case when version = 0 then corrupt else 0 end as corrupt_now,
                case
                    when version = 0 then 'paid'
                    when status = 1 and changed_t - t < 86400 then 'voided'
                    when status in (1, 2) then 'refunded'
                    else 'partially_refunded'
                end as financial_status,
            from versions v
        )
        select
            landing_day(version_t) as day,
            order_id as id,
            'gid://shopify/Order/' || order_id as admin_graphql_api_id,
            '#' || (1001 + seq) as name,
            1001 + seq as order_number,
            {_bad_email(VARIANT_EMAIL, "corrupt_now")} as email,
            shop_time(t) as created_at,
            shop_time(version_t) as updated_at,
            shop_time(t) as processed_at,
            case when version = 1 and status = 1 then shop_time(changed_t) end as cancelled_at,
            case when version = 1 and status = 1 then 'customer' end as cancel_reason,
            financial_status,
            case when version = 1 and status = 1 then null else 'fulfilled' end
                as fulfillment_status,
            '{params.currency}' as currency,
            '{params.currency}' as presentment_currency,
            money(subtotal) as total_line_items_price,
            money(subtotal - discount) as subtotal_price,
            money(discount) as total_discounts,
            '0.00' as total_tax,
            case when corrupt_now = 3 then '-' else '' end || money(total) as total_price,
            money(case
                when version = 0 then total
                when financial_status = 'partially_refunded' then total * kept_share
                else 0 end) as current_total_price,
            is_test as test,
            'web' as source_name,
            {{
                'id': p.customer_id,
                'email': p.email,
                'first_name': p.first_name_text,
                'last_name': p.last_name_text,
                'created_at': shop_time(p.signup_t),
                'email_marketing_consent': {{
                    'state': case when p.accepts then 'subscribed' else 'not_subscribed' end,
                    'opt_in_level': case when not p.accepts then null when p.confirmed
                        then 'confirmed_opt_in' else 'single_opt_in' end,
                    'consent_updated_at': case when p.accepts then shop_time(p.signup_t) end,
                }},
            }} as customer,
            items as line_items,
            case when code is null then []
                else [{{'code': code, 'amount': money(discount), 'type': 'percentage'}}]
            end as discount_codes,
        from shaped s
        join people p on p.idx = s.buyer
    """
    _copy(con, query, out, "orders", "jsonl", f"orders_{chunk:03d}", chunk == 0, params.compress)


def _write_checkouts(
    con: duckdb.DuckDBPyConnection, params: SampleParams, out: Path, chunk: int, rows: range
) -> None:
    query = f"""
        with lines as (
            select
                i.checkout_seq,
                sum(p.price * i.quantity) as subtotal,
                list({{
                    'product_id': p.product_id,
                    'variant_id': p.variant_id,
                    'sku': p.sku,
                    'title': p.title,
                    'vendor': p.vendor,
                    'product_type': p.product_type,
                    'quantity': i.quantity,
                    'price': money(p.price),
                }} order by i.line) as items,
            from checkout_items i join products p on p.idx = i.product
            where i.checkout_seq >= {rows.start} and i.checkout_seq < {rows.stop}
            group by i.checkout_seq
        ),
        tokens as (
            select *, md5('checkout:{params.seed}:' || seq) as token, from checkouts_raw
            where seq >= {rows.start} and seq < {rows.stop}
        ),
        versions as (
            select c.*, 0 as version, c.t as version_t, corrupt as corrupt_now from tokens c
            union all
            select c.*, 1, c.completed_t, 0 from tokens c where c.completed_t >= 0
        )
        select
            landing_day(v.version_t) as day,
            {CHECKOUT_ID_BASE} + v.seq as id,
            v.token,
            md5('cart:{params.seed}:' || v.seq) as cart_token,
            {_bad_email("p.email", "v.corrupt_now")} as email,
            shop_time(v.t) as created_at,
            shop_time(v.version_t) as updated_at,
            case when v.version = 1 then shop_time(v.completed_t) end as completed_at,
            '{params.currency}' as currency,
            '{params.currency}' as presentment_currency,
            money(l.subtotal) as subtotal_price,
            '0.00' as total_discounts,
            case when v.corrupt_now = 3 then '-' else '' end || money(l.subtotal) as total_price,
            'https://shop.example.com/checkouts/' || v.token || '/recover'
                as abandoned_checkout_url,
            {{
                'id': p.customer_id,
                'email': p.email,
                'first_name': p.first_name_text,
                'last_name': p.last_name_text,
            }} as customer,
            l.items as line_items,
        from versions v
        join lines l on l.checkout_seq = v.seq
        join people p on p.idx = v.contact
    """
    _copy(
        con, query, out, "checkouts", "jsonl", f"checkouts_{chunk:03d}", chunk == 0, params.compress
    )


def _write_email_events(
    con: duckdb.DuckDBPyConnection, params: SampleParams, out: Path, chunk: int
) -> None:
    query = f"""
        select
            landing_day(e.arrival_t) as day,
            {_bad_email("p.email", "e.corrupt")} as email,
            unix_ts(e.t) as timestamp,
            case when e.corrupt = 4 then 'opened' else et.value end as event,
            substr(md5('event:{params.seed}:' || e.event_id), 1, 22) as sg_event_id,
            substr(md5('send:{params.seed}:' || e.send), 1, 22) || '.filterdrecv-1-0'
                as sg_message_id,
            [k.value] as category,
            'cmp_' || c.idx as campaign_id,
            c.grp as asm_group_id,
            case when et.value = 'click' then 'https://shop.example.com' || lk.value end as url,
            case when et.value = 'bounce' then case when e.hard
                then '550 5.1.1 The email account that you tried to reach does not exist.'
                else '421 4.7.0 Temporarily rate limited, try again later.' end
            end as reason,
            case when et.value = 'bounce' then case when e.hard then '5.1.1' else '4.7.0' end
            end as status,
            case when et.value = 'bounce' then case when e.hard then 'bounce' else 'blocked' end
            end as type,
            case when et.value = 'bounce' then case when e.hard then 'Invalid Address'
                else 'Technical' end end as bounce_classification,
            case when et.value = 'open' then e.machine end as sg_machine_open,
            case when et.value = 'delivered' then '250 OK' end as response,
        from events_raw e
        join sends s on s.idx = e.send
        join campaigns c on c.idx = s.campaign
        join campaign_kinds k on k.idx = c.kind
        join people p on p.idx = s.contact
        join event_types et on et.idx = e.type
        left join links lk on lk.idx = e.link
    """
    _copy(
        con, query, out, "email_events", "jsonl", f"email_events_{chunk:03d}", chunk == 0,
        params.compress,
    )  # fmt: skip


def _write_contacts(
    con: duckdb.DuckDBPyConnection,
    params: SampleParams,
    out: Path,
    unsubscribed_t: np.ndarray,
    resubscribed_t: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """The shop's customer export: a row when a contact signs up and when consent changes.

    Malformed rows are extra sign-ups from a web form with junk e-mail addresses.
    """
    n_people = len(unsubscribed_t)
    _register(
        con,
        "consent",
        {
            "idx": np.arange(n_people),
            "unsubscribed_t": unsubscribed_t,
            "resubscribed_t": resubscribed_t,
            "unsub_lag": rng.integers(60, 7_200, size=n_people),
        },
    )
    n_junk = round(params.bad_row_share * n_people)
    _register(
        con, "junk", {"seq": np.arange(n_junk), "t": rng.integers(0, params.seconds, size=n_junk)}
    )
    query = f"""
        with changes as (
            select idx, signup_t as t, signup_t as consent_t,
                case when accepts then 'subscribed' else 'not_subscribed' end as state,
            from people
            union all
            select idx, unsubscribed_t + unsub_lag, unsubscribed_t, 'unsubscribed'
            from consent where unsubscribed_t >= 0 and unsubscribed_t + unsub_lag < {params.seconds}
            union all
            select idx, resubscribed_t, resubscribed_t, 'subscribed'
            from consent where resubscribed_t >= 0
        )
        select
            landing_day(ch.t) as day,
            p.customer_id,
            p.email,
            p.first_name_text as first_name,
            p.last_name_text as last_name,
            ch.state as email_marketing_consent_state,
            case when ch.state = 'not_subscribed' then null when p.confirmed
                then 'confirmed_opt_in' else 'single_opt_in' end as email_marketing_opt_in_level,
            case when ch.state <> 'not_subscribed' then shop_time(ch.consent_t) end
                as email_marketing_consent_updated_at,
            p.source_text as source,
            case when p.birthday_days >= 0 then (date '1970-01-01' + p.birthday_days::int) end
                as birthday,
            shop_time(p.signup_t) as created_at,
            shop_time(ch.t) as updated_at,
        from changes ch join people p on p.idx = ch.idx
        union all
        select
            landing_day(j.t),
            null,
            case j.seq % 3 when 0 then 'n/a' when 1 then 'test@' else '' end,
            'Test', null, 'subscribed', 'single_opt_in', shop_time(j.t), 'newsletter', null,
            shop_time(j.t), shop_time(j.t),
        from junk j
    """
    _copy(con, query, out, "contacts", "csv", compress=params.compress)


def _chunks(n: int) -> list[tuple[int, range]]:
    """Row ranges small enough for DuckDB's memory limit (list aggregation does not spill)."""
    return [
        (i, range(lo, min(lo + ROWS_PER_CHUNK, n)))
        for i, lo in enumerate(range(0, max(n, 1), ROWS_PER_CHUNK))
    ]


class LandingWriter:
    """Writes one sample shop, source by source, through one DuckDB connection.

    DuckDB may spill to disk and writes partitions in parallel, so lines within a file come in
    no fixed order; the set of lines in each file is fixed by the seed.
    """

    def __init__(self, out: Path, params: SampleParams, memory_limit: str = "4GB") -> None:
        self.out = out
        self.params = params
        out.mkdir(parents=True, exist_ok=True)
        self._spill = tempfile.TemporaryDirectory(prefix="sample-shop-")
        self.con = duckdb.connect()
        self.con.execute(f"set memory_limit = '{memory_limit}'")
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute(f"set temp_directory = '{self._spill.name}'")
        _macros(self.con, params)

    def __enter__(self) -> LandingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.con.close()
        self._spill.cleanup()

    def reference(self, catalog: Catalog, people: People, signup_t: np.ndarray) -> None:
        _load_reference(self.con, catalog, people, signup_t)

    def orders(self, orders: Orders, rng: np.random.Generator) -> None:
        _load_orders(self.con, self.params, orders, rng)
        for chunk, rows in _chunks(orders.size):
            _write_orders(self.con, self.params, self.out, chunk, rows)

    def checkouts(self, checkouts: Checkouts, rng: np.random.Generator) -> None:
        _load_checkouts(self.con, self.params, checkouts, rng)
        for chunk, rows in _chunks(checkouts.size):
            _write_checkouts(self.con, self.params, self.out, chunk, rows)

    def campaigns(self, campaigns: Campaigns) -> None:
        _load_campaigns(self.con, campaigns)

    def email_events(
        self, events: EmailEvents, chunk: int, send_base: int, event_base: int,
        rng: np.random.Generator,
    ) -> None:  # fmt: skip
        _load_events(self.con, self.params, events, send_base, event_base, rng)
        _write_email_events(self.con, self.params, self.out, chunk)
        self.con.execute("drop table events_raw")
        self.con.execute("drop table sends")

    def contacts(
        self, unsubscribed_t: np.ndarray, resubscribed_t: np.ndarray, rng: np.random.Generator
    ) -> None:
        _write_contacts(self.con, self.params, self.out, unsubscribed_t, resubscribed_t, rng)

    def count_lines(self) -> dict[str, int]:
        counts = {}
        for source in SOURCES:
            ext = "csv" if source == "contacts" else "jsonl"
            reader = "read_csv" if source == "contacts" else "read_json"
            counts[source] = self.con.execute(
                f"select count(*) from {reader}('{self.out / source}/*/*.{ext}*', "
                "hive_partitioning = false)"
            ).fetchall()[0][0]
        return counts
