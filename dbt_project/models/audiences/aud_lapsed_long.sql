-- Long-term lapsed customers, treated like prospects again: at most once a quarter.
{{ config(meta={'audience': {
    'kind': 'segment',
    'list_name': 'Long-term lapsed',
    'holdout_share': 0.1,
    'priority': 20,
    'max_change_share': 0.5,
    'cadence': 'quarterly',
}}) }}

with eligible as (
    select email, stage_reason as reason
    from {{ ref('customer_lifecycle') }}
    where lifecycle_stage = 'long_term_lapsed'
)

{{ audience_members('eligible') }}
