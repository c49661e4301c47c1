"""What each landing source looks like and which raw tables it feeds.

A new source is one `SourceSpec` here: its landing folder, the file format and read schema,
its natural key, and the SQL that shapes the de-duplicated batch into raw tables. Nested
arrays (line items) get their own raw table so that the SQL downstream stays portable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from orchestration.ingest.rules import EPOCH_MILLISECONDS_FROM, text_timestamp_sql

_CONSENT = "STRUCT(state VARCHAR, opt_in_level VARCHAR, consent_updated_at VARCHAR)"
_ORDER_CUSTOMER = (
    "STRUCT(id BIGINT, email VARCHAR, first_name VARCHAR, last_name VARCHAR, "
    f"created_at VARCHAR, email_marketing_consent {_CONSENT})"
)
_ORDER_LINE = (
    "STRUCT(id BIGINT, product_id BIGINT, variant_id BIGINT, sku VARCHAR, title VARCHAR, "
    "name VARCHAR, vendor VARCHAR, product_type VARCHAR, quantity INTEGER, price VARCHAR, "
    "total_discount VARCHAR)[]"
)
_CHECKOUT_LINE = (
    "STRUCT(product_id BIGINT, variant_id BIGINT, sku VARCHAR, title VARCHAR, vendor VARCHAR, "
    "product_type VARCHAR, quantity INTEGER, price VARCHAR)[]"
)


def _line_items_sql(parent: str, fields: str) -> str:
    """One row per element of `line_items`, keyed by its parent version and 1-based position."""
    return f"""
        select
            * exclude (line, _source_file, _partition_date, _batch_id, _loaded_at),
            {fields},
            _source_file, _partition_date, _batch_id, _loaded_at,
        from (
            select
                {parent},
                unnest(generate_series(1, len(line_items))) as position,
                unnest(line_items) as line,
                _source_file, _partition_date, _batch_id, _loaded_at,
            from batch
            where len(line_items) > 0
        )
    """


@dataclass(frozen=True)
class RawTable:
    """One raw table fed by a source: `select_sql` reads the de-duplicated batch (`batch`)."""

    name: str
    select_sql: str
    description: str


@dataclass(frozen=True)
class SourceSpec:
    name: str
    description: str
    file_format: Literal["json", "csv"]
    suffixes: tuple[str, ...]
    columns: dict[str, str]  # read schema: name -> DuckDB type
    key: str  # natural key (SQL over the read columns)
    latest: str  # among copies of one key in a day, the greatest of this wins
    tables: tuple[RawTable, ...]

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(self.columns)


_COMPRESSED = ("", ".gz", ".zst")
JSON_SUFFIXES = tuple(f"{ext}{c}" for ext in (".jsonl", ".ndjson", ".json") for c in _COMPRESSED)
CSV_SUFFIXES = tuple(f".csv{c}" for c in _COMPRESSED)

ORDERS = SourceSpec(
    name="orders",
    description="Shopify Admin REST `Order` objects, one JSON object per line.",
    file_format="json",
    suffixes=JSON_SUFFIXES,
    columns={
        "id": "BIGINT",
        "name": "VARCHAR",
        "order_number": "BIGINT",
        "email": "VARCHAR",
        "created_at": "VARCHAR",
        "updated_at": "VARCHAR",
        "processed_at": "VARCHAR",
        "cancelled_at": "VARCHAR",
        "cancel_reason": "VARCHAR",
        "financial_status": "VARCHAR",
        "fulfillment_status": "VARCHAR",
        "currency": "VARCHAR",
        "presentment_currency": "VARCHAR",
        "total_line_items_price": "VARCHAR",
        "subtotal_price": "VARCHAR",
        "total_discounts": "VARCHAR",
        "total_tax": "VARCHAR",
        "total_price": "VARCHAR",
        "current_total_price": "VARCHAR",
        "test": "BOOLEAN",
        "source_name": "VARCHAR",
        "customer": _ORDER_CUSTOMER,
        "line_items": _ORDER_LINE,
        "discount_codes": "STRUCT(code VARCHAR, amount VARCHAR, type VARCHAR)[]",
    },
    key="id",
    latest=text_timestamp_sql("updated_at"),
    tables=(
        RawTable(
            name="orders",
            description="Shopify orders as landed, one row per order version and day.",
            select_sql="""
                select
                    id, name, order_number, email, created_at, updated_at, processed_at,
                    cancelled_at, cancel_reason, lower(trim(financial_status)) as financial_status,
                    fulfillment_status,
                    upper(trim(currency)) as currency, presentment_currency,
                    total_line_items_price, subtotal_price,
                    total_discounts, total_tax, total_price, current_total_price, test,
                    source_name,
                    customer.id as customer_id,
                    customer.email as customer_email,
                    customer.first_name as customer_first_name,
                    customer.last_name as customer_last_name,
                    customer.created_at as customer_created_at,
                    customer.email_marketing_consent.state as customer_consent_state,
                    customer.email_marketing_consent.opt_in_level as customer_consent_opt_in_level,
                    customer.email_marketing_consent.consent_updated_at
                        as customer_consent_updated_at,
                    array_to_string(list_transform(discount_codes, lambda d: d.code), ',')
                        as discount_codes,
                    len(line_items) as line_item_count,
                    _source_file, _partition_date, _batch_id, _loaded_at,
                from batch
            """,
        ),
        RawTable(
            name="order_line_items",
            description="The line items of each landed order version.",
            select_sql=_line_items_sql(
                parent="id as order_id, updated_at as order_updated_at",
                fields="line.id as line_item_id, line.product_id, line.variant_id, line.sku, "
                "line.title, line.vendor, line.product_type, line.quantity, line.price, "
                "line.total_discount",
            ),
        ),
    ),
)

CHECKOUTS = SourceSpec(
    name="checkouts",
    description="Shopify abandoned `Checkout` objects, one JSON object per line.",
    file_format="json",
    suffixes=JSON_SUFFIXES,
    columns={
        "id": "BIGINT",
        "token": "VARCHAR",
        "cart_token": "VARCHAR",
        "email": "VARCHAR",
        "created_at": "VARCHAR",
        "updated_at": "VARCHAR",
        "completed_at": "VARCHAR",
        "currency": "VARCHAR",
        "presentment_currency": "VARCHAR",
        "subtotal_price": "VARCHAR",
        "total_discounts": "VARCHAR",
        "total_price": "VARCHAR",
        "abandoned_checkout_url": "VARCHAR",
        "customer": "STRUCT(id BIGINT, email VARCHAR, first_name VARCHAR, last_name VARCHAR)",
        "line_items": _CHECKOUT_LINE,
    },
    key="token",
    latest=text_timestamp_sql("updated_at"),
    tables=(
        RawTable(
            name="checkouts",
            description="Shopify abandoned checkouts as landed, one row per version and day.",
            select_sql="""
                select
                    id, token, cart_token, email, created_at, updated_at, completed_at,
                    upper(trim(currency)) as currency, presentment_currency, subtotal_price,
                    total_discounts,
                    total_price, abandoned_checkout_url,
                    customer.id as customer_id,
                    customer.email as customer_email,
                    customer.first_name as customer_first_name,
                    customer.last_name as customer_last_name,
                    len(line_items) as line_item_count,
                    _source_file, _partition_date, _batch_id, _loaded_at,
                from batch
            """,
        ),
        RawTable(
            name="checkout_line_items",
            description="The line items of each landed checkout version.",
            select_sql=_line_items_sql(
                parent="token as checkout_token, updated_at as checkout_updated_at",
                fields="line.product_id, line.variant_id, line.sku, line.title, line.vendor, "
                "line.product_type, line.quantity, line.price",
            ),
        ),
    ),
)

EMAIL_EVENTS = SourceSpec(
    name="email_events",
    description="SendGrid Event Webhook events, one JSON object per line.",
    file_format="json",
    suffixes=JSON_SUFFIXES,
    columns={
        "email": "VARCHAR",
        "timestamp": "BIGINT",
        "event": "VARCHAR",
        "sg_event_id": "VARCHAR",
        "sg_message_id": "VARCHAR",
        "category": "JSON",
        "campaign_id": "VARCHAR",
        "asm_group_id": "BIGINT",
        "url": "VARCHAR",
        "reason": "VARCHAR",
        "status": "VARCHAR",
        "type": "VARCHAR",
        "bounce_classification": "VARCHAR",
        "sg_machine_open": "BOOLEAN",
        "response": "VARCHAR",
        "useragent": "VARCHAR",
    },
    key="sg_event_id",
    latest="timestamp",
    tables=(
        RawTable(
            name="email_events",
            description="SendGrid webhook events as landed, one row per event id and day.",
            select_sql=f"""
                select
                    sg_event_id, sg_message_id, email, lower(trim(event)) as event,
                    -- Epoch seconds; a relay's milliseconds are divided by 1000.
                    case when abs(timestamp) >= {EPOCH_MILLISECONDS_FROM}
                        then timestamp // 1000 else timestamp end as timestamp,
                    -- SendGrid sends one category as a string and several as an array.
                    case when json_type(category) = 'ARRAY'
                        then array_to_string(from_json(category, '["VARCHAR"]'), ',')
                        else category ->> '$' end as category,
                    campaign_id, asm_group_id, url, reason, status, type, bounce_classification,
                    sg_machine_open, response, useragent,
                    _source_file, _partition_date, _batch_id, _loaded_at,
                from batch
            """,
        ),
    ),
)

CONTACTS = SourceSpec(
    name="contacts",
    description="The shop's customer/subscriber export with e-mail marketing consent (CSV).",
    file_format="csv",
    suffixes=CSV_SUFFIXES,
    columns={
        "customer_id": "VARCHAR",
        "email": "VARCHAR",
        "first_name": "VARCHAR",
        "last_name": "VARCHAR",
        "email_marketing_consent_state": "VARCHAR",
        "email_marketing_opt_in_level": "VARCHAR",
        "email_marketing_consent_updated_at": "VARCHAR",
        "source": "VARCHAR",
        "birthday": "VARCHAR",
        "created_at": "VARCHAR",
        "updated_at": "VARCHAR",
    },
    key="lower(trim(email))",
    latest=text_timestamp_sql("updated_at"),
    tables=(
        RawTable(
            name="contacts",
            description="Contact export rows as landed (text), one row per e-mail and day.",
            select_sql="""
                select
                    customer_id, email, first_name, last_name,
                    lower(trim(email_marketing_consent_state)) as email_marketing_consent_state,
                    email_marketing_opt_in_level, email_marketing_consent_updated_at, source,
                    birthday, created_at, updated_at,
                    _source_file, _partition_date, _batch_id, _loaded_at,
                from batch
            """,
        ),
    ),
)

SOURCES: tuple[SourceSpec, ...] = (ORDERS, CHECKOUTS, EMAIL_EVENTS, CONTACTS)
