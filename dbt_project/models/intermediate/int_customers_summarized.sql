-- One row per customer (a contact with at least one completed order): order counts, dates,
-- revenue and the customer's own usual interval between orders.
with orders as (
    select * from {{ ref('int_orders_completed') }}
),

numbered as (
    select
        *,
        row_number() over (partition by email order by ordered_at, order_id) as order_number
    from orders
),

summarized as (
    select
        email,
        max(customer_id) as customer_id,
        count(*) as order_count,
        sum(net_revenue_amount) as net_revenue_amount,
        min(ordered_date) as first_order_date,
        max(ordered_date) as last_order_date,
        min(case when order_number = 2 then ordered_date end) as second_order_date
    from numbered
    group by email
),

final as (
    select
        email,
        customer_id,
        order_count,
        net_revenue_amount,
        first_order_date,
        second_order_date,
        last_order_date,
        {{ dbt.datediff('last_order_date', run_date(), 'day') }} as days_since_last_order,
        {{ dbt.datediff('first_order_date', run_date(), 'day') }} as days_since_first_order,
        {{ dbt.datediff('first_order_date', 'last_order_date', 'day') }} as order_span_days,
        case
            when order_count > 1
                -- Rounded to 0.01 day, for people: windows are judged on order_span_days
                -- exactly (macro past_own_interval), never on this figure.
                then round(
                    cast({{ dbt.datediff('first_order_date', 'last_order_date', 'day') }}
                        as decimal(12, 4)) / (order_count - 1),
                    2
                )
        end as avg_days_between_orders
    from summarized
)

select * from final
