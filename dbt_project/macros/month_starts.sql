{#-
    The CTE `months` (month_start): the first day of every month from the month of the
    earliest `date_column` of `relation` to the run date's. A recursive CTE where the engine
    has one; Spark has none, and a sequence of months instead.
-#}
{% macro month_starts(relation, date_column) -%}
    {{ return(adapter.dispatch('month_starts', 'lifecycle')(relation, date_column)) }}
{%- endmacro %}

{% macro default__month_starts(relation, date_column) -%}
recursive months as (
    select cast({{ dbt.date_trunc('month', 'min(' ~ date_column ~ ')') }} as date) as month_start
    from {{ relation }}
    union all
    select cast({{ dbt.dateadd('month', 1, 'month_start') }} as date)
    from months
    where {{ dbt.dateadd('month', 1, 'month_start') }} <= {{ run_date() }}
)
{%- endmacro %}

{% macro spark__month_starts(relation, date_column) -%}
months as (
    select explode(sequence(
        cast(trunc(min({{ date_column }}), 'MM') as date), {{ run_date() }}, interval 1 month
    )) as month_start
    from {{ relation }}
)
{%- endmacro %}
