{#-
    On Spark the sources are external tables over the lake (orchestration/ingest/raw_zone.py
    and lake_catalog.py write it): before a run, every source table the lake's catalog lists
    is registered again over its folder (its schema read from the Parquet files; a raw table's
    landing days found as its partitions), and every other source table is dropped, so that a
    table the warehouse does not have yet is absent here too. Dropping an external table
    leaves its files. The lake is the `lake_dir` var (Dagster passes LIFECYCLE_LAKE_DIR, made
    absolute) or LIFECYCLE_LAKE_DIR: a folder, or a bucket URI the cluster can read.
    Other engines read the warehouse's own tables: nothing to do.
-#}
{% macro lake_tables() -%}
    {%- if target.type != 'spark' or not execute -%}
        select 1
    {%- else -%}
        {%- set lake = var('lake_dir', env_var('LIFECYCLE_LAKE_DIR', '../data/lake')) | string | trim -%}
        {%- set listed = run_query(
            "select table_schema, table_name, location, partitioned from parquet.`"
            ~ lake ~ "/catalog`") -%}
        {%- set catalog = {} -%}
        {%- for row in listed.rows -%}
            {%- do catalog.update({row[0] ~ '.' ~ row[1]: row}) -%}
        {%- endfor -%}
        {%- set sources = graph.sources.values() | sort(attribute='unique_id') -%}
        {%- for schema in sources | map(attribute='schema') | unique -%}
            {%- do run_query('create schema if not exists ' ~ schema) -%}
        {%- endfor -%}
        {%- for source in sources -%}
            {%- set name = source.schema ~ '.' ~ source.identifier -%}
            {%- do run_query('drop table if exists ' ~ name) -%}
            {%- if name in catalog -%}
                {%- set entry = catalog[name] -%}
                {%- do run_query(
                    'create table ' ~ name ~ " using parquet location '" ~ entry[2] ~ "'") -%}
                {#- Creating the table does not register every landing day: repair does. -#}
                {%- if entry[3] -%}
                    {%- do run_query('msck repair table ' ~ name ~ ' sync partitions') -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        select 1
    {%- endif -%}
{%- endmacro %}
