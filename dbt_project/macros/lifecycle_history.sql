{#-
    The incremental path of customer_lifecycle_history. Where the engine can delete
    (DuckDB, PostgreSQL): delete+insert on (email, valid_from), after a pre-hook has deleted
    the run date's spells of an earlier run of the same date (when no later run exists).
    On Spark (Parquet: no delete, and no overwriting a table a query reads) the table as it
    was is copied aside first (`<model>__before_run`), the run's spells are computed from the
    copy, and the whole table is overwritten with them and the copy's other spells; the copy
    is dropped after.
-#}
{% macro history_incremental_strategy() -%}
    {{ return('insert_overwrite' if target.type == 'spark' else 'delete+insert') }}
{%- endmacro %}

{% macro history_before_run() -%}
    {%- if target.type == 'spark' -%}
        {{ this.schema }}.{{ this.identifier }}__before_run
    {%- else -%}
        {{ this }}
    {%- endif -%}
{%- endmacro %}

{% macro history_pre_hook() -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif target.type == 'spark' -%}
        {%- do run_query('drop table if exists ' ~ history_before_run()) -%}
        create table {{ history_before_run() }} using parquet as select * from {{ this }}
    {%- else -%}
        delete from {{ this }} where valid_from = {{ run_date() }}
            and not exists (select 1 from {{ this }} later where later.valid_from > {{ run_date() }})
    {%- endif -%}
{%- endmacro %}

{% macro history_post_hook() -%}
    {%- if is_incremental() and target.type == 'spark' -%}
        drop table if exists {{ history_before_run() }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
