{#-
    Whether a source table the Python steps write exists yet (the publish step's member
    failures before the first sync; the churn model's output before its first run, or in a
    warehouse the pipeline did not build). A unit test's fixture (no schema or identifier)
    stands in for it; at parse time nothing is looked up.
-#}
{% macro relation_exists(relation) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- elif relation.schema is none or relation.identifier is none -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is not none) }}
{%- endmacro %}
