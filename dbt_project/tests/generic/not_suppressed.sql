{#- Fails with every row whose address is on the global suppression list (or the group's). -#}
{% test not_suppressed(model, column_name, asm_group_id=none) %}
select m.{{ column_name }}
from {{ model }} m
join {{ ref('suppressions') }} s on s.email = m.{{ column_name }}
where s.asm_group_id is null
    {%- if asm_group_id not in (none, '', 'None') %} or s.asm_group_id = {{ asm_group_id }}{% endif %}
{% endtest %}
