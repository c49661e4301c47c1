{#- The text of a top-level key of a JSON text (a quarantined row's `record`), NULL when
    absent: DuckDB and PostgreSQL's ->>, Spark's get_json_object. -#}
{% macro json_text(expression, key) -%}
    {{ return(adapter.dispatch('json_text', 'lifecycle')(expression, key)) }}
{%- endmacro %}

{% macro default__json_text(expression, key) -%}
    cast({{ expression }} as json) ->> '{{ key }}'
{%- endmacro %}

{% macro spark__json_text(expression, key) -%}
    get_json_object({{ expression }}, '$.{{ key }}')
{%- endmacro %}
