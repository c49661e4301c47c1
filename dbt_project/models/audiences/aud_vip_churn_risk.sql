-- VIPs the churn model is losing (churn risk high): a personal retention offer while they
-- can still be kept. Empty while the model is not fitted (too little data).
{{ config(meta={'audience': {
    'kind': 'segment',
    'list_name': 'VIPs at risk of churning',
    'holdout_share': 0.1,
    'priority': 25,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select
        r.email,
        'VIP with a churn probability of '
            || cast(cast(p.churn_probability * 100 as decimal(5, 1)) as {{ dbt.type_string() }})
            || '% (high)' as reason
    from {{ ref('customer_rfm') }} r
    join {{ ref('customer_predictions') }} p on p.email = r.email
    where r.is_vip and p.churn_risk_band = 'high'
)

{{ audience_members('eligible') }}
