{#-
    Landed text is cast safely: a value that is not of the type becomes NULL, and a test or
    a row rule reports it, instead of failing the whole build (and every later one) on one bad
    row. dbt's default safe_cast is a plain cast; on DuckDB it is try_cast here (dbt_project.yml
    puts this project first in dbt's dispatch search order). PostgreSQL has no try_cast: the
    loader's row rules keep unreadable amounts out of the raw tables.
-#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}
