-- Second step, from cart_step_2_after_hours after the abandonment.
-- Its settings are the series' (cart_abandonment_settings in macros/audiences.sql).
{{ config(tags=['intraday'], meta={'audience': cart_abandonment_settings(
    'Cart abandonment 2: still thinking it over?'
)}) }}

with eligible as (
    {{ cart_abandonment_eligible(2) }}
)

{{ audience_members('eligible') }}
