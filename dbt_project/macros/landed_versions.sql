{#-
    Raw tables keep every version of a record that landed, one per landing day. Staging keeps
    what had landed by the run date, and of that the latest version per key: newest update
    first, then the latest landing day, then the latest load.
-#}

{% macro landed_by_run_date(relation) -%}
    select * from {{ relation }} where _partition_date <= {{ run_date() }}
{%- endmacro %}

{% macro latest_version_rank(key, updated_at, rank_function='row_number') -%}
    {{ rank_function }}() over (
        partition by {{ key }}
        order by {{ parse_utc_timestamp(updated_at) }} desc nulls last,
            _partition_date desc,
            _loaded_at desc
    )
{%- endmacro %}
