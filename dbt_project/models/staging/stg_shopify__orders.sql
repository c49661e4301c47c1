-- One row per Shopify order: its latest version landed on or before the run date.
-- Incremental, delete+insert on order_id: a build recomputes only the orders that have a
-- version in a landing day that changed since the last build (macros/incremental_landings.sql:
-- landed, re-landed, held, released, after the run date), from all of their landed versions,
-- and equals a full rebuild. Every consumer reads this table instead of ranking the versions.
{{ config(
    materialized='incremental',
    incremental_strategy=landing_incremental_strategy(),
    partition_by=landing_partition_by(),
    unique_key='order_id',
    pre_hook=[
        "{{ drop_temp_table('stg_orders_changed') }}",
        "{{ changed_landing_keys(source('raw', 'orders'), 'orders', 'id', 'order_id', 'stg_orders_changed') }}",
        "{{ delete_changed_keys('order_id', 'stg_orders_changed') }}",
    ],
) }}

with source as (
    select * from (
        {{ landed_by_run_date(source('raw', 'orders'), 'orders') }}
    ) landed
    {% if is_incremental() %}
    where id in (select changed_key from {{ changed_keys_table('stg_orders_changed') }})
    {% endif %}
),

typed as (
    select
        id as order_id,
        name as order_name,
        customer_id,
        {{ normalize_email(shopify_email('email', 'customer_email')) }} as email,
        email as email_as_landed,
        {{ parse_utc_timestamp('created_at') }} as ordered_at,
        {{ parse_utc_timestamp('updated_at') }} as updated_at,
        {{ parse_utc_timestamp('cancelled_at') }} as cancelled_at,
        lower(financial_status) as financial_status,
        upper(currency) as currency,
        {{ to_money('total_price') }} as total_price_amount,
        {{ to_money('subtotal_price') }} as subtotal_price_amount,
        {{ to_money('total_discounts') }} as total_discounts_amount,
        {{ to_money('coalesce(current_total_price, total_price)') }} as net_revenue_amount,
        coalesce(test, false) as is_test,
        discount_codes,
        line_item_count,
        customer_first_name as first_name,
        customer_last_name as last_name,
        lower(customer_consent_state) as consent_state_at_order,
        _partition_date as landed_date,
        _loaded_at,
        {{ latest_version_rank('id', 'updated_at') }} as version_rank
    from source
),

final as (
    select
        order_id,
        order_name,
        customer_id,
        email,
        {{ is_valid_email('email') }} as is_valid_email,
        email_as_landed,
        ordered_at,
        {{ shop_date('ordered_at') }} as ordered_date,
        updated_at,
        cancelled_at,
        financial_status,
        currency,
        total_price_amount,
        subtotal_price_amount,
        total_discounts_amount,
        net_revenue_amount,
        is_test,
        cancelled_at is not null or financial_status = 'voided' as is_cancelled,
        financial_status in ('refunded', 'partially_refunded') as is_refunded,
        nullif(discount_codes, '') is not null as has_discount_code,
        nullif(discount_codes, '') as discount_codes,
        line_item_count,
        first_name,
        last_name,
        consent_state_at_order,
        landed_date,
        _loaded_at as loaded_at
    from typed
    where version_rank = 1
)

select * from final{{ changed_days_only('stg_orders_changed') }}
