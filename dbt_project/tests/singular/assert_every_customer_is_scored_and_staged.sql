-- A returned row is a customer with completed orders who has no RFM score, or is staged as a
-- prospect, or a contact of the lifecycle mart that is missing from the contact list.
select c.email, 'no rfm score' as problem
from {{ ref('int_customers_summarized') }} c
left join {{ ref('customer_rfm') }} r on r.email = c.email
where r.email is null
union all
select l.email, 'customer staged as prospect'
from {{ ref('customer_lifecycle') }} l
join {{ ref('int_customers_summarized') }} c on c.email = l.email
where l.lifecycle_stage = 'prospect'
union all
select u.email, 'contact without a stage'
from {{ ref('int_contacts_unified') }} u
left join {{ ref('customer_lifecycle') }} l on l.email = u.email
where l.email is null
