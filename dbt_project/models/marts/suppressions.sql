-- Everyone who must not be mailed, with the reason and since when. asm_group_id is set for
-- an unsubscribe from one group only; empty means no marketing mail at all.
-- A later opt-in with consent lifts an unsubscribe; nothing lifts a hard bounce or complaint.
with events as (
    select * from {{ ref('stg_sendgrid__email_events') }}
    where is_valid_email
),

contacts as (
    select * from {{ ref('int_contacts_unified') }}
),

esp_unsubscribes as (
    select email, max(occurred_at) as last_unsubscribed_at
    from events
    where event_type = 'unsubscribe'
    group by email
),

unsubscribed as (
    -- Unsubscribed at the ESP or in the shop, unless the shop recorded a newer opt-in.
    select
        coalesce(u.email, c.email) as email,
        'unsubscribed' as reason,
        cast(null as {{ dbt.type_int() }}) as asm_group_id,
        coalesce(u.last_unsubscribed_at, c.consent_updated_at) as suppressed_since
    from esp_unsubscribes u
    full outer join (
        select * from contacts where consent_state = 'unsubscribed'
    ) c on c.email = u.email
    left join contacts latest on latest.email = coalesce(u.email, c.email)
    where not coalesce(
        latest.consent_state = 'subscribed'
        and latest.consent_updated_at > coalesce(u.last_unsubscribed_at, c.consent_updated_at),
        false
    )
),

group_unsubscribed as (
    select
        email,
        'group_unsubscribed' as reason,
        cast(asm_group_id as {{ dbt.type_int() }}) as asm_group_id,
        min(occurred_at) as suppressed_since
    from events
    where event_type = 'group_unsubscribe'
        and not exists (
            select 1 from events r
            where r.event_type = 'group_resubscribe'
                and r.email = events.email
                and r.asm_group_id = events.asm_group_id
                and r.occurred_at > events.occurred_at
        )
    group by email, asm_group_id
),

hard_bounced as (
    select email, 'hard_bounced' as reason, cast(null as {{ dbt.type_int() }}) as asm_group_id,
        min(occurred_at) as suppressed_since
    from events
    where event_type = 'bounce' and bounce_kind = 'hard'
    group by email
),

complained as (
    select email, 'complained' as reason, cast(null as {{ dbt.type_int() }}) as asm_group_id,
        min(occurred_at) as suppressed_since
    from events
    where event_type = 'spamreport'
    group by email
),

no_consent as (
    select email, 'no_consent' as reason, cast(null as {{ dbt.type_int() }}) as asm_group_id,
        consent_updated_at as suppressed_since
    from contacts
    where consent_state not in ('subscribed', 'unsubscribed')
),

final as (
    select * from unsubscribed
    union all
    select * from group_unsubscribed
    union all
    select * from hard_bounced
    union all
    select * from complained
    union all
    select * from no_consent
)

select
    {{ dbt.concat(["email", "'|'", "reason", "'|'", "coalesce(cast(asm_group_id as " ~ dbt.type_string() ~ "), '*')"]) }}
        as suppression_key,
    email,
    reason,
    asm_group_id,
    suppressed_since
from final
