-- Written by the audiences' post-hooks (macro record_dropped_members), each replacing its own
-- rows. Incremental and never selecting a row, so building it again keeps what they wrote
-- (no data tests: dbt would run them before the audiences write).
{#- On Spark partitioned by audience: each audience's post-hook overwrites its partition. -#}
{{ config(materialized='incremental', partition_by=(['audience'] if target.type == 'spark' else none)) }}

select
    cast(null as {{ dbt.type_string() }}) as audience,
    cast(null as {{ dbt.type_string() }}) as email,
    cast(null as {{ dbt.type_string() }}) as dropped_by,
    cast(null as {{ dbt.type_string() }}) as reason,
    cast(null as date) as run_date
where 1 = 0
