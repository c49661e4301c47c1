"""Shopify `Order` JSON lines: a version when an order is placed, another when it changes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from orchestration.sample.landing.shared import bad_email, copy_by_day, corruption, register
from orchestration.sample.orders import Orders
from orchestration.sample.params import SampleParams

ORDER_ID_BASE = 5_000_000_000
# Some orders carry the contact's address in another case and with a trailing space.
VARIANT_EMAIL = "case when email_variant then upper(p.email) || ' ' else p.email end"


def load_orders(
    con: duckdb.DuckDBPyConnection, params: SampleParams, orders: Orders, rng: np.random.Generator
) -> None:
    corrupt = corruption(rng, params, orders.t, (1, 2, 3))
    register(
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
    register(
        con,
        "order_items",
        {
            "order_seq": orders.item_order,
            "product": orders.item_product,
            "quantity": orders.item_quantity,
            "line": np.arange(len(orders.item_order)),
        },
    )


def write_orders(
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
            {bad_email(VARIANT_EMAIL, "corrupt_now")} as email,
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
    copy_by_day(
        con, query, out, "orders", "jsonl", f"orders_{chunk:03d}", chunk == 0, params.compress
    )
