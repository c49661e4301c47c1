{#- A double-precision float: PostgreSQL and DuckDB call it `double precision`, Spark
    `double` (dbt.type_float() is single precision on DuckDB and Spark). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'lifecycle')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
