-- A returned row is a contact with no current stage spell, more than one, a current spell
-- whose stage differs from customer_lifecycle's, or a current spell of a contact who is no
-- longer in customer_lifecycle (lifecycle_stage null). Skipped for a run date before the
-- latest spell (a backfill), since history only moves forward.
with current_spells as (
    select email, count(*) as spells, max(lifecycle_stage) as lifecycle_stage
    from {{ ref('customer_lifecycle_history') }}
    where is_current
    group by email
),

contacts as (
    select email, lifecycle_stage from {{ ref('customer_lifecycle') }}
)

select
    coalesce(l.email, c.email) as email,
    c.spells,
    l.lifecycle_stage,
    c.lifecycle_stage as spell_stage
from contacts l
full outer join current_spells c on c.email = l.email
where (c.email is null or l.email is null or c.spells <> 1
        or c.lifecycle_stage <> l.lifecycle_stage)
    and (select max(valid_from) from {{ ref('customer_lifecycle_history') }}) <= {{ run_date() }}
