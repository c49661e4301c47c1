{{
    config(
        materialized='incremental',
        unique_key=['email', 'valid_from'],
        incremental_strategy=history_incremental_strategy(),
        on_schema_change='fail',
        pre_hook=["{{ history_pre_hook() }}"],
        post_hook=["{{ history_post_hook() }}"],
    )
}}
-- Lifecycle stage spells: one row per contact and stage period [valid_from, valid_to).
-- Strategy: each run compares today's stage with the spell open before the run date. An
-- unchanged stage keeps that spell open; a change closes it at the run date and opens a new
-- spell; a contact who is no longer in customer_lifecycle has the spell closed at the run
-- date. A spell closed before the run date stays closed: a contact who comes back opens a
-- new one. Rows are keyed on (email, valid_from) and replaced, so re-running the same date is
-- idempotent. History only moves forward: a run date before the latest spell changes nothing.
with today as (
    select email, lifecycle_stage, stage_reason, run_date
    from {{ ref('customer_lifecycle') }}
),

{% if is_incremental() %}
previous as (
    -- The spell each contact was in just before the run date, if it was still open then
    -- (closed on the run date itself only by an earlier run of the same date).
    select email, lifecycle_stage, stage_reason, valid_from
    from (
        select
            *,
            row_number() over (partition by email order by valid_from desc) as rn
        from {{ history_before_run() }}
        where valid_from < {{ run_date() }}
    ) spells
    where rn = 1
        and (valid_to is null or valid_to >= {{ run_date() }})
),

moving_forward as (
    select count(*) as later_spells
    from {{ history_before_run() }}
    where valid_from > {{ run_date() }}
),
{% else %}
previous as (
    select
        cast(null as {{ dbt.type_string() }}) as email,
        cast(null as {{ dbt.type_string() }}) as lifecycle_stage,
        cast(null as {{ dbt.type_string() }}) as stage_reason,
        cast(null as date) as valid_from
    where 1 = 0
),

moving_forward as (
    select 0 as later_spells
),
{% endif %}

continued as (
    select p.email, p.lifecycle_stage, p.stage_reason, p.valid_from,
        cast(null as date) as valid_to
    from previous p
    join today t on t.email = p.email and t.lifecycle_stage = p.lifecycle_stage
),

closed as (
    select p.email, p.lifecycle_stage, p.stage_reason, p.valid_from,
        {{ run_date() }} as valid_to
    from previous p
    left join today t on t.email = p.email
    where t.email is null or t.lifecycle_stage <> p.lifecycle_stage
),

opened as (
    select t.email, t.lifecycle_stage, t.stage_reason, t.run_date as valid_from,
        cast(null as date) as valid_to
    from today t
    left join previous p on p.email = t.email
    where p.email is null or p.lifecycle_stage <> t.lifecycle_stage
),

final as (
    select * from continued
    union all
    select * from closed
    union all
    select * from opened
)

select
    email,
    lifecycle_stage,
    stage_reason,
    valid_from,
    valid_to,
    valid_to is null as is_current
from final
where (select later_spells from moving_forward) = 0
{%- if is_incremental() and target.type == 'spark' %}
-- Spark overwrites the whole table: the spells this run leaves as they are come along.
union all
select kept.*
from {{ history_before_run() }} kept
where not exists (
        select 1 from final
        where final.email = kept.email and final.valid_from = kept.valid_from
            and (select later_spells from moving_forward) = 0
    )
    and not (kept.valid_from = {{ run_date() }} and (select later_spells from moving_forward) = 0)
{%- endif %}
