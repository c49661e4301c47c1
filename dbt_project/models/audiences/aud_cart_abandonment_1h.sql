-- First step, from cart_step_1_after_minutes after the last checkout activity: service only
-- (help, a person who answers), never a discount.
-- Its settings are the series' (cart_abandonment_settings in macros/audiences.sql).
{{ config(tags=['intraday'], meta={'audience': cart_abandonment_settings(
    'Cart abandonment 1: can we help?'
)}) }}

with eligible as (
    {{ cart_abandonment_eligible(1) }}
)

{{ audience_members('eligible') }}
