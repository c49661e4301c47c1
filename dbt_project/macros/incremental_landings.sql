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
-#}

{% macro changed_landing_keys(relation, gate, raw_key, model_key, temp_name) -%}
    {%- if is_incremental() -%}
        create temporary table {{ temp_name }} as
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
        )
        select {{ model_key }} as changed_key from {{ this }}
        where landed_date in (select landed_date from changed_days)
        union
        select {{ raw_key }} from landed
        where _partition_date in (select landed_date from changed_days)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro drop_temp_table(temp_name) -%}
    {%- if is_incremental() -%}drop table if exists {{ temp_name }}{%- else -%}select 1{%- endif -%}
{%- endmacro %}

{% macro delete_changed_keys(column, temp_name) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ column }} in (select changed_key from {{ temp_name }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
