"""The shop's contact CSV export: sign-ups, consent changes and junk web-form rows."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from orchestration.sample.landing.shared import copy_by_day, register
from orchestration.sample.params import SampleParams


def write_contacts(
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
    register(
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
    register(
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
    copy_by_day(con, query, out, "contacts", "csv", compress=params.compress)
