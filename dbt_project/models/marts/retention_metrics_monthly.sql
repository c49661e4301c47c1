-- Retention by calendar month (shop time), up to the run date's month.
-- Active at a date: a completed order at most lapse_days_long days before it (macro
-- within_long_window, the definition customer_lifecycle and customer_churn use).
-- Formulas (DOMAIN):
--   customer churn rate % = (active at start - of those, active at end) / active at start x 100
--     (customers won during the month do not offset churn)
--   repeat purchase rate % = customers with 2+ orders / customers, as of the month's end
--   revenue churn rate % = (revenue lost - new revenue) / revenue at start x 100, each a
--     month's revenue. A shop without subscriptions has no recurring revenue, so a customer's
--     monthly revenue at the start is their run rate: what they spent in the long window
--     before it (lapse_days_long + 1 days) x the month's days / the window's days. Lost = the
--     run rate of the customers active at the start and not at the end; new = what customers
--     whose first order fell in the month spent in it.
-- Both churn rates need a full long window of order history before the month starts: until
-- then nobody could yet have left it, and they are NULL (has_full_history false), not 0.
with {{ month_starts(ref('int_orders_completed'), 'ordered_date') }},

orders as (
    select
        email,
        ordered_date,
        net_revenue_amount,
        cast({{ dbt.date_trunc('month', 'ordered_date') }} as date) as order_month
    from {{ ref('int_orders_completed') }}
),

firsts as (
    select email, min(ordered_date) as first_order_date from orders group by email
),

month_ends as (
    select
        month_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date)
            as month_end
    from months
),

bounds as (
    select
        month_start,
        cast({{ dbt.dateadd('day', -1, 'month_start') }} as date) as start_date,
        {{ dbt.datediff('month_start', dbt.dateadd('month', 1, 'month_start'), 'day') }}
            as days_in_month,
        -- A full long window of order history before the month's start.
        {{ dbt.datediff('(select min(ordered_date) from orders)',
            dbt.dateadd('day', -1, 'month_start'), 'day') }}
            >= {{ var('lapse_days_long') }} as has_full_history,
        -- The run date's month ends at the run date until it is over (is_complete_month).
        case when month_end > {{ run_date() }} then {{ run_date() }} else month_end end
            as end_date,
        month_end <= {{ run_date() }} as is_complete_month
    from month_ends
),

status as (
    -- Per month and customer: active at the start, active at the end, orders in the month.
    select
        b.month_start,
        o.email,
        max(case when o.ordered_date <= b.start_date and {{ within_long_window(
            dbt.datediff('o.ordered_date', 'b.start_date', 'day')) }}
            then 1 else 0 end) as active_at_start,
        max(case when {{ within_long_window(dbt.datediff('o.ordered_date', 'b.end_date', 'day')) }}
            then 1 else 0 end) as active_at_end,
        sum(case when o.order_month = b.month_start then o.net_revenue_amount else 0 end)
            as revenue_in_month,
        sum(case when o.ordered_date <= b.start_date and {{ within_long_window(
            dbt.datediff('o.ordered_date', 'b.start_date', 'day')) }}
            then o.net_revenue_amount else 0 end) as revenue_window_at_start,
        sum(case when o.ordered_date <= b.end_date then 1 else 0 end) as orders_to_date
    from bounds b
    join orders o on o.ordered_date <= b.end_date
    group by b.month_start, o.email
),

monthly as (
    select
        s.month_start,
        sum(s.active_at_start) as customers_at_start,
        sum(s.active_at_end) as active_customers,
        sum(case when s.active_at_start = 1 and s.active_at_end = 1 then 1 else 0 end)
            as retained_customers,
        sum(case when f.first_order_date >= s.month_start
            and f.first_order_date <= b.end_date then 1 else 0 end) as new_customers,
        count(*) as customers_to_date,
        sum(case when s.orders_to_date >= 2 then 1 else 0 end) as repeat_customers,
        b.has_full_history,
        b.is_complete_month,
        sum(s.revenue_in_month) as revenue_amount,
        -- Monthly run rates: the long window's revenue scaled to the month's days.
        sum(s.revenue_window_at_start) * b.days_in_month / ({{ var('lapse_days_long') }} + 1)
            as revenue_at_start_amount,
        sum(case when s.active_at_start = 1 and s.active_at_end = 0
            then s.revenue_window_at_start else 0 end)
            * b.days_in_month / ({{ var('lapse_days_long') }} + 1) as revenue_lost_amount,
        sum(case when f.first_order_date >= s.month_start and f.first_order_date <= b.end_date
            then s.revenue_in_month else 0 end) as revenue_new_amount
    from status s
    join bounds b on b.month_start = s.month_start
    join firsts f on f.email = s.email
    group by s.month_start, b.has_full_history, b.is_complete_month, b.days_in_month
),

final as (
    select
        month_start,
        customers_at_start,
        active_customers,
        retained_customers,
        new_customers,
        customers_to_date,
        repeat_customers,
        has_full_history,
        is_complete_month,
        case when has_full_history and customers_at_start > 0
            then round(100.0 * (customers_at_start - retained_customers) / customers_at_start, 2)
        end as customer_churn_rate_pct,
        case when customers_to_date > 0
            then round(100.0 * repeat_customers / customers_to_date, 2)
        end as repeat_purchase_rate_pct,
        revenue_amount,
        round(revenue_at_start_amount, 2) as revenue_at_start_amount,
        round(revenue_lost_amount, 2) as revenue_lost_amount,
        revenue_new_amount,
        case when has_full_history and revenue_at_start_amount > 0
            then round(100.0 * (revenue_lost_amount - revenue_new_amount) / revenue_at_start_amount, 2)
        end as revenue_churn_rate_pct,
        {{ run_date() }} as run_date
    from monthly
)

select * from final
