-- E-mail engagement per contact as of the run date. Opens by privacy proxies (Apple Mail
-- Privacy Protection) are counted apart: they say nothing about the person.
with events as (
    select * from {{ ref('stg_sendgrid__email_events') }}
    where is_valid_email and occurred_date <= {{ run_date() }}
),

-- What happened to each message a contact was sent, then per contact: two plain
-- aggregations instead of five distinct counts over every event (a day of a million
-- customers' history costs a fraction of it). Events without a message id count only in the
-- totals, as a distinct count of message ids leaves them out.
per_message as (
    select
        email,
        message_id,
        max(case when event_type = 'processed' then 1 else 0 end) as was_sent,
        max(case when event_type = 'delivered' then 1 else 0 end) as was_delivered,
        max(case when event_type = 'open' and not is_machine_open then 1 else 0 end)
            as was_opened,
        max(case when event_type = 'open' and is_machine_open then 1 else 0 end)
            as was_machine_opened,
        max(case when event_type = 'click' then 1 else 0 end) as was_clicked,
        sum(case when event_type = 'click' then 1 else 0 end) as clicks,
        max(case when event_type = 'open' and not is_machine_open then occurred_at end)
            as last_open_at,
        max(case when event_type = 'click' then occurred_at end) as last_click_at,
        sum(case when event_type = 'bounce' and bounce_kind = 'soft' then 1 else 0 end)
            as soft_bounces,
        sum(case when event_type = 'bounce' and bounce_kind = 'hard' then 1 else 0 end)
            as hard_bounces,
        max(case when event_type = 'spamreport' then 1 else 0 end) as complained,
        max(case when event_type = 'unsubscribe' then occurred_at end) as last_unsubscribed_at,
        max(case when event_type = 'group_unsubscribe' then 1 else 0 end) as group_unsubscribed
    from events
    group by email, message_id
),

per_contact as (
    select
        email,
        count(case when was_sent = 1 and message_id is not null then 1 end) as sends,
        count(case when was_delivered = 1 and message_id is not null then 1 end) as deliveries,
        count(case when was_opened = 1 and message_id is not null then 1 end) as unique_opens,
        count(case when was_machine_opened = 1 and message_id is not null then 1 end)
            as machine_opens,
        count(case when was_clicked = 1 and message_id is not null then 1 end) as unique_clicks,
        sum(clicks) as clicks,
        max(last_open_at) as last_open_at,
        max(last_click_at) as last_click_at,
        sum(soft_bounces) as soft_bounces,
        sum(hard_bounces) as hard_bounces,
        max(complained) = 1 as has_complained,
        max(last_unsubscribed_at) as last_unsubscribed_at,
        max(group_unsubscribed) = 1 as has_group_unsubscribed
    from per_message
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
