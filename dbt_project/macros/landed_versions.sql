{#-
    Raw tables keep every version of a record that landed, one per landing day. Staging keeps
    what had landed by the run date, and of that the latest version per key: newest update
    first, then the latest landing day, then the latest load.
-#}

{#-
    Partitions whose latest quality gate failed (`quality.held_partitions`, written by the
    Dagster checks) are held out until a re-run passes, so a bad day never reaches a model in
    a later run either. `gate` names the gated source (line items follow their order or
    checkout). The view is a declared source, so the gate -> staging edge shows in the
    lineage; without it (a warehouse the pipeline did not load), nothing is held.
-#}
{% macro landed_by_run_date(relation, gate) -%}
    {%- set holds = source('quality', 'held_partitions') -%}
    {%- set held = none -%}
    {%- if execute and var('apply_quality_holds') -%}
        {%- set held = adapter.get_relation(
            database=holds.database, schema=holds.schema, identifier=holds.identifier) -%}
    {%- endif %}
    select * from {{ relation }}
    where _partition_date <= {{ run_date() }}
    {%- if held is not none %}
        and _partition_date not in (
            select partition_date from {{ held }} where table_name = '{{ gate }}'
        )
    {%- endif %}
{%- endmacro %}

{% macro latest_version_rank(key, updated_at, rank_function='row_number') -%}
    {{ rank_function }}() over (
        partition by {{ key }}
        order by {{ parse_utc_timestamp(updated_at) }} desc nulls last,
            _partition_date desc,
            _loaded_at desc
    )
{%- endmacro %}
