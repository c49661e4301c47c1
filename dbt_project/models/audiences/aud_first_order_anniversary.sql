-- Customers whose first order was on this day of an earlier year (29 February counts on 28 February).
-- A new list every day: only a surge should trip the circuit breaker (max_change_share 3).
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'First-order anniversary',
    'holdout_share': 0.1,
    'priority': 85,
    'max_change_share': 3.0,
    'cadence': 'daily',
}}) }}

with eligible as (
    select
        email,
        {{ dbt.datediff('first_order_date', run_date(), 'year') }} || ' year(s) since the first order' as reason
    from {{ ref('customer_lifecycle') }}
    where first_order_date < {{ run_date() }}
        and extract(year from first_order_date) < extract(year from {{ run_date() }})
        and extract(month from first_order_date) = extract(month from {{ run_date() }})
        and (
            extract(day from first_order_date) = extract(day from {{ run_date() }})
            or (
                extract(month from first_order_date) = 2
                and extract(day from first_order_date) = 29
                and extract(day from {{ run_date() }}) = 28
                and extract(month from {{ dbt.dateadd('day', 1, run_date()) }}) = 3
            )
        )
)

{{ audience_members('eligible') }}
