{#- The as-of day of the run: the `run_date` var, or today when it is empty. -#}
{% macro run_date() -%}
    {%- if var('run_date', '') -%}
        cast('{{ var("run_date") }}' as date)
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}
