{#-
    Incremental staging of a raw table whose rows are deduplicated by key, first landing wins
    (stg_sendgrid__email_events). A new day must cost a day, not the history, and still give
    exactly what a full rebuild would. So a build recomputes the keys of every landing day that
    changed since the table was built: a day landed (or re-landed, which stamps a new
    `_loaded_at` on the whole day), a day held by its gate or released, a day after the run
    date (a backfill as of an earlier day). Each row keeps its day's `_loaded_at` as
    `loaded_at`, so "changed" is a comparison of one value per day. The keys such days hold now
    or held before are deleted from the table (pre-hook) and their winners recomputed from
    every landed day; every other row stays as it is.

    On Spark (Parquet: no delete) the table is partitioned by landed_date and a build
    overwrites whole partitions instead: every landing day that changed, held a changed key's
    row or holds one now. The partitions are dropped first (a day left with no rows must go),
    the keys with a row in any of them recomputed, and only the winners that fall in those
    days written back (insert_overwrite); the other days stay as they are.
-#}

{#- The models' incremental config: delete+insert on `unique_key`, or on Spark the
    insert_overwrite of the landing days. -#}
{% macro landing_incremental_strategy() -%}
    {{ return('insert_overwrite' if target.type == 'spark' else 'delete+insert') }}
{%- endmacro %}

{% macro landing_partition_by() -%}
    {{ return(['landed_date'] if target.type == 'spark' else none) }}
{%- endmacro %}

{#- The landing days a build recomputes, and the keys it deletes (a temporary table). -#}
{% macro changed_days_sql(relation, gate, raw_key, model_key) -%}
        with landed as (
            {{ landed_by_run_date(relation, gate) }}
        ),
        landed_days as (
            select _partition_date as landed_date, max(_loaded_at) as loaded_at
            from landed
            group by _partition_date
        ),
        built_days as (
            select landed_date, max(loaded_at) as loaded_at
            from {{ this }}
            group by landed_date
        ),
        changed_days as (
            select coalesce(l.landed_date, b.landed_date) as landed_date
            from landed_days l
            full outer join built_days b on l.landed_date = b.landed_date
            where l.loaded_at is null or b.loaded_at is null or l.loaded_at <> b.loaded_at
        ),
        changed_keys as (
            select {{ model_key }} as changed_key from {{ this }}
            where landed_date in (select landed_date from changed_days)
            union
            select {{ raw_key }} from landed
            where _partition_date in (select landed_date from changed_days)
        )
{%- endmacro %}

{% macro changed_landing_keys(relation, gate, raw_key, model_key, temp_name) -%}
    {%- if is_incremental() -%}
        {{ return(adapter.dispatch('changed_landing_keys', 'lifecycle')(
            relation, gate, raw_key, model_key, temp_name)) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro default__changed_landing_keys(relation, gate, raw_key, model_key, temp_name) -%}
    create temporary table {{ temp_name }} as
    {{ changed_days_sql(relation, gate, raw_key, model_key) }}
    select changed_key from changed_keys
{%- endmacro %}

{#- On Spark: `<temp_name>_days` the days to rewrite, `<temp_name>` every key with a row in
    one of them (tables in the model's schema: a temporary view would be read again after
    the partitions it reads are dropped). -#}
{% macro spark__changed_landing_keys(relation, gate, raw_key, model_key, temp_name) -%}
    {%- set days_sql -%}
        create table {{ spark_temp_table(temp_name ~ '_days') }} using parquet as
        {{ changed_days_sql(relation, gate, raw_key, model_key) }}
        select landed_date as changed_day from changed_days
        union
        select landed_date from {{ this }}
        where {{ model_key }} in (select changed_key from changed_keys)
        union
        select _partition_date from landed
        where {{ raw_key }} in (select changed_key from changed_keys)
    {%- endset -%}
    {%- do run_query(days_sql) -%}
    create table {{ spark_temp_table(temp_name) }} using parquet as
    select distinct {{ raw_key }} as changed_key
    from ({{ landed_by_run_date(relation, gate) }}) landed
    where _partition_date in (select changed_day from {{ spark_temp_table(temp_name ~ '_days') }})
{%- endmacro %}

{% macro spark_temp_table(temp_name) -%}
    {{ this.schema }}.{{ temp_name }}
{%- endmacro %}

{% macro drop_temp_table(temp_name) -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif target.type == 'spark' -%}
        {%- do run_query('drop table if exists ' ~ spark_temp_table(temp_name ~ '_days')) -%}
        drop table if exists {{ spark_temp_table(temp_name) }}
    {%- else -%}
        drop table if exists {{ temp_name }}
    {%- endif -%}
{%- endmacro %}

{#- The temporary table's name as the model reads it. -#}
{% macro changed_keys_table(temp_name) -%}
    {{ spark_temp_table(temp_name) if target.type == 'spark' else temp_name }}
{%- endmacro %}

{% macro delete_changed_keys(column, temp_name) -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif target.type == 'spark' -%}
        {%- set days = run_query(
            'select changed_day from ' ~ spark_temp_table(temp_name ~ '_days')
            ~ ' where changed_day is not null order by 1').columns[0].values() -%}
        {%- if days | length == 0 -%}
            select 1
        {%- else -%}
            alter table {{ this }} drop if exists
            {%- for day in days %} partition (landed_date = '{{ day }}'){{ ',' if not loop.last }}{% endfor %}
        {%- endif -%}
    {%- else -%}
        delete from {{ this }}
        where {{ column }} in (select changed_key from {{ temp_name }})
    {%- endif -%}
{%- endmacro %}

{#- On Spark, the winners a build writes back: those in the days it rewrites. -#}
{% macro changed_days_only(temp_name) -%}
    {%- if is_incremental() and target.type == 'spark' %}
where landed_date in (select changed_day from {{ spark_temp_table(temp_name ~ '_days') }})
    {%- endif -%}
{%- endmacro %}
