-- One row per contact (lower-cased e-mail): the latest export row landed on or before the
-- run date, with its consent state.
with source as (
    {{ landed_by_run_date(source('raw', 'contacts'), 'contacts') }}
),

typed as (
    select
        {{ normalize_email('email') }} as email,
        {{ dbt.safe_cast('customer_id', api.Column.translate_type('bigint')) }} as customer_id,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        lower(nullif(trim(email_marketing_consent_state), '')) as consent_state,
        lower(nullif(trim(email_marketing_opt_in_level), '')) as opt_in_level,
        {{ parse_utc_timestamp("nullif(email_marketing_consent_updated_at, '')") }}
            as consent_updated_at,
        nullif(trim(source), '') as signup_source,
        {{ dbt.safe_cast("nullif(birthday, '')", api.Column.translate_type('date')) }} as birthday,
        {{ parse_utc_timestamp("nullif(created_at, '')") }} as created_at,
        {{ parse_utc_timestamp("nullif(updated_at, '')") }} as updated_at,
        _partition_date as landed_date,
        _loaded_at
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by email
            order by updated_at desc nulls last, landed_date desc, _loaded_at desc
        ) as version_rank
    from typed
    where email is not null
),

final as (
    select
        email,
        {{ is_valid_email('email') }} as is_valid_email,
        customer_id,
        first_name,
        last_name,
        consent_state,
        opt_in_level,
        consent_updated_at,
        signup_source,
        birthday,
        created_at,
        updated_at,
        landed_date
    from ranked
    where version_rank = 1
)

select * from final
