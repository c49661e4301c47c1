-- Customers with one order in the new-customer window: the welcome series.
-- The list turns over quickly by design (max_change_share 1).
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'New customer welcome',
    'holdout_share': 0.1,
    'priority': 80,
    'max_change_share': 1.0,
    'cadence': 'daily',
}}) }}

with eligible as (
    select email, stage_reason as reason
    from {{ ref('customer_lifecycle') }}
    where lifecycle_stage = 'new'
)

{{ audience_members('eligible') }}
