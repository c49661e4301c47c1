{#- DuckDB's memory limit and threads for dbt's connection, the same as the pipeline's own:
    Dagster passes its settings as the vars `duckdb_memory_limit` and `duckdb_threads`; dbt run
    by hand reads LIFECYCLE_DUCKDB_MEMORY_LIMIT and LIFECYCLE_DUCKDB_THREADS. Unset, DuckDB
    keeps its own defaults (80% of the machine's memory, one thread per core). -#}
{% macro duckdb_settings() %}
    {%- if target.type != 'duckdb' -%}
        select 1
    {%- else -%}
        {%- set memory = var('duckdb_memory_limit', env_var('LIFECYCLE_DUCKDB_MEMORY_LIMIT', '')) | string | trim -%}
        {%- set threads = var('duckdb_threads', env_var('LIFECYCLE_DUCKDB_THREADS', '')) | string | trim -%}
        {%- if memory %}set memory_limit = '{{ memory | replace("'", "") }}';{% endif %}
        {%- if threads and threads != '0' %} set threads = {{ threads | int }};{% endif %}
        {%- if not memory and not (threads and threads != '0') %}select 1{% endif %}
    {%- endif -%}
{% endmacro %}
