{#-
    Audiences: each `aud_<name>` model selects who is eligible and why (`email`, `reason`) and
    ends with `audience_members('eligible')`, which adds the personalisation attributes, drops
    everyone who must not be mailed and flags the holdout. Its publishing settings live in the
    model's `meta.audience`: kind (`segment`: a standing list campaigns are sent to, which may
    overlap others; `series`: entering it starts a message series, capped across series by
    priority), list_name, holdout_share, priority, max_change_share, cadence, exclusions (rule
    name -> the rule in words: what keeps contradictory messages apart; `eligible` names the
    rule a contact falls under in its column `excluded_by`) and asm_group_id: the unsubscribe
    group its mail is sent under.

    Who the rule found but the audience leaves out is recorded, not lost: a post-hook writes
    them to `dropped_members` (audience, email, dropped_by: `suppressed`, `no_consent`,
    `unknown_contact` or `excluded: <rule>`), which the publish step's funnel reads. The hook
    re-runs this model's own compiled SQL up to the marker before its last select, so the
    drops and the members come from one definition. An audience may carry
    attributes of its own (`meta.audience.attributes`: column -> type), selected by
    `eligible` and published with the shared ones; `holdout_key` lets the steps of one series
    share their holdout; `frequency_capped: false` leaves a series out of the cross-audience
    cap (the cart steps: their own cadence).
-#}

{#- The model's `meta.audience` (known once the project is parsed; empty while parsing). -#}
{% macro audience_settings() -%}
    {%- if not execute -%}{{ return({}) }}{%- endif -%}
    {{ return(model.config.get('meta', {}).get('audience', {})) }}
{%- endmacro %}

{#- A stable bucket 0..9999 of a text: the same contact and key always land in the same one. -#}
{% macro hash_bucket(expression) -%}
    {{ return(adapter.dispatch('hash_bucket', 'lifecycle')(expression)) }}
{%- endmacro %}

{% macro duckdb__hash_bucket(expression) -%}
    (cast('0x' || substr(md5({{ expression }}), 1, 7) as integer) % 10000)
{%- endmacro %}

{% macro spark__hash_bucket(expression) -%}
    (cast(conv(substr(md5({{ expression }}), 1, 7), 16, 10) as int) % 10000)
{%- endmacro %}

{% macro default__hash_bucket(expression) -%}
    (cast(cast('x' || substr(md5({{ expression }}), 1, 7) as bit(28)) as integer) % 10000)
{%- endmacro %}

{#- Ends the last CTE of an audience: what follows it selects the members. -#}
{% macro audience_members_marker() -%}
-- audience_members: the members of the candidates
{%- endmacro %}

{#- `with_exclusions`: `eligible` has a column `excluded_by` (the name of one of the
    audience's meta.audience.exclusions, or null). An argument, not read from the meta, which
    a dbt unit test does not see. -#}
{% macro audience_members(eligible, with_exclusions=false) -%}
    {%- set settings = audience_settings() -%}
    {%- set share = settings.get('holdout_share', var('audience_holdout_share')) -%}
    {%- set holdout_key = settings.get('holdout_key', model.name) -%}
    {%- set group = settings.get('asm_group_id', var('audience_asm_group_id')) -%}
    {{ config(post_hook=["{{ record_dropped_members() }}"]) }}
    -- depends_on: {{ ref('dropped_members') }}
, profile as (
    select * from {{ ref('customer_lifecycle') }}
),

preferences as (
    select * from {{ ref('int_customer_preferences') }}
),

suppressed as (
    select distinct email from {{ ref('suppressions') }}
    where asm_group_id is null
    {%- if group is not none %} or asm_group_id = {{ group }}{% endif %}
),

candidates as (
    select
        e.email,
        p.customer_id,
        p.first_name,
        p.lifecycle_stage,
        p.rfm_segment,
        p.is_vip,
        pr.favourite_brand,
        pr.favourite_category,
        p.order_count,
        p.last_order_date,
        p.first_order_date,
        e.reason,
        {%- for column in settings.get('attributes', {}) %}
        e.{{ column }},
        {%- endfor %}
        {{ hash_bucket(dbt.concat(["e.email", "':'", "'" ~ holdout_key ~ "'"])) }}
            < {{ (share * 10000) | round | int }} as is_holdout,
        {{ run_date() }} as run_date,
        {{ run_at() }} as as_of,
        -- The first reason that keeps the contact out, consent first. Defence in depth: the
        -- suppression list is applied here besides customer_lifecycle's is_mailable, and
        -- once more at publish time.
        case
            when p.email is null then 'unknown_contact'
            when s.email is not null then 'suppressed'
            when not p.is_mailable then 'no_consent'
            {%- if with_exclusions %}
            when e.excluded_by is not null then 'excluded: ' || e.excluded_by
            {%- endif %}
        end as dropped_by
    from {{ eligible }} e
    left join profile p on p.email = e.email
    left join preferences pr on pr.email = e.email
    left join suppressed s on s.email = e.email
)
{{ audience_members_marker() }}
select
    '{{ model.name }}' as audience,
    {%- for column in audience_member_columns() + (settings.get('attributes', {}) | list) %}
    {{ column }},
    {%- endfor %}
    is_holdout,
    run_date,
    as_of
from candidates
where dropped_by is null
{%- endmacro %}

{#- The columns every audience shares, before its own attributes. -#}
{% macro audience_member_columns() -%}
    {{ return([
        'email', 'customer_id', 'first_name', 'lifecycle_stage', 'rfm_segment', 'is_vip',
        'favourite_brand', 'favourite_category', 'order_count', 'last_order_date',
        'first_order_date', 'reason',
    ]) }}
{%- endmacro %}

{#-
    The post-hook of every audience: its candidates that the audience leaves out, with the
    first reason, replace the audience's rows of `dropped_members`. The candidates are this
    model's own compiled SQL up to the marker (its CTEs), so nothing is defined twice.
-#}
{% macro record_dropped_members() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set marker = audience_members_marker() | trim -%}
    {{ return(adapter.dispatch('record_dropped_members', 'lifecycle')(
        model.compiled_code.split(marker)[0], ref('dropped_members'))) }}
{%- endmacro %}

{#- Spark (Parquet) has no delete: `dropped_members` is partitioned by audience there, and
    the hook overwrites the audience's partition. -#}
{% macro spark__record_dropped_members(ctes, dropped) -%}
    {{ ctes }}
    insert overwrite table {{ dropped }} partition (audience = '{{ model.name }}')
    select email, dropped_by, reason, run_date
    from candidates
    where dropped_by is not null
{%- endmacro %}

{% macro default__record_dropped_members(ctes, dropped) -%}
    delete from {{ dropped }} where audience = '{{ model.name }}';
    insert into {{ dropped }} (audience, email, dropped_by, reason, run_date)
    {{ ctes }}
    select '{{ model.name }}', email, dropped_by, reason, run_date
    from candidates
    where dropped_by is not null
{%- endmacro %}

{#-
    The publishing settings the cart-abandonment steps share (their meta.audience): one
    holdout for the whole series, top priority, out of the cross-audience frequency cap
    (the series is its own cadence), full turnover allowed, and the checkout as attributes.
-#}
{% macro cart_abandonment_settings(list_name) -%}
    {{ return({
        'kind': 'series',
        'list_name': list_name,
        'holdout_share': 0.1,
        'holdout_key': 'cart_abandonment',
        'priority': 100,
        'max_change_share': 3.0,
        'cadence': 'every 15 minutes',
        'frequency_capped': false,
        'attributes': {
            'checkout_url': 'VARCHAR',
            'cart_total': 'DECIMAL(18,2)',
            'cart_currency': 'VARCHAR',
            'cart_item_count': 'BIGINT',
            'abandoned_at': 'TIMESTAMP',
        },
    }) }}
{%- endmacro %}

{#-
    The contacts due for one step of the cart-abandonment series (int_abandoned_checkouts),
    with the checkout to bring them back to: the `eligible` of the aud_cart_abandonment_* models.
-#}
{% macro cart_abandonment_eligible(step) -%}
    select
        email,
        'step {{ step }}: checkout left unfinished at '
            || cast(abandoned_at as {{ dbt.type_string() }}) || ' UTC' as reason,
        checkout_url,
        cart_total,
        cart_currency,
        cart_item_count,
        abandoned_at
    from {{ ref('int_abandoned_checkouts') }}
    where series_step = {{ step }}
{%- endmacro %}
