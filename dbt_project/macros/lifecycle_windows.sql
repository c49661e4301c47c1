{#- "Active within the long window": a last completed order at most lapse_days_long days
    before the day it is judged on. The one definition customer_lifecycle (long-term
    lapsed), customer_churn (past the long window) and retention_metrics_monthly (active at
    a month's start and end) share. -#}
{% macro within_long_window(days_since_last_order) -%}
    ({{ days_since_last_order }} <= {{ var('lapse_days_long') }})
{%- endmacro %}

{#- Whether a customer with an own interval is past `multiple` times it, exactly: the
    interval is span / (orders - 1), so the test is days x (orders - 1) > span x multiple,
    in whole days and decimals, with no rounding to move the boundary on any engine. -#}
{% macro past_own_interval(days_since_last_order, order_count, span_days, multiple) -%}
    ({{ days_since_last_order }} * ({{ order_count }} - 1) > {{ span_days }} * {{ multiple }})
{%- endmacro %}

{#- A window of decimal(8, 1) days as text without a needless ".0": 90.0 -> 90, 4.5 -> 4.5.
    rtrim(text, characters) as DuckDB, PostgreSQL, Snowflake, BigQuery and Trino take it (not
    standard SQL's trim(trailing ... from ...), which BigQuery lacks); Spark's two-argument
    rtrim takes its arguments the other way round: it has standard SQL's. -#}
{% macro days_text(days) -%}
    {{ return(adapter.dispatch('days_text', 'lifecycle')(days)) }}
{%- endmacro %}

{% macro spark__days_text(days) -%}
    trim(trailing '.' from trim(trailing '0' from cast({{ days }} as string)))
{%- endmacro %}

{% macro default__days_text(days) -%}
    rtrim(rtrim(cast({{ days }} as {{ dbt.type_string() }}), '0'), '.')
{%- endmacro %}
