"""Shopify abandoned `Checkout` JSON lines: a version when started, another when completed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from orchestration.sample.landing.shared import bad_email, copy_by_day, corruption, register
from orchestration.sample.orders import Checkouts
from orchestration.sample.params import SampleParams

CHECKOUT_ID_BASE = 3_000_000_000


def load_checkouts(
    con: duckdb.DuckDBPyConnection,
    params: SampleParams,
    checkouts: Checkouts,
    rng: np.random.Generator,
) -> None:
    register(
        con,
        "checkouts_raw",
        {
            "seq": np.arange(checkouts.size),
            "contact": checkouts.contact,
            "t": checkouts.t,
            "completed_t": checkouts.completed_t,
            "corrupt": corruption(rng, params, checkouts.t, (1, 2, 3)),
        },
    )
    register(
        con,
        "checkout_items",
        {
            "checkout_seq": checkouts.item_checkout,
            "product": checkouts.item_product,
            "quantity": checkouts.item_quantity,
            "line": np.arange(len(checkouts.item_checkout)),
        },
    )


def write_checkouts(
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
            {bad_email("p.email", "v.corrupt_now")} as email,
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
    copy_by_day(
        con, query, out, "checkouts", "jsonl", f"checkouts_{chunk:03d}", chunk == 0, params.compress
    )
