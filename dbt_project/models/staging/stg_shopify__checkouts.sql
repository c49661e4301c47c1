-- One row per Shopify checkout: its latest version landed on or before the run date.
{{ config(tags=['intraday']) }}

with source as (
    {{ landed_by_run_date(source('raw', 'checkouts'), 'checkouts') }}
),

ranked as (
    select
        *,
        {{ latest_version_rank('token', 'updated_at') }} as version_rank
    from source
),

final as (
    select
        token as checkout_token,
        id as checkout_id,
        customer_id,
        {{ normalize_email(shopify_email('email', 'customer_email')) }} as email,
        {{ parse_utc_timestamp('created_at') }} as created_at,
        {{ parse_utc_timestamp('updated_at') }} as updated_at,
        {{ parse_utc_timestamp('completed_at') }} as completed_at,
        completed_at is not null as is_completed,
        upper(currency) as currency,
        {{ to_money('total_price') }} as total_price_amount,
        line_item_count,
        abandoned_checkout_url,
        customer_first_name as first_name,
        _partition_date as landed_date
    from ranked
    where version_rank = 1
)

select * from final
