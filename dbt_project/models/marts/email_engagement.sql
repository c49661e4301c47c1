-- E-mail engagement per contact as of the run date. Opens by privacy proxies (Apple Mail
-- Privacy Protection) are counted apart: they say nothing about the person.
with events as (
    select * from {{ ref('stg_sendgrid__email_events') }}
    where is_valid_email and occurred_date <= {{ run_date() }}
),

per_contact as (
    select
        email,
        count(distinct case when event_type = 'processed' then message_id end) as sends,
        count(distinct case when event_type = 'delivered' then message_id end) as deliveries,
        count(distinct case when event_type = 'open' and not is_machine_open then message_id end)
            as unique_opens,
        count(distinct case when event_type = 'open' and is_machine_open then message_id end)
            as machine_opens,
        count(distinct case when event_type = 'click' then message_id end) as unique_clicks,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks,
        max(case when event_type = 'open' and not is_machine_open then occurred_at end)
            as last_open_at,
        max(case when event_type = 'click' then occurred_at end) as last_click_at,
        sum(case when event_type = 'bounce' and bounce_kind = 'soft' then 1 else 0 end)
            as soft_bounces,
        sum(case when event_type = 'bounce' and bounce_kind = 'hard' then 1 else 0 end)
            as hard_bounces,
        max(case when event_type = 'spamreport' then 1 else 0 end) = 1 as has_complained,
        max(case when event_type = 'unsubscribe' then occurred_at end) as last_unsubscribed_at,
        max(case when event_type = 'group_unsubscribe' then 1 else 0 end) = 1
            as has_group_unsubscribed
    from events
    group by email
),

with_recency as (
    select
        *,
        {{ dbt.datediff(
            "cast(" ~ "case when last_click_at > last_open_at or last_open_at is null "
            ~ "then last_click_at else last_open_at end as date)",
            run_date(), 'day') }} as days_since_engaged
    from per_contact
),

final as (
    select
        e.email,
        e.sends,
        e.deliveries,
        e.unique_opens,
        e.machine_opens,
        e.unique_clicks,
        e.clicks,
        e.last_open_at,
        e.last_click_at,
        e.days_since_engaged,
        case
            when e.days_since_engaged is null then 'never'
            when e.days_since_engaged <= {{ var('engagement_recent_days') }} then 'engaged_30d'
            when e.days_since_engaged <= {{ var('engagement_lapsing_days') }} then 'engaged_90d'
            when e.days_since_engaged <= {{ var('engagement_dormant_days') }} then 'engaged_180d'
            else 'dormant'
        end as engagement_bucket,
        e.soft_bounces,
        e.hard_bounces,
        e.has_complained,
        s.email is not null as is_unsubscribed,
        e.has_group_unsubscribed
    from with_recency e
    left join {{ ref('suppressions') }} s
        on s.email = e.email and s.reason = 'unsubscribed'
)

select * from final
