{#- E-mail addresses join contacts, customers and events: trimmed and lower-cased. -#}
{% macro normalize_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}

{#- A plausible address: one @, something before it, a dot in the domain, no spaces. -#}
{% macro is_valid_email(expression) -%}
    {{ return(adapter.dispatch('is_valid_email', 'lifecycle')(expression)) }}
{%- endmacro %}

{% macro duckdb__is_valid_email(expression) -%}
    coalesce(regexp_full_match({{ expression }}, '[^@\s]+@[^@\s]+\.[^@\s]+'), false)
{%- endmacro %}

{#- Spark reads backslashes in a string literal as escapes: doubled, they reach the regex. -#}
{% macro spark__is_valid_email(expression) -%}
    coalesce({{ expression }} rlike '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$', false)
{%- endmacro %}

{% macro default__is_valid_email(expression) -%}
    coalesce({{ expression }} ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$', false)
{%- endmacro %}

{#- The address of a Shopify order or checkout: its own `email` when well-formed, else its
    customer's (the ingest row rules check the same one: orchestration/ingest/rules.py). -#}
{% macro shopify_email(email, customer_email) -%}
    case when {{ is_valid_email('trim(' ~ email ~ ')') }} then {{ email }}
        else coalesce({{ customer_email }}, {{ email }}) end
{%- endmacro %}
