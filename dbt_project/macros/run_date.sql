{#- The as-of day of the run: the `run_date` var, or today in the shop's zone when it is
    empty (a dbt command run by hand). -#}
{% macro run_date() -%}
    {%- if var('run_date', '') -%}
        cast('{{ var("run_date") }}' as date)
    {%- else -%}
        {{ adapter.dispatch('shop_today', 'lifecycle')() }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__shop_today() -%}
    cast(timezone('{{ var("shop_timezone") }}', now()) as date)
{%- endmacro %}

{% macro spark__shop_today() -%}
    cast(from_utc_timestamp(current_timestamp(), '{{ var("shop_timezone") }}') as date)
{%- endmacro %}

{% macro default__shop_today() -%}
    cast(now() at time zone '{{ var("shop_timezone") }}' as date)
{%- endmacro %}

{#-
    The as-of moment of the run, a UTC timestamp: the `run_at` var, or now when it is empty.
    Dagster passes the end of the run date in the shop's zone, or now if that is earlier, so a
    backfilled day is judged as of its own end and today's runs as of the moment they run.
-#}
{% macro run_at() -%}
    {%- if var('run_at', '') -%}
        cast('{{ var("run_at") }}' as timestamp)
    {%- else -%}
        {{ adapter.dispatch('utc_now', 'lifecycle')() }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    timezone('UTC', now())
{%- endmacro %}

{% macro spark__utc_now() -%}
    current_timestamp()
{%- endmacro %}

{% macro default__utc_now() -%}
    (now() at time zone 'UTC')
{%- endmacro %}
