{#- The date of a year, month and day given as integer expressions. DuckDB, PostgreSQL and
    Spark call it make_date; Snowflake (date_from_parts), BigQuery (date) and Trino need an
    `<adapter>__date_from_parts` of their own (see the SQL portability check). -#}
{% macro date_from_parts(year, month, day) -%}
    {{ return(adapter.dispatch('date_from_parts', 'lifecycle')(year, month, day)) }}
{%- endmacro %}

{% macro default__date_from_parts(year, month, day) -%}
    make_date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}
