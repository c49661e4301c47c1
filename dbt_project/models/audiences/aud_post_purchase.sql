-- Customers whose last order is at most post_purchase_days old: feedback, then a repeat incentive.
-- The list turns over quickly by design (max_change_share 1).
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'Post-purchase follow-up',
    'holdout_share': 0.1,
    'priority': 90,
    'max_change_share': 1.0,
    'cadence': 'daily',
}}) }}

with eligible as (
    select email, 'ordered on ' || cast(last_order_date as {{ dbt.type_string() }}) as reason
    from {{ ref('customer_lifecycle') }}
    where last_order_date is not null
        and {{ dbt.datediff('last_order_date', run_date(), 'day') }}
            between 0 and {{ var('post_purchase_days') }}
)

{{ audience_members('eligible') }}
