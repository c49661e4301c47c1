-- What each customer buys: the favourite brand and category (by spend), and a category where
-- they bought only the budget end, for up-selling. A product's tier within its category is
-- its price tercile there (Shopify line items carry no tier).
with orders as (
    select order_id, email from {{ ref('int_orders_completed') }}
),

lines as (
    select o.email, l.product_id, l.brand, l.category, l.unit_price_amount, l.line_amount
    from {{ ref('stg_shopify__order_line_items') }} l
    join orders o on o.order_id = l.order_id
),

category_prices as (
    select
        category,
        percentile_cont(1.0 / 3) within group (order by unit_price_amount) as budget_max_price,
        percentile_cont(2.0 / 3) within group (order by unit_price_amount) as premium_min_price
    from (select distinct category, product_id, unit_price_amount from lines) products
    group by category
),

spend as (
    select email, sum(line_amount) as total_spend
    from lines
    group by email
),

brands as (
    select
        email,
        brand,
        sum(line_amount) as brand_spend,
        row_number() over (partition by email order by sum(line_amount) desc, brand) as brand_rank
    from lines
    group by email, brand
),

categories as (
    select
        l.email,
        l.category,
        sum(l.line_amount) as category_spend,
        row_number() over (
            partition by l.email order by sum(l.line_amount) desc, l.category
        ) as category_rank,
        -- bool_or over a comparison: bought at the budget end, never at the premium end.
        max(case when l.unit_price_amount <= c.budget_max_price then 1 else 0 end)
            = 1 as bought_budget,
        max(case when l.unit_price_amount >= c.premium_min_price then 1 else 0 end)
            = 1 as bought_premium
    from lines l
    join category_prices c on c.category = l.category
    group by l.email, l.category
),

upsell as (
    select
        email,
        category as upsell_category,
        row_number() over (partition by email order by category_spend desc, category) as upsell_rank
    from categories
    where bought_budget and not bought_premium
),

final as (
    select
        s.email,
        b.brand as favourite_brand,
        b.brand_spend / nullif(s.total_spend, 0) as favourite_brand_share,
        c.category as favourite_category,
        u.upsell_category
    from spend s
    left join brands b on b.email = s.email and b.brand_rank = 1
    left join categories c on c.email = s.email and c.category_rank = 1
    left join upsell u on u.email = s.email and u.upsell_rank = 1
)

select * from final
