-- Line items of each order's latest version (the same version stg_shopify__orders keeps).
with source as (
    {{ landed_by_run_date(source('raw', 'order_line_items'), 'orders') }}
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
        {{ to_money('price') }} * quantity as line_amount
    from ranked
    where version_rank = 1
)

select * from final
