-- Every opt-out that landed by the run date, read straight from the raw and quarantine tables
-- (not from the consent tables the mart uses), is in marts.suppressions: loaded or
-- quarantined rows, held days included. An unsubscribe may be missing only when a good contact
-- row opted in later. A returned row is an opt-out that would be ignored. In Dagster it is a
-- blocking check on suppressions: no audience is built or published while it fails.
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'suppressions'}}}) }}

with quarantined_events as (
    select
        {{ json_text('record', 'email') }} as email,
        {{ json_text('record', 'event') }} as event,
        {{ json_text('record', 'type') }} as bounce_type,
        cast({{ json_text('record', 'asm_group_id') }} as {{ dbt.type_bigint() }}) as asm_group_id,
        cast({{ json_text('record', 'timestamp') }} as {{ dbt.type_bigint() }}) as epoch
    from {{ source('quarantine', 'email_events') }}
    where _partition_date <= {{ run_date() }}
),

events as (
    select email, event, type as bounce_type, asm_group_id, timestamp as epoch
    from {{ source('raw', 'email_events') }}
    where _partition_date <= {{ run_date() }}
    union all
    select * from quarantined_events
),

contact_rows as (
    select email, email_marketing_consent_state as consent_state,
        email_marketing_consent_updated_at as consent_updated_at, updated_at
    from {{ source('raw', 'contacts') }}
    where _partition_date <= {{ run_date() }}
    union all
    select
        {{ json_text('record', 'email') }},
        {{ json_text('record', 'email_marketing_consent_state') }},
        {{ json_text('record', 'email_marketing_consent_updated_at') }},
        {{ json_text('record', 'updated_at') }}
    from {{ source('quarantine', 'contacts') }}
    where _partition_date <= {{ run_date() }}
),

opt_outs as (
    select
        lower(trim(email)) as email,
        lower(trim(event)) in ('unsubscribe', 'group_unsubscribe') as can_be_lifted,
        case when lower(trim(event)) = 'group_unsubscribe' then asm_group_id end as asm_group_id,
        {{ epoch_to_utc_timestamp('epoch') }} as opted_out_at
    from events
    where lower(trim(event)) in ('unsubscribe', 'group_unsubscribe', 'spamreport')
        or (lower(trim(event)) = 'bounce' and lower(trim(bounce_type)) = 'bounce')
    union all
    select
        lower(trim(email)),
        true,
        null,
        coalesce(
            {{ parse_utc_timestamp("nullif(consent_updated_at, '')") }},
            {{ parse_utc_timestamp("nullif(updated_at, '')") }}
        )
    from contact_rows
    where lower(trim(consent_state)) = 'unsubscribed'
),

opt_ins as (
    -- Only rows that loaded may lift an unsubscribe of the same scope (all mail or a group).
    select
        lower(trim(email)) as email,
        cast(null as {{ dbt.type_bigint() }}) as asm_group_id,
        {{ parse_utc_timestamp("nullif(email_marketing_consent_updated_at, '')") }} as opted_in_at
    from {{ source('raw', 'contacts') }}
    where _partition_date <= {{ run_date() }}
        and lower(trim(email_marketing_consent_state)) = 'subscribed'
    union all
    select lower(trim(email)), asm_group_id, {{ epoch_to_utc_timestamp('timestamp') }}
    from {{ source('raw', 'email_events') }}
    where _partition_date <= {{ run_date() }} and lower(trim(event)) = 'group_resubscribe'
)

select o.email, o.asm_group_id, o.opted_out_at
from opt_outs o
where nullif(o.email, '') is not null
    and not exists (
        select 1 from {{ ref('suppressions') }} s
        where s.email = o.email
            and (s.asm_group_id is null or s.asm_group_id = o.asm_group_id)
    )
    and not (
        o.can_be_lifted
        and exists (
            select 1 from opt_ins i
            where i.email = o.email
                and coalesce(i.asm_group_id, -1) = coalesce(o.asm_group_id, -1)
                and i.opted_in_at > o.opted_out_at
        )
    )
