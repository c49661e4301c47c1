{{ config(tags=['readout']) }}
-- The holdout read-out: per audience and month of entry, the treatment against the holdout
-- over the `holdout_window_days` after entry (conversion and revenue per member, the absolute
-- and relative lift, a normal-approximation 95% interval). Built from the audience spells
-- the publish step records (publish.audience_entries), so it runs after publishing: the dbt
-- tag `readout` puts it in a dbt step of its own.
with entries as (
    select audience, email, is_holdout, entered_on
    from {{ source('publish', 'audience_entries') }}
    where entered_on <= {{ run_date() }}
),

orders as (
    select order_id, email, ordered_date, net_revenue_amount
    from {{ ref('int_orders_completed') }}
    where ordered_date <= {{ run_date() }}
),

outcomes as (
    -- One row per spell: did the member order after entering, and for how much, within the
    -- window (an order on the entry day came before the mail).
    select
        e.audience,
        cast({{ dbt.date_trunc('month', 'e.entered_on') }} as date) as entry_month,
        e.is_holdout,
        e.email,
        e.entered_on,
        count(o.order_id) > 0 as has_converted,
        cast(coalesce(sum(o.net_revenue_amount), 0) as {{ dbt.type_numeric() }}) as revenue_amount
    from entries e
    left join orders o
        on o.email = e.email
        and o.ordered_date > e.entered_on
        and o.ordered_date <= {{ dbt.dateadd('day', var('holdout_window_days'), 'e.entered_on') }}
    group by e.audience, e.is_holdout, e.email, e.entered_on
),

arms as (
    select
        audience,
        entry_month,
        sum(case when not is_holdout then 1 else 0 end) as treatment_members,
        sum(case when is_holdout then 1 else 0 end) as holdout_members,
        avg(case when not is_holdout then
            case when has_converted then 1.0 else 0.0 end end) as treatment_conversion,
        avg(case when is_holdout then
            case when has_converted then 1.0 else 0.0 end end) as holdout_conversion,
        avg(case when not is_holdout then revenue_amount end) as treatment_revenue_per_member,
        avg(case when is_holdout then revenue_amount end) as holdout_revenue_per_member,
        var_samp(case when not is_holdout then revenue_amount end) as treatment_revenue_var,
        var_samp(case when is_holdout then revenue_amount end) as holdout_revenue_var,
        min({{ dbt.datediff('entered_on', run_date(), 'day') }})
            >= {{ var('holdout_window_days') }} as window_complete
    from outcomes
    group by audience, entry_month
),

intervals as (
    select
        *,
        treatment_conversion - holdout_conversion as conversion_lift,
        1.959964 * sqrt(
            treatment_conversion * (1 - treatment_conversion) / nullif(treatment_members, 0)
            + holdout_conversion * (1 - holdout_conversion) / nullif(holdout_members, 0)
        ) as conversion_half_width,
        treatment_revenue_per_member - holdout_revenue_per_member as revenue_lift_per_member,
        1.959964 * sqrt(
            treatment_revenue_var / nullif(treatment_members, 0)
            + holdout_revenue_var / nullif(holdout_members, 0)
        ) as revenue_half_width
    from arms
),

final as (
    select
        audience,
        entry_month,
        treatment_members,
        holdout_members,
        treatment_conversion,
        holdout_conversion,
        conversion_lift,
        conversion_lift / nullif(holdout_conversion, 0) as conversion_lift_relative,
        conversion_lift - conversion_half_width as conversion_lift_low_95,
        conversion_lift + conversion_half_width as conversion_lift_high_95,
        treatment_revenue_per_member,
        holdout_revenue_per_member,
        revenue_lift_per_member,
        revenue_lift_per_member - revenue_half_width as revenue_lift_low_95,
        revenue_lift_per_member + revenue_half_width as revenue_lift_high_95,
        {{ var('holdout_window_days') }} as window_days,
        window_complete,
        {{ run_date() }} as run_date
    from intervals
)

select * from final
