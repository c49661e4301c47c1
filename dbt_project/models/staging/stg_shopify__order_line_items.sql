-- Line items of each order's latest version (the same version stg_shopify__orders keeps).
-- Incremental like stg_shopify__orders: the lines of every order with a version in a changed
-- landing day are deleted and taken again from its latest version (which may have fewer).
{{ config(
    materialized='incremental',
    incremental_strategy=landing_incremental_strategy(),
    partition_by=landing_partition_by(),
    unique_key='order_line_key',
    pre_hook=[
        "{{ drop_temp_table('stg_order_lines_changed') }}",
        "{{ changed_landing_keys(source('raw', 'order_line_items'), 'orders', 'order_id', 'order_id', 'stg_order_lines_changed') }}",
        "{{ delete_changed_keys('order_id', 'stg_order_lines_changed') }}",
    ],
) }}

with source as (
    select * from (
        {{ landed_by_run_date(source('raw', 'order_line_items'), 'orders') }}
    ) landed
    {% if is_incremental() %}
    where order_id in (select changed_key from {{ changed_keys_table('stg_order_lines_changed') }})
    {% endif %}
),

ranked as (
    select
        *,
        {{ latest_version_rank('order_id', 'order_updated_at', 'dense_rank') }} as version_rank
    from source
),

final as (
    select
        {{ dbt.concat(["cast(order_id as " ~ dbt.type_string() ~ ")", "'-'", "cast(position as " ~ dbt.type_string() ~ ")"]) }}
            as order_line_key,
        order_id,
        position,
        line_item_id,
        product_id,
        variant_id,
        sku,
        title as product_title,
        vendor as brand,
        product_type as category,
        quantity,
        {{ to_money('price') }} as unit_price_amount,
        {{ to_money('price') }} * quantity as line_amount,
        _partition_date as landed_date,
        _loaded_at as loaded_at
    from ranked
    where version_rank = 1
)

select * from final{{ changed_days_only('stg_order_lines_changed') }}
