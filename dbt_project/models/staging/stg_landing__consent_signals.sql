-- Every consent signal landed on or before the run date: from good and quarantined rows alike,
-- and whatever the quality gate decided about their day. No quality hold applies here on
-- purpose: this is the fail-safe path from a landed unsubscribe to marts.suppressions.
with signals as (
    select 'email_events' as landing_source, * from {{ source('raw', 'email_events_consent') }}
    union all
    select 'contacts' as landing_source, * from {{ source('raw', 'contacts_consent') }}
),

final as (
    select
        {{ normalize_email('email') }} as email,
        signal,
        withdraws,
        cast(asm_group_id as {{ dbt.type_int() }}) as asm_group_id,
        {{ utc_of('signalled_at') }} as signalled_at,
        landing_source,
        rule as quarantine_rule,
        _source_file as source_file,
        _partition_date as landed_date
    from signals
    where _partition_date <= {{ run_date() }}
)

select * from final
where email is not null
