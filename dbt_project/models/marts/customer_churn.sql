-- Churn and win-back eligibility per customer as of the run date: the rules (long window,
-- own interval), the RFM bottom 20%, and the churn model's P(alive) where it is fitted.
with customers as (
    select * from {{ ref('int_customers_summarized') }}
),

predictions as (
    select email, p_alive, churn_probability, churn_risk_band, is_predicted_gone,
        prediction_status
    from {{ ref('customer_predictions') }}
),

rfm as (
    select email, is_bottom_20 from {{ ref('customer_rfm') }}
),

base as (
    -- The base's average delay between a customer's first and second purchase. A decimal
    -- of six places: Spark's average of a decimal keeps only four more places than it.
    select
        avg({{ dbt.datediff('first_order_date', 'second_order_date', 'day') }} * 1.000000)
            as avg_first_to_second_days
    from customers
    where second_order_date is not null
),

flagged as (
    select
        c.email,
        c.customer_id,
        c.order_count,
        c.days_since_last_order,
        c.days_since_first_order,
        case
            when c.order_count >= {{ var('own_interval_min_orders') }}
                then c.avg_days_between_orders
        end as own_interval_days,
        b.avg_first_to_second_days,
        r.is_bottom_20,
        p.p_alive,
        p.churn_probability,
        p.churn_risk_band,
        p.prediction_status,
        coalesce(p.is_predicted_gone, false) as is_predicted_gone,
        c.order_count >= {{ var('own_interval_min_orders') }}
            and {{ past_own_interval('c.days_since_last_order', 'c.order_count',
                'c.order_span_days', var('churn_interval_multiple')) }} as is_past_own_interval
    from customers c
    cross join base b
    left join rfm r on r.email = c.email
    left join predictions p on p.email = c.email
),

final as (
    select
        email,
        customer_id,
        order_count,
        days_since_last_order,
        own_interval_days,
        avg_first_to_second_days,
        not {{ within_long_window('days_since_last_order') }} as is_past_long_window,
        is_past_own_interval,
        not {{ within_long_window('days_since_last_order') }} or is_past_own_interval
            as is_churned,
        case
            when not {{ within_long_window('days_since_last_order') }}
                then 'no order for longer than the long window'
            when is_past_own_interval
                then 'no order for longer than the own interval times the churn multiple'
        end as churn_reason,
        -- Win-back: a one-order customer past the base's first-to-second delay, or a repeat
        -- customer past their own usual interval, unless their RFM is in the bottom 20% or
        -- the churn model holds them gone.
        (
            (order_count = 1 and days_since_first_order > avg_first_to_second_days)
            or (order_count > 1 and days_since_last_order > coalesce(
                own_interval_days, avg_first_to_second_days
            ))
        ) and not coalesce(is_bottom_20, false) and not is_predicted_gone
            as is_win_back_eligible,
        coalesce(is_bottom_20, false) as is_bottom_20,
        p_alive,
        churn_probability,
        churn_risk_band,
        is_predicted_gone,
        prediction_status
    from flagged
)

select * from final
