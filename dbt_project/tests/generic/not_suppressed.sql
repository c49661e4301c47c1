{#- Fails with every row whose address is on the global suppression list or the group's
    (asm_group_id; by default the audiences' unsubscribe group, var audience_asm_group_id). -#}
{% test not_suppressed(model, column_name, asm_group_id=none) %}
{%- set group = asm_group_id if asm_group_id not in (none, '', 'None') else var('audience_asm_group_id', none) -%}
select m.{{ column_name }}
from {{ model }} m
join {{ ref('suppressions') }} s on s.email = m.{{ column_name }}
where s.asm_group_id is null
    {%- if group not in (none, '', 'None') %} or s.asm_group_id = {{ group }}{% endif %}
{% endtest %}
