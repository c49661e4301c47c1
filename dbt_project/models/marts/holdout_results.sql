{{ config(tags=['readout']) }}
-- The holdout read-out: per audience and month of entry, did the mail make a difference over
-- the `holdout_window_days` after entry? Built from the audience spells the publish step
-- records (publish.audience_entries), so it runs after publishing (dbt tag `readout`).
--
-- Like is compared with like: the treatment is the members who were published (not held
-- out, not held back by the frequency cap); the control is the holdout members the same
-- rules would have published (the "ghost" control: the cap treats both alike, and
-- suppression and the exclusions acted before the holdout was drawn). Intent to treat (every
-- entrant against every holdout member) is reported beside it.
-- Conversion lift comes with Newcombe's hybrid score interval (from each arm's Wilson
-- interval: valid at 0% and 100% and for small groups); revenue per member with Welch's
-- interval (the t quantile from its Cornish-Fisher expansion in 1/df). Every figure is NULL
-- until the window of the cohort's last entry is over and each arm has holdout_min_members,
-- with the reason in readout_status. The minimum detectable lift (95% two-sided, 80% power)
-- at the current sizes and the days of entries a test of holdout_target_lift needs are
-- there as soon as the cohort has converted anyone.
{%- set z = 1.959964 %}
{%- set z_power = 0.841621 %}
{%- set window = var('holdout_window_days') %}
with entries as (
    select audience, email, is_holdout, coalesce(is_capped, false) as is_capped, entered_on
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
        e.is_capped,
        e.email,
        e.entered_on,
        case when count(o.order_id) > 0 then 1 else 0 end as converted,
        cast(coalesce(sum(o.net_revenue_amount), 0) as {{ dbt.type_numeric() }}) as revenue_amount
    from entries e
    left join orders o
        on o.email = e.email
        and o.ordered_date > e.entered_on
        and o.ordered_date <= {{ dbt.dateadd('day', window, 'e.entered_on') }}
    group by e.audience, e.is_holdout, e.is_capped, e.email, e.entered_on
),

arms as (
    select
        audience,
        entry_month,
        min(entered_on) as first_entry_on,
        max(entered_on) as last_entry_on,
        sum(case when not is_holdout and not is_capped then 1 else 0 end) as n_t,
        sum(case when is_holdout and not is_capped then 1 else 0 end) as n_c,
        sum(case when not is_holdout and not is_capped then converted else 0 end) as x_t,
        sum(case when is_holdout and not is_capped then converted else 0 end) as x_c,
        avg(case when not is_holdout and not is_capped then revenue_amount end) as revenue_t,
        avg(case when is_holdout and not is_capped then revenue_amount end) as revenue_c,
        var_samp(case when not is_holdout and not is_capped then revenue_amount end) as var_t,
        var_samp(case when is_holdout and not is_capped then revenue_amount end) as var_c,
        sum(case when not is_holdout then 1 else 0 end) as itt_n_t,
        sum(case when is_holdout then 1 else 0 end) as itt_n_c,
        sum(case when not is_holdout then converted else 0 end) as itt_x_t,
        sum(case when is_holdout then converted else 0 end) as itt_x_c
    from outcomes
    group by audience, entry_month
),

rates as (
    select
        *,
        {{ dbt.datediff('last_entry_on', run_date(), 'day') }} >= {{ window }} as window_complete,
        -- Rates in double precision: Spark keeps only six places of a decimal quotient.
        cast(x_t as {{ type_double() }}) / nullif(n_t, 0) as p_t,
        cast(x_c as {{ type_double() }}) / nullif(n_c, 0) as p_c,
        cast(x_t + x_c as {{ type_double() }}) / nullif(n_t + n_c, 0) as p_pooled,
        {{ dbt.datediff('first_entry_on', 'last_entry_on', 'day') }} + 1 as entry_days
    from arms
),

judged as (
    select
        *,
        case
            when not window_complete then 'window_incomplete'
            when n_t < {{ var('holdout_min_members') }} or n_c < {{ var('holdout_min_members') }}
                then 'too_few_members'
            else 'ready'
        end as readout_status,
        -- Wilson score interval of each arm's conversion.
        (p_t + {{ z }} * {{ z }} / (2.0 * n_t)) / (1 + {{ z }} * {{ z }} / n_t) as center_t,
        {{ z }} * sqrt(p_t * (1 - p_t) / n_t + {{ z }} * {{ z }} / (4.0 * n_t * n_t))
            / (1 + {{ z }} * {{ z }} / n_t) as half_t,
        (p_c + {{ z }} * {{ z }} / (2.0 * n_c)) / (1 + {{ z }} * {{ z }} / n_c) as center_c,
        {{ z }} * sqrt(p_c * (1 - p_c) / n_c + {{ z }} * {{ z }} / (4.0 * n_c * n_c))
            / (1 + {{ z }} * {{ z }} / n_c) as half_c,
        -- Welch: the standard error and the Welch-Satterthwaite degrees of freedom.
        sqrt(var_t / n_t + var_c / n_c) as revenue_se,
        (var_t / n_t + var_c / n_c) * (var_t / n_t + var_c / n_c) / nullif(
            (var_t / n_t) * (var_t / n_t) / nullif(n_t - 1, 0)
            + (var_c / n_c) * (var_c / n_c) / nullif(n_c - 1, 0), 0
        ) as revenue_df
    from rates
),

intervals as (
    select
        *,
        p_t - p_c as lift,
        -- Newcombe's hybrid score interval of p_t - p_c from the two Wilson intervals.
        p_t - p_c - sqrt(
            (p_t - (center_t - half_t)) * (p_t - (center_t - half_t))
            + ((center_c + half_c) - p_c) * ((center_c + half_c) - p_c)
        ) as lift_low,
        p_t - p_c + sqrt(
            ((center_t + half_t) - p_t) * ((center_t + half_t) - p_t)
            + (p_c - (center_c - half_c)) * (p_c - (center_c - half_c))
        ) as lift_high,
        -- t quantile (0.975, df) from its Cornish-Fisher expansion to 1/df^5 (within 0.03%
        -- of the exact quantile from 3 degrees of freedom); z when df is undefined (no
        -- variance in either arm).
        coalesce(
            {{ z }}
            + (power({{ z }}, 3) + {{ z }}) / (4 * revenue_df)
            + (5 * power({{ z }}, 5) + 16 * power({{ z }}, 3) + 3 * {{ z }})
                / (96 * power(revenue_df, 2))
            + (3 * power({{ z }}, 7) + 19 * power({{ z }}, 5) + 17 * power({{ z }}, 3)
                - 15 * {{ z }}) / (384 * power(revenue_df, 3))
            + (79 * power({{ z }}, 9) + 776 * power({{ z }}, 7) + 1482 * power({{ z }}, 5)
                - 1920 * power({{ z }}, 3) - 945 * {{ z }}) / (92160 * power(revenue_df, 4))
            + (27 * power({{ z }}, 11) + 339 * power({{ z }}, 9) + 930 * power({{ z }}, 7)
                - 1782 * power({{ z }}, 5) - 765 * power({{ z }}, 3) + 17955 * {{ z }})
                / (368640 * power(revenue_df, 5)),
            {{ z }}
        ) as t_quantile,
        -- Planning: what the current sizes can detect, and how long to enter members for
        -- a test of holdout_target_lift at the cohort's control share.
        case when p_pooled > 0 and p_pooled < 1 and n_t > 0 and n_c > 0 then
            ({{ z }} + {{ z_power }}) * sqrt(p_pooled * (1 - p_pooled) * (cast(1 as {{ type_double() }}) / n_t + cast(1 as {{ type_double() }}) / n_c))
        end as min_detectable_lift,
        case when p_pooled > 0 and p_pooled < 1 and n_t > 0 and n_c > 0 then
            ({{ z }} + {{ z_power }}) * ({{ z }} + {{ z_power }}) * p_pooled * (1 - p_pooled)
            * (cast(n_t + n_c as {{ type_double() }}) / n_c + cast(n_t + n_c as {{ type_double() }}) / n_t)
            / ({{ var('holdout_target_lift') }} * {{ var('holdout_target_lift') }})
        end as members_needed
    from judged
),

final as (
    select
        audience,
        entry_month,
        first_entry_on,
        last_entry_on,
        readout_status,
        window_complete,
        {{ window }} as window_days,
        n_t as treatment_members,
        n_c as control_members,
        itt_n_t as itt_treatment_members,
        itt_n_c as itt_holdout_members,
        case when readout_status = 'ready' then p_t end as treatment_conversion,
        case when readout_status = 'ready' then p_c end as control_conversion,
        case when readout_status = 'ready' then lift end as conversion_lift,
        case when readout_status = 'ready' then lift / nullif(p_c, 0) end
            as conversion_lift_relative,
        case when readout_status = 'ready' then lift_low end as conversion_lift_low_95,
        case when readout_status = 'ready' then lift_high end as conversion_lift_high_95,
        case when readout_status = 'ready' then revenue_t end as treatment_revenue_per_member,
        case when readout_status = 'ready' then revenue_c end as control_revenue_per_member,
        case when readout_status = 'ready' then revenue_t - revenue_c end
            as revenue_lift_per_member,
        case when readout_status = 'ready' then revenue_t - revenue_c - t_quantile * revenue_se end
            as revenue_lift_low_95,
        case when readout_status = 'ready' then revenue_t - revenue_c + t_quantile * revenue_se end
            as revenue_lift_high_95,
        case when readout_status = 'ready'
            then cast(itt_x_t as {{ type_double() }}) / nullif(itt_n_t, 0)
                - cast(itt_x_c as {{ type_double() }}) / nullif(itt_n_c, 0)
        end as itt_conversion_lift,
        min_detectable_lift,
        cast(ceil(members_needed * entry_days / (n_t + n_c)) as integer) as entry_days_needed,
        cast(greatest(ceil(members_needed * entry_days / (n_t + n_c)) - entry_days, 0) as integer)
            as more_entry_days_needed,
        {{ run_date() }} as run_date
    from intervals
)

select * from final
