{#- Shopify sends money as strings: a DECIMAL amount, NULL where the text is not a number. -#}
{% macro to_money(expression) -%}
    {{ dbt.safe_cast(expression, 'decimal(18, 2)') }}
{%- endmacro %}
