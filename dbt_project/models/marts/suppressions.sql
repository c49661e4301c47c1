-- Everyone who must not be mailed, with the reason and since when. asm_group_id is set for
-- an unsubscribe from one group only; empty means no marketing mail at all.
-- A later opt-in with consent lifts an unsubscribe; nothing lifts a hard bounce or complaint.
-- Two paths lead here: the loaded, gated rows (staging), and every consent signal landed, from
-- quarantined rows and held days too (stg_landing__consent_signals). A contact suppressed by
-- either is suppressed; `evidence` says which: loaded, quarantined, file_refused (only a file
-- the loader refused says it), or not_loaded (a held day or a superseded copy of a row); esp
-- when the ESP told the publish step (esp_status).
with events as (
    select * from {{ ref('stg_sendgrid__email_events') }}
    where is_valid_email and occurred_date <= {{ run_date() }}
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

landed as (
    select * from {{ ref('stg_landing__consent_signals') }}
),

landed_withdrawals as (
    -- An unsubscribe is lifted by a later opt-in of the same scope (a subscribed contact state
    -- from a good row, or a group resubscribe); a signal whose time is unreadable never is.
    select
        w.email,
        case w.signal
            when 'group_unsubscribe' then 'group_unsubscribed'
            when 'spamreport' then 'complained'
            when 'hard_bounce' then 'hard_bounced'
            else 'unsubscribed'
        end as reason,
        case when w.signal = 'group_unsubscribe' then w.asm_group_id end as asm_group_id,
        w.signalled_at,
        w.quarantine_rule,
        w.source_file
    from landed w
    where w.withdraws
        and not exists (
            select 1 from landed o
            where not o.withdraws
                and o.email = w.email
                and w.signal in ('unsubscribe', 'unsubscribed', 'group_unsubscribe')
                and coalesce(o.asm_group_id, -1)
                    = coalesce(case when w.signal = 'group_unsubscribe' then w.asm_group_id end, -1)
                and o.signalled_at > w.signalled_at
        )
),

landed_suppressions as (
    select
        email,
        reason,
        asm_group_id,
        min(signalled_at) as suppressed_since,
        case
            when count(quarantine_rule)
                > count(case when quarantine_rule = 'file_refused' then 1 end)
                then 'quarantined'
            when count(quarantine_rule) > 0 then 'file_refused'
            else 'not_loaded'
        end as evidence,
        min(source_file) as evidence_file
    from landed_withdrawals
    group by email, reason, asm_group_id
),

{#- What the ESP said it will not mail (written by the publish step, so absent before the
    first sync): yesterday's answer suppresses today. -#}
{%- set refused = source('publish', 'member_failures') -%}
{%- set refused_exists = relation_exists(refused) %}
esp_refused as (
    {%- if refused_exists %}
    select
        lower(email) as email,
        'esp_status' as reason,
        cast(null as {{ dbt.type_int() }}) as asm_group_id,
        min({{ utc_of('failed_at') }}) as suppressed_since
    from {{ refused }}
    -- The ESP statuses that suppress (orchestration/publish/adapters.py,
    -- SUPPRESSING_STATUSES); pending or transactional only keep a member unpublished.
    where reason in (
        'esp_status: unsubscribed', 'esp_status: cleaned', 'esp_status: complained',
        'esp_status: suppressed'
    )
    group by lower(email)
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as email,
        cast(null as {{ dbt.type_string() }}) as reason,
        cast(null as {{ dbt.type_int() }}) as asm_group_id,
        cast(null as {{ dbt.type_timestamp() }}) as suppressed_since
    where 1 = 0
    {%- endif %}
),

no_consent as (
    select email, 'no_consent' as reason, cast(null as {{ dbt.type_int() }}) as asm_group_id,
        consent_updated_at as suppressed_since
    from contacts
    where consent_state not in ('subscribed', 'unsubscribed')
),

staged as (
    select * from unsubscribed
    union all
    select * from group_unsubscribed
    union all
    select * from hard_bounced
    union all
    select * from complained
    union all
    select * from no_consent
    union all
    select * from esp_refused
),

final as (
    select
        coalesce(s.email, l.email) as email,
        coalesce(s.reason, l.reason) as reason,
        coalesce(s.asm_group_id, l.asm_group_id) as asm_group_id,
        case when s.email is not null then s.suppressed_since else l.suppressed_since end
            as suppressed_since,
        case
            when s.reason = 'esp_status' then 'esp'
            when s.email is not null then 'loaded'
            else l.evidence
        end as evidence,
        case when s.email is null then l.evidence_file end as evidence_file
    from staged s
    full outer join landed_suppressions l
        on l.email = s.email
        and l.reason = s.reason
        and coalesce(l.asm_group_id, -1) = coalesce(s.asm_group_id, -1)
)

select
    {{ dbt.concat(["email", "'|'", "reason", "'|'", "coalesce(cast(asm_group_id as " ~ dbt.type_string() ~ "), '*')"]) }}
        as suppression_key,
    email,
    reason,
    asm_group_id,
    suppressed_since,
    evidence,
    evidence_file
from final
