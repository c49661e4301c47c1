-- One row per SendGrid event (webhooks deliver at least once: the first landing wins), up to
-- the end of the run date in the shop's time zone.
with source as (
    {{ landed_by_run_date(source('raw', 'email_events'), 'email_events') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by sg_event_id
            order by _partition_date, _loaded_at
        ) as copy_rank
    from source
),

final as (
    select
        sg_event_id as event_id,
        sg_message_id as message_id,
        {{ normalize_email('email') }} as email,
        {{ is_valid_email(normalize_email('email')) }} as is_valid_email,
        lower(event) as event_type,
        {{ epoch_to_utc_timestamp('timestamp') }} as occurred_at,
        {{ shop_date(epoch_to_utc_timestamp('timestamp')) }} as occurred_date,
        category,
        campaign_id,
        asm_group_id,
        url,
        reason,
        case
            when lower(event) = 'bounce' and lower(type) = 'bounce' then 'hard'
            when lower(event) = 'bounce' then 'soft'
        end as bounce_kind,
        bounce_classification,
        coalesce(sg_machine_open, false) as is_machine_open,
        _partition_date as landed_date
    from ranked
    where copy_rank = 1
)

select * from final
where occurred_date <= {{ run_date() }}
