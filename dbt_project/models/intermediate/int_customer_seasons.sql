-- Customers whose orders cluster in one season: at least `seasonal_min_share` of their
-- orders fall in the three months around their most frequent order month, over 2+ years.
-- The season starts on the first day of the month before that peak month.
{%- set this_year = 'cast(extract(year from ' ~ run_date() ~ ') as integer)' %}

with orders as (
    select
        email,
        ordered_date,
        cast(extract(month from ordered_date) as integer) as order_month,
        cast(extract(year from ordered_date) as integer) as order_year
    from {{ ref('int_orders_completed') }}
),

month_counts as (
    select email, order_month, count(*) as orders_in_month
    from orders
    group by email, order_month
),

peak as (
    select email, order_month as peak_month
    from (
        select
            email, order_month,
            row_number() over (
                partition by email order by orders_in_month desc, order_month
            ) as rn
        from month_counts
    ) ranked
    where rn = 1
),

clustered as (
    select
        o.email,
        p.peak_month,
        count(*) as order_count,
        sum(case when mod(o.order_month - p.peak_month + 12, 12) in (0, 1, 11) then 1 else 0 end)
            as orders_in_season,
        count(distinct o.order_year) as years_with_orders
    from orders o
    join peak p on p.email = o.email
    group by o.email, p.peak_month
),

seasonal as (
    select
        email,
        peak_month,
        mod(peak_month + 10, 12) + 1 as season_start_month,
        order_count,
        orders_in_season * 1.0 / order_count as season_share
    from clustered
    where order_count >= {{ var('seasonal_min_orders') }}
        and years_with_orders >= 2
        and orders_in_season * 1.0 / order_count >= {{ var('seasonal_min_share') }}
),

final as (
    select
        email,
        peak_month,
        season_start_month,
        order_count,
        season_share,
        -- The next first day of the season's start month on or after the run date.
        case
            when {{ date_from_parts(this_year, 'season_start_month', 1) }} >= {{ run_date() }}
                then {{ date_from_parts(this_year, 'season_start_month', 1) }}
            else {{ date_from_parts(this_year ~ ' + 1', 'season_start_month', 1) }}
        end as next_season_start_date
    from seasonal
)

select * from final
