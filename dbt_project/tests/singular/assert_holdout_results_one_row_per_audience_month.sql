-- A returned row is an audience and entry month read out more than once.
select audience, entry_month, count(*) as rows_read_out
from {{ ref('holdout_results') }}
group by audience, entry_month
having count(*) > 1
