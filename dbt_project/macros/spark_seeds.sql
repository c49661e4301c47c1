{#-
    Seeds on Spark: dbt-spark binds each value into its insert without escaping it, so a
    name with an apostrophe (Can't Lose Them) breaks the statement. Here every value is a
    literal, escaped as Spark reads string literals (backslash escapes).
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set rows = [] -%}
    {%- for row in agate_table.rows -%}
        {%- set values = [] -%}
        {%- for value in row -%}
            {%- set column = agate_table.column_names[loop.index0] -%}
            {%- set type = column_override.get(column, adapter.convert_type(agate_table, loop.index0)) -%}
            {%- if value is none -%}
                {%- do values.append('cast(null as ' ~ type ~ ')') -%}
            {%- else -%}
                {%- set text = value | string | replace('\\', '\\\\') | replace("'", "\\'") -%}
                {%- do values.append("cast('" ~ text ~ "' as " ~ type ~ ")") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do rows.append('(' ~ values | join(', ') ~ ')') -%}
    {%- endfor -%}
    {%- set sql = 'insert into ' ~ this.render() ~ ' values ' ~ rows | join(', ') -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {{ return(sql) }}
{% endmacro %}
