-- Exactly one lifecycle stage per contact as of the run date, with the rule that placed it.
-- Precedence: prospect, churned, seasonal, new, active, short-term lapsed, long-term lapsed.
{%- set own_window_min = var('own_lapse_window_min_days') or var('lapse_days_short') %}
with contacts as (
    select * from {{ ref('int_contacts_unified') }}
),

customers as (
    select * from {{ ref('int_customers_summarized') }}
),

rfm as (
    select email, rfm_segment, is_vip, is_bottom_20 from {{ ref('customer_rfm') }}
),

churn as (
    select email, is_churned, is_predicted_gone, p_alive, own_interval_days
    from {{ ref('customer_churn') }}
),

seasons as (
    select * from {{ ref('int_customer_seasons') }}
),

global_suppressions as (
    select distinct email from {{ ref('suppressions') }} where asm_group_id is null
),

windows as (
    select
        ct.email,
        ct.customer_id,
        ct.first_name,
        ct.consent_state,
        c.order_count,
        c.first_order_date,
        c.last_order_date,
        c.days_since_last_order,
        c.days_since_first_order,
        ch.is_churned,
        ch.is_predicted_gone,
        ch.p_alive,
        ch.own_interval_days,
        r.rfm_segment,
        r.is_vip,
        r.is_bottom_20,
        s.next_season_start_date,
        {{ dbt.datediff(run_date(), 's.next_season_start_date', 'day') }} as days_to_season,
        -- The customer's own window where they have enough orders, never shorter than
        -- own_lapse_window_min_days, else the global one; judged exactly (no rounding).
        case
            when ch.own_interval_days is not null then
                {{ past_own_interval('c.days_since_last_order', 'c.order_count',
                    'c.order_span_days', var('lapse_interval_multiple')) }}
                and c.days_since_last_order > {{ own_window_min }}
            else c.days_since_last_order > {{ var('lapse_days_short') }}
        end as is_past_short_window,
        -- The window in days, for people: the own one to 0.1 day.
        cast(case
            when ch.own_interval_days is not null then greatest(
                round(cast(c.order_span_days * {{ var('lapse_interval_multiple') }}
                    / (c.order_count - 1) as decimal(12, 2)), 1),
                {{ own_window_min }}
            )
            else {{ var('lapse_days_short') }}
        end as decimal(8, 1)) as short_window_days,
        gs.email is null and ct.consent_state = 'subscribed' as is_mailable
    from contacts ct
    left join customers c on c.email = ct.email
    left join churn ch on ch.email = ct.email
    left join rfm r on r.email = ct.email
    left join seasons s on s.email = ct.email
    left join global_suppressions gs on gs.email = ct.email
),

staged as (
    select
        *,
        cast(greatest(short_window_days, {{ var('lapse_days_long') }}) as decimal(8, 1))
            as long_window_days,
        case
            when order_count is null then 'prospect'
            when (is_churned and is_bottom_20) or is_predicted_gone then 'churned'
            when is_past_short_window
                and days_to_season <= {{ var('seasonal_lead_days') }} then 'seasonal'
            when order_count = 1
                and days_since_first_order <= {{ var('new_customer_days') }} then 'new'
            when not is_past_short_window then 'active'
            -- Long-term lapsed: past the short window and out of the long one.
            when {{ within_long_window('days_since_last_order') }} then 'short_term_lapsed'
            else 'long_term_lapsed'
        end as lifecycle_stage
    from windows
),

final as (
    select
        email,
        customer_id,
        first_name,
        lifecycle_stage,
        case lifecycle_stage
            when 'prospect' then 'no completed order'
            when 'churned' then case
                when is_churned and is_bottom_20 then 'churn rule met and RFM in the bottom 20%'
                else 'the churn model gives P(alive) '
                    || cast(cast(p_alive * 100 as decimal(5, 1)) as {{ dbt.type_string() }})
                    || '%, below the churn threshold'
            end
            when 'seasonal' then 'lapsed seasonal buyer; season starts in '
                || cast(days_to_season as {{ dbt.type_string() }}) || ' days'
            when 'new' then 'one order, placed within the new-customer window'
            when 'active' then 'ordered within the last '
                || {{ days_text('short_window_days') }} || ' days'
                || case when own_interval_days is not null then ' (own interval)' else '' end
            when 'short_term_lapsed' then 'no order for more than '
                || {{ days_text('short_window_days') }} || ' days'
                || case when own_interval_days is not null then ' (own interval)' else '' end
            else 'no order for more than '
                || {{ days_text('long_window_days') }} || ' days'
        end as stage_reason,
        days_since_last_order,
        order_count,
        first_order_date,
        last_order_date,
        short_window_days,
        long_window_days,
        next_season_start_date,
        rfm_segment,
        coalesce(is_vip, false) as is_vip,
        consent_state,
        is_mailable,
        {{ run_date() }} as run_date
    from staged
)

select * from final
