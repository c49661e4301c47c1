-- The churn model's predictions for every customer as of the run date. Each customer's
-- history is summed up as the model sees it: x repeat purchase days (days with a completed
-- order after the first), t_x days from the first to the last, T days from the first to
-- the run date. P(alive) is closed form; the orders expected were the customer alive come
-- from predictions.clv_expected_orders (per x and T); both models' parameters from
-- predictions.clv_fits. Without a fitted model for the run date every prediction is null
-- and prediction_status says why; churn is then judged by the rules alone.
{%- set fits = source('predictions', 'clv_fits') %}
{%- set expected = source('predictions', 'clv_expected_orders') %}
{%- set modelled = relation_exists(fits) and relation_exists(expected) %}
{%- set rate = var('clv_monthly_discount_rate') | float %}
{#- The next 12 months' expected orders, each month's discounted to today. -#}
{%- set discounted = [] %}
{%- for month in range(1, 13) %}
    {%- set this = 'e.orders_month_%02d_if_alive' % month %}
    {%- set before = ('e.orders_month_%02d_if_alive' % (month - 1)) if month > 1 else '0' %}
    {%- do discounted.append('(' ~ this ~ ' - ' ~ before ~ ') / ' ~ ((1 + rate) ** month)) %}
{%- endfor %}
with purchase_days as (
    select
        email,
        max(customer_id) as customer_id,
        ordered_date,
        sum(net_revenue_amount) as spend
    from {{ ref('int_orders_completed') }}
    group by email, ordered_date
),

numbered as (
    select
        *,
        row_number() over (partition by email order by ordered_date) as day_number
    from purchase_days
),

histories as (
    select
        email,
        max(customer_id) as customer_id,
        count(*) - 1 as x,
        {{ dbt.datediff('min(ordered_date)', 'max(ordered_date)', 'day') }} as t_x,
        {{ dbt.datediff('min(ordered_date)', run_date(), 'day') }} as big_t,
        -- Gamma-Gamma's m_x: the average spend of a repeat purchase day.
        avg(case when day_number > 1 then spend end) as repeat_day_value
    from numbered
    group by email
),

{%- if modelled %}

fit as (
    select * from {{ fits }} where run_date = {{ run_date() }}
),

expected as (
    select * from {{ expected }} where run_date = {{ run_date() }}
),

scored as (
    select
        h.*,
        f.run_date as model_run_date,
        f.params_id,
        f.r,
        f.alpha,
        case
            when f.status = 'fitted' and e.x is null
                -- predictions.clv_expected_orders holds the last run date's only: dbt was run
                -- for another day than the churn model.
                then 'no expected orders for the run date: run the churn model for it'
            when f.status = 'fitted' then 'predicted'
            else coalesce(f.reason, 'no churn model for the run date')
        end as prediction_status,
        case
            when f.status <> 'fitted' or f.status is null or e.x is null then null
            when h.x = 0 then 1.0
            else 1.0 / (1.0 + exp(least(700.0,
                ln(f.a / (f.b + h.x - 1))
                + (f.r + h.x) * ln((f.alpha + h.big_t) / (f.alpha + h.t_x))
            )))
        end as p_alive,
        e.orders_90d_if_alive,
        e.orders_month_12_if_alive as orders_365d_if_alive,
        {{ discounted | join('\n            + ') }} as discounted_orders_if_alive,
        case when f.status = 'fitted' then
            (f.gamma + h.x * coalesce(h.repeat_day_value, 0)) * f.p / (f.p * h.x + f.q - 1)
        end as expected_order_value
    from histories h
    left join fit f on 1 = 1
    left join expected e on e.x = h.x and e.big_t = h.big_t
),

{%- else %}

scored as (
    select
        h.*,
        cast(null as date) as model_run_date,
        cast(null as {{ dbt.type_string() }}) as params_id,
        cast(null as {{ dbt.type_float() }}) as r,
        cast(null as {{ dbt.type_float() }}) as alpha,
        'no churn model for the run date' as prediction_status,
        cast(null as {{ dbt.type_float() }}) as p_alive,
        cast(null as {{ dbt.type_float() }}) as orders_90d_if_alive,
        cast(null as {{ dbt.type_float() }}) as orders_365d_if_alive,
        cast(null as {{ dbt.type_float() }}) as discounted_orders_if_alive,
        cast(null as {{ dbt.type_float() }}) as expected_order_value
    from histories h
),

{%- endif %}

judged as (
    select
        *,
        -- Held gone: P(alive) (as shown, to 6 places) below the threshold, and no order in
        -- the short lapse window (the model may rate a drop-out likely right after any
        -- purchase; nobody who just ordered is called gone).
        coalesce(
            cast(p_alive as decimal(10, 6)) < {{ var('churn_p_alive_threshold') }}
                and big_t - t_x > {{ var('lapse_days_short') }},
            false
        ) as is_predicted_gone
    from scored
),

final as (
    select
        email,
        customer_id,
        x as repeat_purchase_days,
        t_x as first_to_last_purchase_days,
        big_t as days_since_first_purchase,
        cast(p_alive as decimal(10, 6)) as p_alive,
        is_predicted_gone,
        cast(1 - p_alive as decimal(10, 6)) as churn_probability,
        case
            when p_alive is null then null
            when 1 - p_alive > {{ var('churn_risk_high_above') }} then 'high'
            when 1 - p_alive < {{ var('churn_risk_low_below') }} then 'low'
            else 'medium'
        end as churn_risk_band,
        cast(p_alive * orders_90d_if_alive as decimal(12, 4)) as expected_orders_90d,
        cast(p_alive * orders_365d_if_alive as decimal(12, 4)) as expected_orders_365d,
        -- A customer still buying orders at their estimated rate: (r + x) / (alpha + T) a
        -- day. None without a prediction, or for those the model holds gone.
        case when p_alive is not null and not is_predicted_gone then
            cast({{ dbt.dateadd('day', 'cast(ceil((alpha + big_t) / (r + x)) as integer)',
                run_date()) }} as date)
        end as expected_next_order_date,
        cast(expected_order_value as decimal(14, 2)) as expected_order_value,
        cast(p_alive * discounted_orders_if_alive * expected_order_value as decimal(14, 2))
            as predicted_clv_365d,
        model_run_date,
        params_id,
        prediction_status
    from judged
)

select * from final
