-- One row per SendGrid event (webhooks deliver at least once: the first landing wins) of
-- every day landed by the run date. Consumers keep the events that happened by the run date
-- (occurred_date). Incremental, delete+insert on event_id: a build recomputes only the events
-- of the landing days that changed since the last one (macros/incremental_landings.sql), and
-- equals a full rebuild. No lookback window is needed: a late event arrives in a landing day
-- of its own, which is a changed day, and a day loaded again carries a new _loaded_at.
{{ config(
    materialized='incremental',
    incremental_strategy=landing_incremental_strategy(),
    partition_by=landing_partition_by(),
    unique_key='event_id',
    pre_hook=[
        "{{ drop_temp_table('stg_email_events_changed') }}",
        "{{ changed_landing_keys(source('raw', 'email_events'), 'email_events', 'sg_event_id', 'event_id', 'stg_email_events_changed') }}",
        "{{ delete_changed_keys('event_id', 'stg_email_events_changed') }}",
    ],
) }}

with source as (
    select * from (
        {{ landed_by_run_date(source('raw', 'email_events'), 'email_events') }}
    ) landed
    {% if is_incremental() %}
    where sg_event_id in (select changed_key from {{ changed_keys_table('stg_email_events_changed') }})
    {% endif %}
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
        _partition_date as landed_date,
        _loaded_at as loaded_at
    from ranked
    where copy_rank = 1
)

select * from final{{ changed_days_only('stg_email_events_changed') }}
