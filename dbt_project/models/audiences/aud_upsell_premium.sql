-- Active customers who bought only the budget end of a category: its premium products.
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'Up-sell to premium',
    'holdout_share': 0.1,
    'priority': 35,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select p.email, 'budget buyer in ' || p.upsell_category as reason
    from {{ ref('int_customer_preferences') }} p
    join {{ ref('customer_lifecycle') }} l on l.email = p.email
    where l.lifecycle_stage in ('new', 'active')
        and p.upsell_category is not null
)

{{ audience_members('eligible') }}
