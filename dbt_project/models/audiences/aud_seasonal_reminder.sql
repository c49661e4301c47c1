-- Lapsed seasonal buyers as their season approaches.
{{ config(meta={'audience': {
    'kind': 'segment',
    'list_name': 'Seasonal reminder',
    'holdout_share': 0.1,
    'priority': 50,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select email, stage_reason as reason
    from {{ ref('customer_lifecycle') }}
    where lifecycle_stage = 'seasonal'
)

{{ audience_members('eligible') }}
