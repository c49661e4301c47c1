-- RFM scores per customer as of the run date.
-- Scores are quintiles by rank: score = 1 + floor(5 * (rank - 1) / customers), where tied
-- values share the lowest rank, so equal values always get equal scores (many one-order
-- customers all score 1 on frequency, and a quintile may hold more or fewer than 20%).
with customers as (
    select * from {{ ref('int_customers_summarized') }}
),

segments as (
    select * from {{ ref('rfm_segments') }}
),

ranked as (
    select
        *,
        rank() over (order by days_since_last_order desc) as recency_rank,
        rank() over (order by order_count) as frequency_rank,
        rank() over (order by net_revenue_amount) as monetary_rank,
        count(*) over () as customer_count
    from customers
),

scored as (
    select
        *,
        1 + cast(floor(5.0 * (recency_rank - 1) / customer_count) as integer) as recency_score,
        1 + cast(floor(5.0 * (frequency_rank - 1) / customer_count) as integer) as frequency_score,
        1 + cast(floor(5.0 * (monetary_rank - 1) / customer_count) as integer) as monetary_score
    from ranked
),

valued as (
    select
        *,
        recency_score + frequency_score + monetary_score as rfm_score,
        cast(floor((frequency_score + monetary_score) / 2.0 + 0.5) as integer)
            as frequency_monetary_score,
        (frequency_score + monetary_score) / 2.0 as current_value_score,
        recency_score as potential_value_score
    from scored
),

value_ranked as (
    select
        *,
        -- Ties on the RFM score are broken by revenue, then by e-mail for a stable order.
        row_number() over (order by rfm_score desc, net_revenue_amount desc, email)
            as value_rank_desc,
        row_number() over (order by rfm_score, net_revenue_amount, email) as value_rank_asc
    from valued
),

final as (
    select
        v.email,
        v.customer_id,
        v.days_since_last_order as recency_days,
        v.order_count as frequency_orders,
        v.net_revenue_amount as monetary_amount,
        v.recency_score,
        v.frequency_score,
        v.monetary_score,
        {{ dbt.concat([
            "cast(v.recency_score as " ~ dbt.type_string() ~ ")",
            "cast(v.frequency_score as " ~ dbt.type_string() ~ ")",
            "cast(v.monetary_score as " ~ dbt.type_string() ~ ")",
        ]) }} as rfm_cell,
        v.rfm_score,
        s.segment as rfm_segment,
        v.current_value_score,
        v.potential_value_score,
        -- Both shares round half up, the same way.
        v.value_rank_desc <= floor({{ var('vip_share') }} * v.customer_count + 0.5) as is_vip,
        v.value_rank_asc <= floor({{ var('bottom_share') }} * v.customer_count + 0.5)
            as is_bottom_20,
        v.first_order_date,
        v.last_order_date,
        {{ run_date() }} as run_date
    from value_ranked v
    left join segments s
        on s.recency_score = v.recency_score
        and s.frequency_monetary_score = v.frequency_monetary_score
)

select * from final
