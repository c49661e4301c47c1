-- Third step, from cart_step_3_after_days until cart_series_days after the abandonment.
-- The steps share one holdout (holdout_key), so a contact is held out of the whole series.
{{ config(tags=['intraday'], meta={'audience': {
    'list_name': 'Cart abandonment 3: last reminder',
    'holdout_share': 0.1,
    'holdout_key': 'cart_abandonment',
    'priority': 100,
    'max_change_share': 3.0,
    'cadence': 'every 15 minutes',
    'frequency_capped': false,
    'attributes': {
        'checkout_url': 'VARCHAR',
        'cart_total': 'DECIMAL(18,2)',
        'cart_currency': 'VARCHAR',
        'cart_item_count': 'BIGINT',
        'abandoned_at': 'TIMESTAMP',
    },
}}) }}

with eligible as (
    {{ cart_abandonment_eligible(3) }}
)

{{ audience_members('eligible') }}
