{#-
    Timestamps: raw sources carry ISO-8601 strings with offsets (Shopify) or epoch seconds
    (SendGrid). Staging turns both into UTC timestamps without time zone; days are counted in
    the shop's time zone. Each macro has a DuckDB, a PostgreSQL (default) and a Spark
    implementation (the session's zone is UTC: profiles.yml).
    The loader's row rules read the same way (orchestration/ingest/rules.py): text in a
    common export format (`02/29/2024 10:00`, month first, or `2024/02/29`) is read as UTC,
    and an epoch of 10^11 or more as milliseconds. Unreadable text is NULL, never an error.
-#}

{% macro parse_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('parse_utc_timestamp', 'lifecycle')(expression)) }}
{%- endmacro %}

{% macro duckdb__parse_utc_timestamp(expression) -%}
    timezone('UTC', coalesce(
        try_cast(trim({{ expression }}) as timestamptz),
        timezone('UTC', try_strptime(trim({{ expression }}), [
            '%m/%d/%Y %H:%M:%S', '%m/%d/%Y %H:%M', '%m/%d/%Y',
            '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y/%m/%d'
        ]))
    ))
{%- endmacro %}

{% macro spark__parse_utc_timestamp(expression) -%}
    coalesce(
        cast(trim({{ expression }}) as timestamp),
        {%- for format in [
            'M/d/yyyy H:m:s', 'M/d/yyyy H:m', 'M/d/yyyy', 'yyyy/M/d H:m:s', 'yyyy/M/d H:m', 'yyyy/M/d'
        ] %}
        try_to_timestamp(trim({{ expression }}), '{{ format }}'){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro default__parse_utc_timestamp(expression) -%}
    (case
        -- to_timestamp reads the wall clock in the session's zone; back to a plain timestamp
        -- it is that wall clock again, which is UTC here.
        when trim({{ expression }}) ~ '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}'
            then cast(to_timestamp(trim({{ expression }}), 'MM/DD/YYYY HH24:MI:SS') as timestamp)
        when trim({{ expression }}) ~ '^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}'
            then cast(to_timestamp(trim({{ expression }}), 'YYYY/MM/DD HH24:MI:SS') as timestamp)
        else cast({{ expression }} as timestamptz) at time zone 'UTC'
    end)
{%- endmacro %}


{% macro epoch_to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('epoch_to_utc_timestamp', 'lifecycle')(expression)) }}
{%- endmacro %}

{% macro epoch_seconds(expression) -%}
    case when abs({{ expression }}) >= 100000000000
        then {{ expression }} / 1000.0 else {{ expression }} end
{%- endmacro %}

{% macro duckdb__epoch_to_utc_timestamp(expression) -%}
    timezone('UTC', to_timestamp({{ epoch_seconds(expression) }}))
{%- endmacro %}

{% macro spark__epoch_to_utc_timestamp(expression) -%}
    timestamp_seconds({{ epoch_seconds(expression) }})
{%- endmacro %}

{% macro default__epoch_to_utc_timestamp(expression) -%}
    (to_timestamp({{ epoch_seconds(expression) }}) at time zone 'UTC')
{%- endmacro %}


{#- The shop-local calendar day of a UTC timestamp. -#}
{% macro shop_date(utc_timestamp) -%}
    {{ return(adapter.dispatch('shop_date', 'lifecycle')(utc_timestamp)) }}
{%- endmacro %}

{% macro duckdb__shop_date(utc_timestamp) -%}
    cast(timezone('{{ var("shop_timezone") }}', timezone('UTC', {{ utc_timestamp }})) as date)
{%- endmacro %}

{% macro spark__shop_date(utc_timestamp) -%}
    cast(from_utc_timestamp({{ utc_timestamp }}, '{{ var("shop_timezone") }}') as date)
{%- endmacro %}

{% macro default__shop_date(utc_timestamp) -%}
    cast(({{ utc_timestamp }} at time zone 'UTC') at time zone '{{ var("shop_timezone") }}' as date)
{%- endmacro %}


{#- A TIMESTAMPTZ as a UTC timestamp without time zone (the staging convention). -#}
{% macro utc_of(timestamptz) -%}
    {{ return(adapter.dispatch('utc_of', 'lifecycle')(timestamptz)) }}
{%- endmacro %}

{% macro duckdb__utc_of(timestamptz) -%}
    timezone('UTC', {{ timestamptz }})
{%- endmacro %}

{% macro spark__utc_of(timestamptz) -%}
    {{ timestamptz }}
{%- endmacro %}

{% macro default__utc_of(timestamptz) -%}
    ({{ timestamptz }} at time zone 'UTC')
{%- endmacro %}


{#- Minute boundaries crossed from one timestamp to another, as dbt.datediff counts them on
    DuckDB and PostgreSQL (10:59:59 to 11:00:00 is one); dbt-spark's datediff counts whole
    minutes elapsed instead, which moves a cart step's start by up to a minute. -#}
{% macro minutes_between(first_timestamp, second_timestamp) -%}
    {{ return(adapter.dispatch('minutes_between', 'lifecycle')(first_timestamp, second_timestamp)) }}
{%- endmacro %}

{% macro default__minutes_between(first_timestamp, second_timestamp) -%}
    {{ dbt.datediff(first_timestamp, second_timestamp, 'minute') }}
{%- endmacro %}

{% macro spark__minutes_between(first_timestamp, second_timestamp) -%}
    (floor(unix_timestamp({{ second_timestamp }}) / 60) - floor(unix_timestamp({{ first_timestamp }}) / 60))
{%- endmacro %}
