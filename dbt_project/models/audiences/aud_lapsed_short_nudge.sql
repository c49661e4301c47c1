-- Short-term lapsed customers: a timely nudge with a small incentive.
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'Lapsed nudge',
    'holdout_share': 0.1,
    'priority': 70,
    'max_change_share': 0.5,
    'cadence': 'daily',
    'exclusions': {'recent_order': 'an order in the last recent_order_exclusion_days days (default 30): no incentive or win-back mail right after a purchase'},
}}) }}

with eligible as (
    select
        email,
        stage_reason as reason,
        case
            when days_since_last_order <= {{ var('recent_order_exclusion_days') }}
                then 'recent_order'
        end as excluded_by
    from {{ ref('customer_lifecycle') }}
    where lifecycle_stage = 'short_term_lapsed'
)

{{ audience_members('eligible', with_exclusions=true) }}
