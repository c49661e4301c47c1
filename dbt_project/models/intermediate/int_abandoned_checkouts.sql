-- Each contact's latest checkout and where it stands in the abandonment series as of run_at.
-- Built every 15 minutes by the cart job (tag intraday) as well as daily. Orders come from
-- the last daily build: between two, the checkout's own completion stops the series.
{{ config(tags=['intraday']) }}

with checkouts as (
    select
        checkout_token,
        email,
        first_name,
        created_at,
        coalesce(updated_at, created_at) as abandoned_at,
        completed_at,
        total_price_amount,
        currency,
        line_item_count,
        abandoned_checkout_url
    from {{ ref('stg_shopify__checkouts') }}
    where email is not null
        and created_at <= {{ run_at() }}
),

orders as (
    select email, ordered_at, has_discount_code from {{ ref('int_orders_completed') }}
),

latest as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by email order by abandoned_at desc, checkout_token desc
            ) as recency_rank
        from checkouts
    ) ranked
    where recency_rank = 1
        and abandoned_at >= {{ run_at() }} - interval '{{ var("cart_series_days") + 1 }} days'
),

-- Came back with a discount after an earlier abandonment: capped out of the series.
discount_returners as (
    select distinct c.email
    from checkouts c
    join latest l on l.email = c.email and c.abandoned_at < l.abandoned_at
    join orders o on o.email = c.email
        and o.has_discount_code
        and o.ordered_at > c.abandoned_at
        and o.ordered_at <= c.abandoned_at + interval '{{ var("cart_discount_window_days") }} days'
        and o.ordered_at < l.abandoned_at
    where c.abandoned_at >= {{ run_at() }}
        - interval '{{ var("cart_discount_lookback_days") }} days'
),

judged as (
    select
        l.*,
        {{ minutes_between('l.abandoned_at', run_at()) }} as minutes_since_abandoned,
        l.completed_at is not null and l.completed_at <= {{ run_at() }} as is_completed,
        exists (
            select 1 from orders o
            where o.email = l.email
                and o.ordered_at >= l.created_at
                and o.ordered_at <= {{ run_at() }}
        ) as has_ordered_since,
        l.email in (select email from discount_returners) as is_discount_capped
    from latest l
),

final as (
    select
        email,
        checkout_token,
        first_name,
        created_at,
        abandoned_at,
        minutes_since_abandoned,
        total_price_amount as cart_total,
        currency as cart_currency,
        line_item_count as cart_item_count,
        abandoned_checkout_url as checkout_url,
        is_completed,
        has_ordered_since,
        is_discount_capped,
        case
            when is_completed or has_ordered_since or is_discount_capped then null
            when minutes_since_abandoned < {{ var('cart_step_1_after_minutes') }} then null
            when minutes_since_abandoned < {{ var('cart_step_2_after_hours') * 60 }} then 1
            when minutes_since_abandoned < {{ var('cart_step_3_after_days') * 1440 }} then 2
            when minutes_since_abandoned < {{ var('cart_series_days') * 1440 }} then 3
        end as series_step,
        {{ run_at() }} as run_at
    from judged
)

select * from final
