{#-
    Timestamps: raw sources carry ISO-8601 strings with offsets (Shopify) or epoch seconds
    (SendGrid). Staging turns both into UTC timestamps without time zone; days are counted in
    the shop's time zone. Each macro has a DuckDB and a PostgreSQL implementation.
-#}

{% macro parse_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'lifecycle')(expression)) }}
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(expression) -%}
    timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}

{% macro default__parse_utc_timestamp(expression) -%}
    (cast({{ expression }} as timestamptz) at time zone 'UTC')
{%- endmacro %}


{% macro epoch_to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('epoch_to_utc_timestamp', 'lifecycle')(expression)) }}
{%- endmacro %}

{% macro duckdb__epoch_to_utc_timestamp(expression) -%}
    timezone('UTC', to_timestamp({{ expression }}))
{%- endmacro %}

{% macro default__epoch_to_utc_timestamp(expression) -%}
    (to_timestamp({{ expression }}) at time zone 'UTC')
{%- endmacro %}


{#- The shop-local calendar day of a UTC timestamp. -#}
{% macro shop_date(utc_timestamp) -%}
    {{ return(adapter.dispatch('shop_date', 'lifecycle')(utc_timestamp)) }}
{%- endmacro %}

{% macro duckdb__shop_date(utc_timestamp) -%}
    cast(timezone('{{ var("shop_timezone") }}', timezone('UTC', {{ utc_timestamp }})) as date)
{%- endmacro %}

{% macro default__shop_date(utc_timestamp) -%}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone '{{ var("shop_timezone") }}' as date)
{%- endmacro %}
