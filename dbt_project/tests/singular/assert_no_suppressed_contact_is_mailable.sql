-- A returned row is a contact marked mailable although a suppression for all marketing mail
-- (unsubscribed, hard bounce, complaint, no consent) exists for them.
select l.email, s.reason
from {{ ref('customer_lifecycle') }} l
join {{ ref('suppressions') }} s on s.email = l.email and s.asm_group_id is null
where l.is_mailable
