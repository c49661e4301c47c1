"""The reference tables every source joins: lookups, the product catalog and the people."""

from __future__ import annotations

import duckdb
import numpy as np

from orchestration.sample.catalog import CATEGORIES, TIERS, VENDORS, Catalog
from orchestration.sample.email_events import CAMPAIGN_KINDS, EVENT_TYPES
from orchestration.sample.landing.shared import register
from orchestration.sample.orders import DISCOUNT_CODES
from orchestration.sample.people import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    SIGNUP_SOURCES,
    People,
)

CUSTOMER_ID_BASE = 6_000_000_000
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


def load_reference(
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
    register(
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
    register(
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
