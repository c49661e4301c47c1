-- Orders that count as purchases: placed on or before the run date, not cancelled, not a
-- test, not fully refunded, and with a valid e-mail to tie them to a contact.
with orders as (
    select * from {{ ref('stg_shopify__orders') }}
),

final as (
    select
        order_id,
        email,
        customer_id,
        ordered_at,
        ordered_date,
        net_revenue_amount,
        total_discounts_amount,
        has_discount_code,
        discount_codes
    from orders
    where ordered_date <= {{ run_date() }}
        and not is_cancelled
        and not is_test
        and financial_status <> 'refunded'
        and is_valid_email
        and net_revenue_amount > 0
)

select * from final
