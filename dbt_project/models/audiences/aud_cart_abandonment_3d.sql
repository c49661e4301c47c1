-- Third step, from cart_step_3_after_days until cart_series_days after the abandonment.
-- Its settings are the series' (cart_abandonment_settings in macros/audiences.sql).
{{ config(tags=['intraday'], meta={'audience': cart_abandonment_settings(
    'Cart abandonment 3: last reminder'
)}) }}

with eligible as (
    {{ cart_abandonment_eligible(3) }}
)

{{ audience_members('eligible') }}
