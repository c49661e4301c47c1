-- Customers past the base's first-to-second-order delay or their own interval, not yet in the bottom 20%.
{{ config(meta={'audience': {
    'kind': 'series',
    'list_name': 'Win-back',
    'holdout_share': 0.1,
    'priority': 60,
    'max_change_share': 0.5,
    'cadence': 'daily',
    'exclusions': {'recent_order': 'an order in the last recent_order_exclusion_days days (default 30): no incentive or win-back mail right after a purchase'},
}}) }}

with eligible as (
    select
        email,
        case
            when order_count = 1 then 'one order, past the first-to-second-order delay of the base'
            else 'past their own usual interval between orders'
        end as reason,
        case
            when days_since_last_order <= {{ var('recent_order_exclusion_days') }}
                then 'recent_order'
        end as excluded_by
    from {{ ref('customer_churn') }}
    where is_win_back_eligible
)

{{ audience_members('eligible', with_exclusions=true) }}
