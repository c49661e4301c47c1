-- Line items of each checkout's latest version.
with source as (
    select * from {{ source('raw', 'checkout_line_items') }}
    where _partition_date <= {{ run_date() }}
),

ranked as (
    select
        *,
        dense_rank() over (
            partition by checkout_token
            order by {{ parse_utc_timestamp('checkout_updated_at') }} desc nulls last,
                _partition_date desc,
                _loaded_at desc
        ) as version_rank
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
