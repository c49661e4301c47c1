-- Short-term lapsed customers: a timely nudge with a small incentive.
{{ config(meta={'audience': {
    'list_name': 'Lapsed nudge',
    'holdout_share': 0.1,
    'priority': 70,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select email, stage_reason as reason
    from {{ ref('customer_lifecycle') }}
    where lifecycle_stage = 'short_term_lapsed'
)

{{ audience_members('eligible') }}
