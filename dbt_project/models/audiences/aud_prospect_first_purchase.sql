-- Subscribed contacts without an order: a strong first-purchase offer.
{{ config(meta={'audience': {
    'kind': 'segment',
    'list_name': 'Prospects: first purchase',
    'holdout_share': 0.1,
    'priority': 10,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select email, stage_reason as reason
    from {{ ref('customer_lifecycle') }}
    where lifecycle_stage = 'prospect'
)

{{ audience_members('eligible') }}
