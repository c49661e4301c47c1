-- The top customers by RFM score: exclusive offers.
{{ config(meta={'audience': {
    'kind': 'segment',
    'list_name': 'VIP customers',
    'holdout_share': 0.1,
    'priority': 30,
    'max_change_share': 0.5,
    'cadence': 'daily',
}}) }}

with eligible as (
    select email, 'top ' || cast({{ var('vip_share') }} * 100 as integer) || '% by RFM score' as reason
    from {{ ref('customer_rfm') }}
    where is_vip
)

{{ audience_members('eligible') }}
