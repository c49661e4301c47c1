-- Repeat customers who buy mostly one brand: that brand's other products.
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'Cross-sell by brand',
    'holdout_share': 0.1,
    'priority': 40,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select p.email, 'buys mostly ' || p.favourite_brand as reason
    from {{ ref('int_customer_preferences') }} p
    join {{ ref('customer_lifecycle') }} l on l.email = p.email
    where l.lifecycle_stage in ('new', 'active')
        and l.order_count >= {{ var('cross_sell_min_orders') }}
        and p.favourite_brand_share >= {{ var('cross_sell_min_brand_share') }}
)

{{ audience_members('eligible') }}
