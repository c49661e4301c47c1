-- Line items of each checkout's latest version.
with source as (
    {{ landed_by_run_date(source('raw', 'checkout_line_items'), 'checkouts') }}
),

ranked as (
    select
        *,
        {{ latest_version_rank('checkout_token', 'checkout_updated_at', 'dense_rank') }} as version_rank
    from source
),

final as (
    select
        {{ dbt.concat(["checkout_token", "'-'", "cast(position as " ~ dbt.type_string() ~ ")"]) }}
            as checkout_line_key,
        checkout_token,
        position,
        product_id,
        variant_id,
        sku,
        title as product_title,
        vendor as brand,
        product_type as category,
        quantity,
        {{ to_money('price') }} as unit_price_amount
    from ranked
    where version_rank = 1
)

select * from final
